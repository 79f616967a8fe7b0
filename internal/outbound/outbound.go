// Package outbound publishes the events other systems consume (SPEC §6): segment.changed,
// voucher.issued, referral.redeemed, reward.granted, reward.reversed, customer.erased. Each carries a
// deterministic id, so a producer that publishes again after a crash or a redelivery sends the
// same id and consumers de-duplicate on it.
package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event types.
const (
	SegmentChanged   = "segment.changed"
	VoucherIssued    = "voucher.issued"
	ReferralRedeemed = "referral.redeemed"
	RewardGranted    = "reward.granted"
	RewardReversed   = "reward.reversed"
	CustomerErased   = "customer.erased" // GDPR erasure: downstream systems erase the customer too
)

// Event is one outbound message.
type Event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	CustomerID string    `json:"customer_id,omitempty"`
	Data       any       `json:"data"`
}

// Sender sends JSON bodies to the outbound queue (sqsqueue.Publisher).
type Sender interface {
	SendJSON(ctx context.Context, bodies []string) error
}

// Publisher publishes events.
type Publisher struct{ q Sender }

// New builds a publisher.
func New(q Sender) (*Publisher, error) {
	if q == nil {
		return nil, errors.New("outbound: sender is required")
	}
	return &Publisher{q: q}, nil
}

// Publish sends the events, batching as the queue allows.
func (p *Publisher) Publish(ctx context.Context, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	bodies := make([]string, len(events))
	for i, e := range events {
		if e.ID == "" || e.Type == "" {
			return fmt.Errorf("outbound: event %d has no id or type", i)
		}
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("marshal %s %s: %w", e.Type, e.ID, err)
		}
		bodies[i] = string(b)
	}
	if err := p.q.SendJSON(ctx, bodies); err != nil {
		return fmt.Errorf("publish %d events: %w", len(events), err)
	}
	return nil
}
