// Package consumer adapts SQS event source batches to the domain: it decodes messages, groups
// them by customer so that one customer's messages in a batch are applied in one write, and
// reports only the failed messages (events.SQSEventResponse) so the rest are deleted.
package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/rescore"
)

// Applier applies one customer's interactions (rescore.Service).
type Applier interface {
	Apply(ctx context.Context, customerID string, ins []interaction.Interaction) (rescore.Outcome, error)
	Review(ctx context.Context, customerID string) (rescore.Outcome, error)
}

// parallelCustomers bounds the customers of a batch processed at once.
const parallelCustomers = 4

// Rescore is the rescore-customer handler.
type Rescore struct {
	svc Applier
	log *slog.Logger
}

// NewRescore builds the handler.
func NewRescore(svc Applier, log *slog.Logger) *Rescore {
	if log == nil {
		log = slog.Default()
	}
	return &Rescore{svc: svc, log: log}
}

type group struct {
	customerID string
	messageIDs []string
	ins        []interaction.Interaction
	review     bool
}

// Handle processes a batch.
func (h *Rescore) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	span := meter.Start()
	var resp events.SQSEventResponse
	fail := func(id string) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
	}

	var groups []*group
	byCustomer := map[string]*group{}
	for _, m := range ev.Records {
		env, err := decode(m.Body)
		if err != nil {
			// A message that can never be decoded fails every time and ends in the DLQ.
			h.log.ErrorContext(ctx, "undecodable message", "message_id", m.MessageId, "error", err.Error(),
				"receive_count", m.Attributes["ApproximateReceiveCount"])
			fail(m.MessageId)
			continue
		}
		g, ok := byCustomer[env.CustomerID]
		if !ok {
			g = &group{customerID: env.CustomerID}
			byCustomer[env.CustomerID] = g
			groups = append(groups, g)
		}
		g.messageIDs = append(g.messageIDs, m.MessageId)
		g.ins = append(g.ins, env.Interactions...)
		g.review = g.review || env.Review
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallelCustomers)
	applied, dups := 0, 0
	for _, g := range groups {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var out rescore.Outcome
			var err error
			if len(g.ins) > 0 {
				out, err = h.svc.Apply(ctx, g.customerID, g.ins)
			}
			if err == nil && g.review && len(g.ins) == 0 {
				// Interactions in the same batch re-evaluate the customer anyway.
				out, err = h.svc.Review(ctx, g.customerID)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				h.log.ErrorContext(ctx, "rescore failed", "customer_id", g.customerID, "message_ids", g.messageIDs, "error", err.Error())
				for _, id := range g.messageIDs {
					fail(id)
				}
				return
			}
			applied += out.Applied
			dups += out.Duplicates
		}()
	}
	wg.Wait()
	h.log.InfoContext(ctx, "batch", span.Attrs("messages", len(ev.Records), "customers", len(groups), "applied", applied,
		"duplicates", dups, "failed", len(resp.BatchItemFailures))...)
	return resp, nil
}

func decode(body string) (interaction.Envelope, error) {
	var env interaction.Envelope
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return env, fmt.Errorf("decode envelope: %w", err)
	}
	if env.Version != interaction.EnvelopeVersion {
		return env, fmt.Errorf("envelope version %d, want %d", env.Version, interaction.EnvelopeVersion)
	}
	if env.CustomerID == "" || (len(env.Interactions) == 0 && !env.Review) {
		return env, fmt.Errorf("envelope without customer or interactions")
	}
	for _, in := range env.Interactions {
		if in.CustomerID != env.CustomerID || in.EventID == "" {
			return env, fmt.Errorf("interaction %q does not belong to customer %q", in.EventID, env.CustomerID)
		}
	}
	return env, nil
}
