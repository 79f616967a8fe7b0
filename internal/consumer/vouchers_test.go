package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/issue"
)

type voucherFunc func(ctx context.Context, m issue.Message) error

func (f voucherFunc) Handle(ctx context.Context, m issue.Message) error { return f(ctx, m) }

// The sample event (sam local invoke -e events/campaign-worker-sqs.json CampaignWorkerFunction):
// a campaign page, a five-star request, a shard scan and a poison message. Only the failed
// messages are reported: the poison one, and one whose handling fails.
func TestVouchersSampleEvent(t *testing.T) {
	b, err := os.ReadFile("../../events/campaign-worker-sqs.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, len(ev.Records))
	h := NewVouchers(voucherFunc(func(_ context.Context, m issue.Message) error {
		seen <- m.Reason
		if m.Reason == issue.ReasonScan {
			return errors.New("throttled") // transient: retried
		}
		return nil
	}), nil)
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	close(seen)
	reasons := map[string]int{}
	for r := range seen {
		reasons[r]++
	}
	if reasons[issue.ReasonCampaign] != 1 || reasons[issue.ReasonFiveStarReview] != 1 || reasons[issue.ReasonScan] != 1 || len(reasons) != 3 {
		t.Errorf("handled %v", reasons)
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	if len(failed) != 2 || !failed[ev.Records[2].MessageId] || !failed[ev.Records[3].MessageId] {
		t.Errorf("failures %v", resp.BatchItemFailures)
	}
}
