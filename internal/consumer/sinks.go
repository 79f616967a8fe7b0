package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// HistoryWriter stores a segment change in the customer's history (dynamostore.Customers).
type HistoryWriter interface {
	RecordChange(ctx context.Context, ch segment.Change) error
}

// Publisher publishes outbound events (outbound.Publisher).
type Publisher interface {
	Publish(ctx context.Context, events ...outbound.Event) error
}

// ChangeSink implements rescore.ChangeSink: history first, then segment.changed. Both are
// idempotent (the history key and the event id derive from the change id).
type ChangeSink struct {
	History HistoryWriter
	Out     Publisher
}

// Record implements rescore.ChangeSink.
func (s ChangeSink) Record(ctx context.Context, ch segment.Change) error {
	if err := s.History.RecordChange(ctx, ch); err != nil {
		return err
	}
	return s.Out.Publish(ctx, outbound.Event{ID: ch.ID, Type: outbound.SegmentChanged, At: ch.At, CustomerID: ch.CustomerID, Data: ch})
}

// JSONSender sends JSON bodies to a queue (sqsqueue.Publisher).
type JSONSender interface {
	SendJSON(ctx context.Context, bodies []string) error
}

// VoucherRequests implements rescore.VoucherRequester on the voucher queue, in the message
// format of internal/issue: {"reason":"five_star_review","customer_id":...,"review_id":...}.
type VoucherRequests struct{ Queue JSONSender }

// RequestVoucher implements rescore.VoucherRequester.
func (v VoucherRequests) RequestVoucher(ctx context.Context, customerID, reason, reviewID string) error {
	if v.Queue == nil {
		return errors.New("voucher queue not configured")
	}
	msg := map[string]string{"reason": reason, "customer_id": customerID}
	if reviewID != "" {
		msg["review_id"] = reviewID
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("marshal voucher request: %w", err)
	}
	return v.Queue.SendJSON(ctx, []string{string(b)})
}
