// Package rescore applies newly recorded interactions to a customer's aggregates exactly once,
// however often SQS delivers them and however many consumers run at the same time.
//
// The customer item carries a version and a small "pending" set: the event ids its last write
// applied. A write is conditional on the version it read, so concurrent consumers serialise.
// Interactions are marked applied in the interactions table lazily, by the next consumer of
// the same customer, before it replaces the pending set:
//
//  1. read the customer item (strongly consistent): aggregates, version v, pending P;
//  2. mark every id of P applied (they are in the aggregates already);
//  3. for the batch's other ids, read their applied marks (strongly consistent) and drop the
//     marked ones: an id is either in P or marked, never neither once applied;
//  4. apply the rest and write the item with version v+1 and P' = the ids just applied,
//     on condition that the version is still v (else start again).
//
// A crash anywhere leaves a state from which a redelivery does the right thing: before 4,
// nothing was applied; after 4, the ids are in P until a later consumer has marked them.
// Per interaction this costs one strongly consistent read and one write of the customer item,
// one read and one write of the interaction's mark: no transactions (they cost double).
package rescore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/metrics"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// Revision is the concurrency state of a customer item.
type Revision struct {
	Exists  bool
	Version int64
	Pending []string
	// Outbox holds segment changes written with the aggregate but not yet recorded and
	// published: a consumer that died after its write leaves them for the next one.
	Outbox []segment.Change
	// VoucherAsks holds, likewise, the 5-star review ids whose voucher request is not yet sent.
	VoucherAsks []string
	// Membership is the segment and sub-segments stored at Version: Put moves the segment
	// counters from it to the written customer's, in the write conditional on Version.
	Membership segment.Membership
}

// effects reports whether r holds anything still to send.
func (r Revision) effects() bool { return len(r.Outbox) > 0 || len(r.VoucherAsks) > 0 }

// Profiles reads and writes customer aggregates.
type Profiles interface {
	// Get returns the customer's aggregates (aggregate.New when none) and revision.
	Get(ctx context.Context, customerID string) (*aggregate.Customer, Revision, error)
	// Put writes c with version prev.Version+1 and next's pending ids, outbox and voucher asks
	// (next.Version and next.Membership are ignored), on condition that the stored version is
	// prev.Version; it returns apperr.ErrConcurrentUpdate otherwise. The segment counters move
	// from prev.Membership to c's in the same write, so they count each move exactly once.
	Put(ctx context.Context, c *aggregate.Customer, prev, next Revision, now time.Time) error
}

// Mark is what the interactions table says of one interaction.
type Mark int

const (
	// Unapplied: stored, not yet marked applied.
	Unapplied Mark = iota
	// Applied: marked applied.
	Applied
	// Missing: not stored (erased or expired): never applied again.
	Missing
)

// Marks reads and sets the applied marks of interactions.
type Marks interface {
	// Marks returns each event id's mark, read strongly consistently.
	Marks(ctx context.Context, customerID string, eventIDs []string) (map[string]Mark, error)
	// MarkApplied marks the interactions applied; missing ones are left missing.
	MarkApplied(ctx context.Context, customerID string, eventIDs []string, now time.Time) error
}

// Evaluator scores and segments a customer (segment.Evaluator).
type Evaluator interface {
	Evaluate(c *aggregate.Customer, s *scoring.Signals, now time.Time) scoring.Result
}

// ChangeSink records a segment change in the customer's history and publishes it
// (segment.changed); the same change twice has the effect of once.
type ChangeSink interface {
	Record(ctx context.Context, ch segment.Change) error
}

// VoucherRequester asks for a voucher for a customer (the review-tool link: a 5-star review
// from a customer without an active voucher gets one); issuing is idempotent downstream.
type VoucherRequester interface {
	RequestVoucher(ctx context.Context, customerID, reason, reviewID string) error
}

// Options are the optional collaborators of the service.
type Options struct {
	Evaluator Evaluator
	Changes   ChangeSink
	Vouchers  VoucherRequester
	Now       func() time.Time
}

// Outcome tells what Apply did.
type Outcome struct {
	Applied    int
	Duplicates int
	Attempts   int
	Customer   *aggregate.Customer
}

// Service applies interactions.
type Service struct {
	profiles Profiles
	marks    Marks
	opt      Options
	now      func() time.Time
	// maxAttempts bounds retries of lost optimistic races before the batch is retried by SQS.
	maxAttempts int
}

