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
)

// Revision is the concurrency state of a customer item.
type Revision struct {
	Exists  bool
	Version int64
	Pending []string
}

// Profiles reads and writes customer aggregates.
type Profiles interface {
	// Get returns the customer's aggregates (aggregate.New when none) and revision.
	Get(ctx context.Context, customerID string) (*aggregate.Customer, Revision, error)
	// Put writes c with version prev.Version+1 and the given pending ids, on condition that
	// the stored version is prev.Version; it returns apperr.ErrConcurrentUpdate otherwise.
	Put(ctx context.Context, c *aggregate.Customer, prev Revision, pending []string, now time.Time) error
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

// Hook runs on the aggregate after new interactions are applied and before it is written
// (scoring and segmentation plug in here).
type Hook func(c *aggregate.Customer, now time.Time)

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
	hook     Hook
	now      func() time.Time
	// maxAttempts bounds retries of lost optimistic races before the batch is retried by SQS.
	maxAttempts int
}

// New builds the service.
func New(profiles Profiles, marks Marks, hook Hook, now func() time.Time) (*Service, error) {
	if profiles == nil || marks == nil {
		return nil, errors.New("rescore: profiles and marks are required")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{profiles: profiles, marks: marks, hook: hook, now: now, maxAttempts: 8}, nil
}

// Apply applies one customer's interactions exactly once.
func (s *Service) Apply(ctx context.Context, customerID string, ins []interaction.Interaction) (Outcome, error) {
	var out Outcome
	for _, in := range ins {
		if in.CustomerID != customerID {
			return out, fmt.Errorf("interaction %s is for customer %s, not %s", in.EventID, in.CustomerID, customerID)
		}
	}
	ins = uniqueByEvent(ins)
	for attempt := 1; attempt <= s.maxAttempts; attempt++ {
		out.Attempts = attempt
		applied, dups, c, err := s.try(ctx, customerID, ins)
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

func (s *Service) try(ctx context.Context, customerID string, ins []interaction.Interaction) (int, int, *aggregate.Customer, error) {
	now := s.now()
	c, rev, err := s.profiles.Get(ctx, customerID)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("get customer %s: %w", customerID, err)
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
	if len(fresh) == 0 {
		if len(rev.Pending) == 0 {
			return 0, dups, c, nil
		}
		// Nothing new, but clear the pending set now that it is marked, keeping the item small.
		if err := s.profiles.Put(ctx, c, rev, nil, now); err != nil {
			return 0, 0, nil, err
		}
		return 0, dups, c, nil
	}
	pending := make([]string, 0, len(fresh))
	for _, in := range fresh {
		c.Apply(in)
		pending = append(pending, in.EventID)
	}
	if s.hook != nil {
		s.hook(c, now)
	}
	if err := s.profiles.Put(ctx, c, rev, pending, now); err != nil {
		return 0, 0, nil, err
	}
	return len(fresh), dups, c, nil
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
