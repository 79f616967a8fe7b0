package drill

import (
	"slices"
	"strings"
	"testing"
)

// The comparison the drills rest on: it must see every difference but a decaying score's last
// digits.
func TestDiff(t *testing.T) {
	codes := map[string]string{"ANNA-7KQ2XH": "<code of anna/ambassador>"}
	line := func(m map[string]any) string {
		l, _ := normalize("CustomersTable", m, codes)
		return l
	}
	base := map[string]any{"customer_id": "c1", "sk": "PROFILE", "n": 3.0, "sc": 41.2345, "seg": "ambassador", "v": 7.0, "rb": "ANNA-7KQ2XH"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	clean := Snapshot{"CustomersTable": {line(base)}}
	for _, tc := range []struct {
		name  string
		item  map[string]any
		diffs int
	}{
		{"same", base, 0},
		{"score decayed a little", with("sc", 41.2101), 0},
		{"version differs (bookkeeping)", with("v", 9.0), 0},
		{"score off by 1%", with("sc", 40.8), 2},
		{"count differs", with("n", 4.0), 2},
		{"segment differs", with("seg", "opportunist"), 2},
		{"attribute missing", with("seg", nil), 2},
		{"referrer differs", with("rb", "MARCO-1"), 2},
	} {
		got := Diff(clean, Snapshot{"CustomersTable": {line(tc.item)}})
		if len(got) != tc.diffs {
			t.Errorf("%s: %d differences, want %d:\n%s", tc.name, len(got), tc.diffs, strings.Join(got, "\n"))
		}
	}
	// A small score decayed across its rounding step (0.1) between runs: equal; two steps: not.
	small := Snapshot{"CustomersTable": {line(with("sc", 11.2))}}
	if got := Diff(small, Snapshot{"CustomersTable": {line(with("sc", 11.1))}}); len(got) != 0 {
		t.Errorf("one rounding step: %v", got)
	}
	if got := Diff(small, Snapshot{"CustomersTable": {line(with("sc", 11.0))}}); len(got) != 2 {
		t.Errorf("two rounding steps: %v", got)
	}
	if !strings.Contains(line(base), "<code of anna/ambassador>") {
		t.Errorf("codes are not named by owner: %s", line(base))
	}
	if d := Diff(clean, Snapshot{"CustomersTable": {line(base), line(base)}}); len(d) != 1 {
		t.Errorf("a duplicated item: %v", d)
	}
	if l, keep := normalize("CustomersTable", map[string]any{"customer_id": "c1", "sk": "SEG#1795000000#x"}, nil); keep {
		t.Errorf("segment history kept: %s", l)
	}
}

// The segment counters are compared summed per segment and sub-segment, and checked against
// the profiles in each run: a counter moved twice (or not at all) is a difference.
func TestSegmentCounterLines(t *testing.T) {
	profiles := []map[string]any{
		{"customer_id": "c1", "sk": "PROFILE", "seg": "ambassador", "sub": []string{"best_buyer"}},
		{"customer_id": "c2", "sk": "PROFILE", "seg": "ambassador"},
		{"customer_id": "c3", "sk": "PROFILE", "seg": "opportunist"},
		{"customer_id": "c4", "sk": "PROFILE"}, // not segmented
		{"customer_id": "c1", "sk": "SEG#1795000000#x", "seg": "ambassador"},
	}
	counters := func(ambShard2 float64) []map[string]any {
		return []map[string]any{
			{"pk": "SEG#ambassador#03", "sk": "N", "n": 1.0, "sub_best_buyer": 1.0},
			{"pk": "SEG#ambassador#07", "sk": "N", "n": ambShard2, "sub_lapsed": 0.0},
			{"pk": "SEG#opportunist#03", "sk": "N", "n": 1.0},
			{"pk": "SEG#future_ambassador#01", "sk": "N", "n": 0.0}, // a customer passed through
			{"pk": "FUNNEL#ambassador#shares#1", "sk": "N", "n": 4.0},
		}
	}
	snap := func(stats []map[string]any) Snapshot {
		return Snapshot{"StatsTable": segmentCounterLines(stats, profiles)}
	}
	clean := snap(counters(1))
	if !slices.Contains(clean["StatsTable"], countersExact) || len(clean["StatsTable"]) != 4 {
		t.Fatalf("clean lines: %q", clean["StatsTable"])
	}
	// Spread over other shards, with zeros left behind: the same.
	moved := counters(1)
	moved[1]["pk"] = "SEG#ambassador#11"
	moved = append(moved, map[string]any{"pk": "SEG#opportunist#09", "sk": "N", "n": 0.0, "sub_lapsed": 0.0})
	if d := Diff(clean, snap(moved)); len(d) != 0 {
		t.Errorf("same sums, other shards: %v", d)
	}
	// One customer counted twice: both the sum and the check against the profiles differ.
	d := Diff(clean, snap(counters(2)))
	if len(d) != 4 || !strings.Contains(strings.Join(d, "\n"), "ambassador counted 3, 2 profiles") {
		t.Errorf("a double count: %d differences:\n%s", len(d), strings.Join(d, "\n"))
	}
}
