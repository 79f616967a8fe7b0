// Package ingest accepts interactions: validates the whole request, stores each interaction
// once (event_id is the idempotency key) and enqueues the new ones for rescoring.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/interaction"
)

// Stored tells what PutNew found.
type Stored int

const (
	// Created: the interaction is new and now stored.
	Created Stored = iota
	// DuplicatePending: stored earlier but not yet applied to the customer's aggregates (a
	// previous request may have died before enqueuing it), so it is enqueued again; the
	// consumer is idempotent.
	DuplicatePending
	// DuplicateApplied: stored and applied earlier; nothing to do.
	DuplicateApplied
)

// Found is what PutNew found.
type Found struct {
	Stored Stored
	// Fingerprint is the stored interaction's (interaction.Fingerprint) for a duplicate, ""
	// when it was stored without one (nothing to compare).
	Fingerprint string
}

// ErrNotEnqueued wraps RecordParsed's error when every interaction was stored but the rescore
// queue refused them: they are left pending, for a replay or for the sweeper (package sweep)
// when their store marks them for it.
var ErrNotEnqueued = errors.New("stored, not enqueued")

// Store keeps raw interactions.
type Store interface {
	// PutNew stores in, with its fingerprint, unless an interaction with its customer and event
	// id exists.
	PutNew(ctx context.Context, in interaction.Interaction, expiresAt time.Time) (Found, error)
	// Remove deletes in, which this request created, unless it was applied meanwhile or is not
	// the content this request stored: a refused request leaves nothing stored.
	Remove(ctx context.Context, in interaction.Interaction) error
}

// Queue hands interactions to the rescoring step.
type Queue interface {
	Enqueue(ctx context.Context, envs []interaction.Envelope) error
}

// Result is the answer to a POST /v1/interactions.
type Result struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// Service records interactions.
type Service struct {
	store     Store
	queue     Queue
	referrals Queue // optional: purchases carrying a referral_code, for redeem-referral
	ttl       time.Duration
	now       func() time.Time
}

// DedupWindow is the least time an interaction is kept, whatever its age, so that a replay or
// a message redriven from a dead-letter queue (14 days) is still recognised.
const DedupWindow = 15 * 24 * time.Hour

// parallelPuts bounds concurrent PutItem calls per request.
const parallelPuts = 16