// New builds the service.
func New(profiles Profiles, marks Marks, opt Options) (*Service, error) {
	if profiles == nil || marks == nil {
		return nil, errors.New("rescore: profiles and marks are required")
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	return &Service{profiles: profiles, marks: marks, opt: opt, now: now, maxAttempts: 8}, nil
}

// Apply applies one customer's interactions exactly once.
func (s *Service) Apply(ctx context.Context, customerID string, ins []interaction.Interaction) (Outcome, error) {
	var out Outcome
	for _, in := range ins {
		if in.CustomerID != customerID {
			return out, fmt.Errorf("interaction %s is for customer %s, not %s", in.EventID, in.CustomerID, customerID)
		}
	}
	return s.run(ctx, customerID, uniqueByEvent(ins), false)
}

// Review re-evaluates a customer whose segment may have changed with time alone (the
// scheduled rescoring): no interaction, a fresh score and next review time.
func (s *Service) Review(ctx context.Context, customerID string) (Outcome, error) {
	return s.run(ctx, customerID, nil, true)
}

func (s *Service) run(ctx context.Context, customerID string, ins []interaction.Interaction, review bool) (Outcome, error) {
	var out Outcome
	for attempt := 1; attempt <= s.maxAttempts; attempt++ {
		out.Attempts = attempt
		applied, dups, c, err := s.try(ctx, customerID, ins, review)
		if errors.Is(err, apperr.ErrConcurrentUpdate) {
			// Jittered backoff: another consumer of this customer won the race.
			time.Sleep(time.Duration(attempt*attempt) * 5 * time.Millisecond)
			continue
		}
		if err != nil {
			return out, err
		}
		out.Applied, out.Duplicates, out.Customer = applied, dups, c
		return out, nil
	}
	return out, fmt.Errorf("customer %s: %d attempts lost to concurrent updates: %w", customerID, s.maxAttempts, apperr.ErrConcurrentUpdate)
}

func (s *Service) try(ctx context.Context, customerID string, ins []interaction.Interaction, review bool) (int, int, *aggregate.Customer, error) {
	now := s.now()
	c, rev, err := s.profiles.Get(ctx, customerID)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("get customer %s: %w", customerID, err)
	}
	if review && !rev.Exists {
		return 0, 0, c, nil // erased since it was found due
	}
	// Changes a previous consumer wrote but did not get to publish go out first.
	if err := s.send(ctx, customerID, rev); err != nil {
		return 0, 0, nil, err
	}
	if len(rev.Pending) > 0 {
		if err := s.marks.MarkApplied(ctx, customerID, rev.Pending, now); err != nil {
			return 0, 0, nil, fmt.Errorf("mark pending of %s: %w", customerID, err)
		}
	}
	var unknown []string
	for _, in := range ins {
		if !slices.Contains(rev.Pending, in.EventID) {
			unknown = append(unknown, in.EventID)
		}
	}
	marks := map[string]Mark{}
	if len(unknown) > 0 {
		if marks, err = s.marks.Marks(ctx, customerID, unknown); err != nil {
			return 0, 0, nil, fmt.Errorf("read marks of %s: %w", customerID, err)
		}
	}
	var fresh []interaction.Interaction
	for _, in := range ins {
		if slices.Contains(rev.Pending, in.EventID) {
			continue
		}
		if m, ok := marks[in.EventID]; ok && m == Unapplied {
			fresh = append(fresh, in)
		}
	}
	dups := len(ins) - len(fresh)
	if len(fresh) == 0 && !review {
		if len(rev.Pending) == 0 && !rev.effects() {
			return 0, dups, c, nil
		}
		// Nothing new, but clear the pending set now that it is marked (and the outbox now that
		// it is published), keeping the item small.
		if err := s.profiles.Put(ctx, c, rev, Revision{}, now); err != nil {
			return 0, 0, nil, err
		}
		return 0, dups, c, nil
	}
	next := Revision{Pending: make([]string, 0, len(fresh))}
	for _, in := range fresh {
		c.Apply(in)
		next.Pending = append(next.Pending, in.EventID)
		// The review-tool link: a 5-star review asks for a voucher (issued once downstream).
		if in.Type == interaction.Review && in.Properties.Stars != nil && *in.Properties.Stars == 5 && s.opt.Vouchers != nil {
			next.VoucherAsks = append(next.VoucherAsks, in.Properties.ReviewID)
		}
	}
	newSegment := ""
	if s.opt.Evaluator != nil {
		r := s.opt.Evaluator.Evaluate(c, &c.Signals, now)
		if ch, changed := segment.Diff(customerID, c.Result, r); changed {
			next.Outbox = append(next.Outbox, ch)
			newSegment = ch.To
		}
		c.Result = r
	}
	if err := s.profiles.Put(ctx, c, rev, next, now); err != nil {
		return 0, 0, nil, err
	}
	if newSegment != "" {
		// Counted once: by the write that put the change into the outbox.
		metrics.Add(metrics.SegmentChanges, 1, "Segment", newSegment)
	}
	if next.effects() {
		// Written with the aggregate first, so that a crash here leaves them for the next
		// consumer; sent now, then cleared.
		if err := s.send(ctx, customerID, next); err != nil {
			return 0, 0, nil, err
		}
		written := Revision{Exists: true, Version: rev.Version + 1, Membership: MembershipOf(c)}
		cleared := Revision{Pending: next.Pending}
		if err := s.profiles.Put(ctx, c, written, cleared, now); err != nil && !errors.Is(err, apperr.ErrConcurrentUpdate) {
			return 0, 0, nil, err
		}
	}
	return len(fresh), dups, c, nil
}

// MembershipOf is what the segment counters count of c.
func MembershipOf(c *aggregate.Customer) segment.Membership {
	return segment.Membership{Segment: c.Segment, SubSegments: c.SubSegments}
}

// send records and publishes the segment changes and sends the voucher requests of r; each is
// idempotent downstream, so sending again after a crash does no harm.
func (s *Service) send(ctx context.Context, customerID string, r Revision) error {
	if err := s.record(ctx, r.Outbox); err != nil {
		return err
	}
	if s.opt.Vouchers == nil {
		return nil
	}
	for _, reviewID := range r.VoucherAsks {
		if err := s.opt.Vouchers.RequestVoucher(ctx, customerID, "five_star_review", reviewID); err != nil {
			return fmt.Errorf("request voucher for %s: %w", customerID, err)
		}
	}
	return nil
}

func (s *Service) record(ctx context.Context, changes []segment.Change) error {
	if s.opt.Changes == nil {
		return nil
	}
	for _, ch := range changes {
		if err := s.opt.Changes.Record(ctx, ch); err != nil {
			return fmt.Errorf("record segment change %s: %w", ch.ID, err)
		}
	}
	return nil
}

func uniqueByEvent(ins []interaction.Interaction) []interaction.Interaction {
	seen := make(map[string]bool, len(ins))
	out := ins[:0:0]
	for _, in := range ins {
		if !seen[in.EventID] {
			seen[in.EventID] = true
			out = append(out, in)
		}
	}
	return out
}
