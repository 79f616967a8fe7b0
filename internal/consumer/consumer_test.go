package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/rescore"
)

type applyFunc func(ctx context.Context, customerID string, ins []interaction.Interaction) (rescore.Outcome, error)

func (f applyFunc) Apply(ctx context.Context, customerID string, ins []interaction.Interaction) (rescore.Outcome, error) {
	return f(ctx, customerID, ins)
}

func (f applyFunc) Review(ctx context.Context, customerID string) (rescore.Outcome, error) {
	return f(ctx, customerID, nil)
}

func record(id, body string) events.SQSMessage { return events.SQSMessage{MessageId: id, Body: body} }

func envelope(customer string, events ...string) string {
	env := interaction.Envelope{Version: 1, CustomerID: customer}
	for _, e := range events {
		env.Interactions = append(env.Interactions, interaction.Interaction{EventID: e, CustomerID: customer, Type: interaction.Comment})
	}
	b, _ := json.Marshal(env)
	return string(b)
}

func TestHandleReportsOnlyFailures(t *testing.T) {
	cases := []struct {
		name       string
		records    []events.SQSMessage
		failFor    string
		wantFailed []string
		wantCalls  map[string]int // customer -> interactions passed
	}{
		{"all good, one customer's messages grouped",
			[]events.SQSMessage{record("m1", envelope("c1", "a")), record("m2", envelope("c2", "b")), record("m3", envelope("c1", "c", "d"))},
			"", nil, map[string]int{"c1": 3, "c2": 1}},
		{"poison message fails alone",
			[]events.SQSMessage{record("m1", envelope("c1", "a")), record("m2", "{not json"), record("m3", `{"v":9,"customer_id":"c1","interactions":[]}`)},
			"", []string{"m2", "m3"}, map[string]int{"c1": 1}},
		{"review request",
			[]events.SQSMessage{record("m1", `{"v":1,"customer_id":"c9","review":true}`)},
			"", nil, map[string]int{"c9": 0}},
		{"envelope mixing customers is refused",
			[]events.SQSMessage{record("m1", `{"v":1,"customer_id":"c1","interactions":[{"event_id":"x","customer_id":"c2"}]}`)},
			"", []string{"m1"}, map[string]int{}},
		{"a failing customer fails all its messages, not the others",
			[]events.SQSMessage{record("m1", envelope("c1", "a")), record("m2", envelope("c2", "b")), record("m3", envelope("c1", "c"))},
			"c1", []string{"m1", "m3"}, map[string]int{"c1": 2, "c2": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := map[string]int{}
			var mu = make(chan struct{}, 1)
			h := NewRescore(applyFunc(func(_ context.Context, c string, ins []interaction.Interaction) (rescore.Outcome, error) {
				mu <- struct{}{}
				calls[c] += len(ins)
				<-mu
				if c == tc.failFor {
					return rescore.Outcome{}, errors.New("boom")
				}
				return rescore.Outcome{Applied: len(ins)}, nil
			}), nil)
			resp, err := h.Handle(context.Background(), events.SQSEvent{Records: tc.records})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, f := range resp.BatchItemFailures {
				got[f.ItemIdentifier] = true
			}
			if len(got) != len(tc.wantFailed) {
				t.Fatalf("failed %v, want %v", resp.BatchItemFailures, tc.wantFailed)
			}
			for _, id := range tc.wantFailed {
				if !got[id] {
					t.Errorf("%s not reported failed", id)
				}
			}
			for c, n := range tc.wantCalls {
				if calls[c] != n {
					t.Errorf("customer %s got %d interactions, want %d", c, calls[c], n)
				}
			}
		})
	}
}

// The sample event in events/ (used with `sam local invoke -e`) holds one good message and one
// poison message.
func TestSampleEvent(t *testing.T) {
	b, err := os.ReadFile("../../events/rescore-customer-sqs.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	h := NewRescore(applyFunc(func(_ context.Context, c string, ins []interaction.Interaction) (rescore.Outcome, error) {
		return rescore.Outcome{Applied: len(ins)}, nil
	}), nil)
	resp, _ := h.Handle(context.Background(), ev)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[1].MessageId {
		t.Fatalf("failures %v", resp.BatchItemFailures)
	}
}
