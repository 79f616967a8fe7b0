package drill

import (
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
