package segment_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// persona is one events/scenarios fixture.
type persona struct {
	Name             string            `json:"name"`
	Description      string            `json:"description"`
	Now              time.Time         `json:"now"`
	Interactions     []json.RawMessage `json:"interactions"`
	ReferralActivity []struct {
		Type string    `json:"type"`
		At   time.Time `json:"at"`
	} `json:"referral_activity"`
	Expect struct {
		Segment     string   `json:"segment"`
		SubSegments []string `json:"sub_segments"`
		Program     string   `json:"program"`
		MinScore    *float64 `json:"min_score"`
		MaxScore    *float64 `json:"max_score"`
	} `json:"expect"`
}

func loadPersonas(t testing.TB) map[string]persona {
	t.Helper()
	files, err := filepath.Glob("../../events/scenarios/*.json")
	if err != nil || len(files) < 10 {
		t.Fatalf("persona fixtures: %v (%d files)", err, len(files))
	}
	out := map[string]persona{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		var p persona
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = p
	}
	return out
}

// parse validates the persona's interactions as POST /v1/interactions would, in batches.
func (p persona) parse(t testing.TB) []interaction.Interaction {
	t.Helper()
	var out []interaction.Interaction
	for i := 0; i < len(p.Interactions); i += interaction.MaxBatch {
		batch := p.Interactions[i:min(i+interaction.MaxBatch, len(p.Interactions))]
		body, _ := json.Marshal(map[string]any{"interactions": batch})
		ins, err := interaction.Parse(body, p.Now)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		out = append(out, ins...)
	}
	return out
}

// build applies the interactions and referral activity in the given order.
func (p persona) build(t testing.TB, ins []interaction.Interaction) (*aggregate.Customer, *scoring.Signals) {
	t.Helper()
	c := aggregate.New(ins[0].CustomerID)
	var s scoring.Signals
	for _, in := range ins {
		c.Apply(in)
		s.Observe(in)
	}
	for _, a := range p.ReferralActivity {
		switch a.Type {
		case "click":
			s.ObserveReferralClick(a.At)
		case "signup":
			s.ObserveReferralSignup(a.At)
		case "successful_referral":
			s.ObserveSuccessfulReferral(a.At)
		default:
			t.Fatalf("%s: referral activity type %q", p.Name, a.Type)
		}
	}
	return c, &s
}

func TestPersonas(t *testing.T) {
	ev := evaluator(t, "")
	for file, p := range loadPersonas(t) {
		t.Run(file, func(t *testing.T) {
			if p.Name == "" || len(p.Description) < 40 || p.Now.IsZero() {
				t.Fatalf("fixture needs a name, a description citing the domain text, and now")
			}
			ins := p.parse(t)
			c, s := p.build(t, ins)
			r := ev.Evaluate(c, s, p.Now)
			t.Logf("%s: %s %v score %.1f %v next review %v\n  %s", p.Name, r.Segment, r.SubSegments, r.Score, r.Breakdown, ev.NextReview(c, s, p.Now), strings.Join(r.Reasons, "\n  "))
			if r.Segment != p.Expect.Segment || r.Program != p.Expect.Program || !reflect.DeepEqual(r.SubSegments, append([]string{}, p.Expect.SubSegments...)) {
				t.Errorf("got %s %v %s, want %s %v %s", r.Segment, r.SubSegments, r.Program, p.Expect.Segment, p.Expect.SubSegments, p.Expect.Program)
			}
			if p.Expect.MinScore != nil && r.Score < *p.Expect.MinScore || p.Expect.MaxScore != nil && r.Score > *p.Expect.MaxScore {
				t.Errorf("score %.1f outside the expected range", r.Score)
			}
			checkBreakdown(t, r)
			if len(r.Reasons) == 0 {
				t.Error("no reasons")
			}
			// Delivery order changes nothing.
			shuffled := append([]interaction.Interaction(nil), ins...)
			rand.New(rand.NewPCG(5, 6)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			c2, s2 := p.build(t, shuffled)
			if r2 := ev.Evaluate(c2, s2, p.Now); !reflect.DeepEqual(r, r2) || !reflect.DeepEqual(s, s2) {
				t.Errorf("shuffled delivery gives %+v", r2)
			}
			checkNextReview(t, ev, c, s, p.Now)
		})
	}
}

func checkBreakdown(t *testing.T, r segment.Result) {
	t.Helper()
	sum := 0
	for _, v := range r.Breakdown {
		sum += int(math.Round(v * 10))
	}
	if sum != int(math.Round(r.Score*10)) {
		t.Errorf("breakdown %v sums to %d tenths, score %.1f", r.Breakdown, sum, r.Score)
	}
}

// checkNextReview asserts that the result changes at NextReview and not a second before.
func checkNextReview(t *testing.T, ev *segment.Evaluator, c *aggregate.Customer, s *scoring.Signals, now time.Time) {
	t.Helper()
	next := ev.NextReview(c, s, now)
	base := ev.Evaluate(c, s, now)
	if next.IsZero() {
		for _, d := range []time.Duration{24 * time.Hour, 400 * 24 * time.Hour, 5 * 365 * 24 * time.Hour} {
			if r := ev.Evaluate(c, s, now.Add(d)); !sameSegments(r, base) {
				t.Errorf("NextReview is zero but after %v: %s %v", d, r.Segment, r.SubSegments)
			}
		}
		return
	}
	if !next.After(now) {
		t.Fatalf("NextReview %v not after now %v", next, now)
	}
	before, at := ev.Evaluate(c, s, next.Add(-time.Second)), ev.Evaluate(c, s, next)
	if !sameSegments(before, base) || sameSegments(at, base) {
		t.Errorf("NextReview %v: before %s %v, at %s %v, now %s %v", next, before.Segment, before.SubSegments,
			at.Segment, at.SubSegments, base.Segment, base.SubSegments)
	}
	// Nothing changes in between either.
	for i := 1; i < 8; i++ {
		mid := now.Add(next.Sub(now) * time.Duration(i) / 8)
		if r := ev.Evaluate(c, s, mid); !sameSegments(r, base) {
			t.Errorf("changed at %v, before NextReview %v", mid, next)
		}
	}
}

func sameSegments(a, b segment.Result) bool {
	return a.Segment == b.Segment && reflect.DeepEqual(a.SubSegments, b.SubSegments)
}

func evaluator(t testing.TB, override string) *segment.Evaluator {
	t.Helper()
	cfg, err := scoring.Load(override)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := segment.NewEvaluator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
