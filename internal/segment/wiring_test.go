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

// wired is aggregate.Customer as the rescore wiring extends it: the signals fed by Apply and
// the result the hook writes, flattened onto the PROFILE item.
type wired struct {
	aggregate.Customer
	Signals scoring.Signals `json:"-" dynamodbav:"sig"`
	scoring.Result
}

func (w *wired) apply(in interaction.Interaction) {
	w.Customer.Apply(in)
	w.Signals.Observe(in)
}

// hook is the rescore Hook: evaluate, record a change, keep the result.
func hook(ev *segment.Evaluator, changes *[]segment.Change) func(w *wired, now time.Time) {
	return func(w *wired, now time.Time) {
		r := ev.Evaluate(&w.Customer, &w.Signals, now)
		if ch, ok := segment.Diff(w.CustomerID, w.Result, r); ok {
			*changes = append(*changes, ch)
		}
		w.Result = r
	}
}

func TestWiring(t *testing.T) {
	var changes []segment.Change
	h := hook(evaluator(t, ""), &changes)
	w := &wired{Customer: *aggregate.New("c1")}
	for _, in := range annaInteractions() {
		w.apply(in)
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
	c, _ := attributevalue.MarshalMap(w.Customer)
	r, _ := attributevalue.MarshalMap(w.Result)
	if len(item) != len(c)+len(r)+1 {
		t.Errorf("attribute names clash: %d attributes, want %d+%d+1", len(item), len(c), len(r))
	}
	var back wired
	if err := attributevalue.UnmarshalMap(item, &back); err != nil {
		t.Fatal(err)
	}
	if got := evaluator(t, "").Evaluate(&back.Customer, &back.Signals, now); got.Score != w.Score || back.Segment != w.Segment ||
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
