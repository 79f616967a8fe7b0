package segment_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// wired is the PROFILE item's aggregate: Apply feeds the signals, the hook writes the result.
type wired = aggregate.Customer

func init() { _ = interaction.Purchase; _ = scoring.Default }

// hook is the rescore Hook: evaluate, record a change, keep the result.
func hook(ev *segment.Evaluator, changes *[]segment.Change) func(w *wired, now time.Time) {
	return func(w *wired, now time.Time) {
		r := ev.Evaluate(w, &w.Signals, now)
		if ch, ok := segment.Diff(w.CustomerID, w.Result, r); ok {
			*changes = append(*changes, ch)
		}
		w.Result = r
	}
}

func TestWiring(t *testing.T) {
	var changes []segment.Change
	h := hook(evaluator(t, ""), &changes)
	w := aggregate.New("c1")
	for _, in := range annaInteractions() {
		w.Apply(in)
	}
	h(w, now.Add(-20*day))
	w.Signals.ObserveReferralClick(now.Add(-13 * day))
	w.Signals.ObserveSuccessfulReferral(now.Add(-10 * day))
	h(w, now)
	if len(changes) != 2 || changes[0].From != "" || changes[1].From != segment.FutureAmbassador || changes[1].To != segment.Ambassador {
		t.Fatalf("changes %+v", changes)
	}
	// The three parts share one item without a clash, and round-trip.
	item, err := attributevalue.MarshalMap(w)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := attributevalue.MarshalMap(w.Result)
	for k := range r {
		if _, ok := item[k]; !ok {
			t.Errorf("result attribute %q is shadowed by an aggregate attribute", k)
		}
	}
	if _, ok := item["sig"]; !ok {
		t.Error("signals not stored")
	}
	var back wired
	if err := attributevalue.UnmarshalMap(item, &back); err != nil {
		t.Fatal(err)
	}
	if got := evaluator(t, "").Evaluate(&back, &back.Signals, now); got.Score != w.Score || back.Segment != w.Segment ||
		back.NextReview == nil || !back.NextReview.Equal(*w.NextReview) || len(back.SubSegments) != len(w.SubSegments) {
		t.Errorf("round trip: %+v vs %+v", back.Result, w.Result)
	}
	js, _ := json.Marshal(w)
	var m map[string]any
	_ = json.Unmarshal(js, &m)
	for _, k := range []string{"customer_id", "orders", "segment", "sub_segments", "score", "breakdown", "next_review_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
}