// New builds the service; ttl is how long raw interactions are kept after they occurred.
func New(store Store, queue Queue, ttl time.Duration, now func() time.Time) (*Service, error) {
	if store == nil || queue == nil {
		return nil, errors.New("ingest: store and queue are required")
	}
	if ttl <= 0 {
		return nil, errors.New("ingest: ttl must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, queue: queue, ttl: ttl, now: now}, nil
}

// WithReferrals makes the service also send every purchase that carries a referral_code, and
// every refund, to q (the RedeemQueue), one envelope each, replays included: redemption and
// refunds are idempotent per order, so a replay after a lost send still applies them. A refund
// costs one SQS message more; most orders have no referral and it ends in one read.
func (s *Service) WithReferrals(q Queue) *Service {
	s.referrals = q
	return s
}

// Record validates body whole (a bad item refuses all, storing nothing), then stores and
// enqueues. An event_id already recorded for the customer with other content (type, occurred_at
// or properties) refuses the request with a 409 naming it, leaving nothing stored. An error
// after validation leaves the request safe to retry.
func (s *Service) Record(ctx context.Context, body []byte) (Result, error) {
	now := s.now()
	req, err := interaction.ParseRequest(body, now)
	if err != nil {
		return Result{}, err
	}
	return s.record(ctx, req.Items, now, req.Field)
}

// RecordParsed stores and enqueues already validated interactions from the system itself (the
// referral lifecycle, clicks): a duplicate is a duplicate whatever its content, as a retried
// step may restamp what it records.
func (s *Service) RecordParsed(ctx context.Context, ins []interaction.Interaction, now time.Time) (Result, error) {
	return s.record(ctx, ins, now, nil)
}

// record stores and enqueues ins; with field set (the API), it refuses reused event ids.
func (s *Service) record(ctx context.Context, ins []interaction.Interaction, now time.Time, field func(i int, name string) string) (Result, error) {
	// The same event twice in one batch is a duplicate of itself, or a conflict.
	type key struct{ customer, event string }
	seen := make(map[key]int, len(ins))
	unique := ins[:0:0]
	at := make([]int, 0, len(ins)) // unique[j] is ins[at[j]]
	var res Result
	for i, in := range ins {
		k := key{in.CustomerID, in.EventID}
		if first, ok := seen[k]; ok {
			if field != nil && ins[first].Fingerprint() != in.Fingerprint() {
				return Result{}, conflict(field(i, "event_id"), in, fmt.Sprintf("as item %d of this batch", first))
			}
			res.Duplicates++
			continue
		}
		seen[k] = i
		unique = append(unique, in)
		at = append(at, i)
	}

	found := make([]Found, len(unique))
	errs := make([]error, len(unique))
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallelPuts)
	for i, in := range unique {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found[i], errs[i] = s.store.PutNew(ctx, in, s.expiry(in.OccurredAt, now))
		}()
	}
	wg.Wait()
	if field != nil {
		for j, in := range unique {
			if errs[j] == nil && found[j].Stored != Created && found[j].Fingerprint != "" && found[j].Fingerprint != in.Fingerprint() {
				if err := s.undo(ctx, unique, found, errs); err != nil {
					return Result{}, err
				}
				return Result{}, conflict(field(at[j], "event_id"), in, "earlier")
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, fmt.Errorf("store interactions: %w", err)
	}
	outcomes := make([]Stored, len(unique))
	for i, f := range found {
		outcomes[i] = f.Stored
	}

	var pending []interaction.Interaction
	for i, in := range unique {
		switch outcomes[i] {
		case Created:
			res.Accepted++
		default:
			res.Duplicates++
		}
		if outcomes[i] != DuplicateApplied {
			pending = append(pending, in)
		}
	}
	if byCustomer := Envelopes(pending); len(byCustomer) > 0 {
		if err := s.queue.Enqueue(ctx, byCustomer); err != nil {
			return Result{}, fmt.Errorf("enqueue for rescoring: %w: %w", ErrNotEnqueued, err)
		}
	}
	if s.referrals != nil {
		var refs []interaction.Envelope
		for _, in := range unique {
			if (in.Type == interaction.Purchase && in.Properties.ReferralCode != "") || in.Type == interaction.Refund {
				refs = append(refs, interaction.Envelope{Version: interaction.EnvelopeVersion, CustomerID: in.CustomerID, Interactions: []interaction.Interaction{in}})
			}
		}
		if len(refs) > 0 {
			if err := s.referrals.Enqueue(ctx, refs); err != nil {
				return Result{}, fmt.Errorf("enqueue referral purchases and refunds: %w", err)
			}
		}
	}
	return res, nil
}

// conflict is the 409 of an event id reused for other content.
func conflict(field string, in interaction.Interaction, when string) error {
	e := apperr.Conflict("event_id %q of customer %q was recorded %s with another type, occurred_at or properties; "+
		"an event_id identifies one event (a replay must repeat it unchanged)", in.EventID, in.CustomerID, when)
	e.Field = field
	return e
}

// undo removes what a refused request created, so that it leaves nothing stored; an error
// means the request must be retried (it would be refused again, and undo again).
func (s *Service) undo(ctx context.Context, unique []interaction.Interaction, found []Found, errs []error) error {
	var wg sync.WaitGroup
	undoErrs := make([]error, len(unique))
	for i, in := range unique {
		if errs[i] != nil || found[i].Stored != Created {
			continue
		}
		wg.Go(func() { undoErrs[i] = s.store.Remove(ctx, in) })
	}
	wg.Wait()
	if err := errors.Join(undoErrs...); err != nil {
		return fmt.Errorf("remove the interactions of a refused request: %w", err)
	}
	return nil
}

// Envelopes groups interactions into the rescore queue's messages: one envelope per customer,
// in order of first appearance. The sweeper (package sweep) re-enqueues with it too.
func Envelopes(ins []interaction.Interaction) []interaction.Envelope {
	var byCustomer []interaction.Envelope
	index := map[string]int{}
	for _, in := range ins {
		j, ok := index[in.CustomerID]
		if !ok {
			j = len(byCustomer)
			index[in.CustomerID] = j
			byCustomer = append(byCustomer, interaction.Envelope{Version: interaction.EnvelopeVersion, CustomerID: in.CustomerID})
		}
		byCustomer[j].Interactions = append(byCustomer[j].Interactions, in)
	}
	return byCustomer
}

// expiry keeps an interaction ttl after it occurred, and at least DedupWindow from now.
func (s *Service) expiry(occurred, now time.Time) time.Time {
	exp := occurred.Add(s.ttl)
	if min := now.Add(DedupWindow); exp.Before(min) {
		exp = min
	}
	return exp
}
