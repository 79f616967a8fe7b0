// Package sweep finds interactions stored but never applied and enqueues them again for
// rescoring. An interaction is stored, then enqueued: if the enqueue fails, or the process dies
// in between, it stays stored and unapplied. An API client gets a 5xx and replays, and the
// replay enqueues it again (ingest.DuplicatePending); a browser following a referral link never
// retries, so the click redirect's store marks each new interaction in a sparse index (see
// dynamostore.WithSweep) that the consumer's mark removes. The sweep lists the index entries
// older than a grace period (above the normal apply lag), reads the interactions and:
//
//   - leaves out those marked applied meanwhile (the index lags its table);
//   - marks applied those the customer's pending set holds: applied, not yet marked, as
//     rescore marks lazily (by the next consumer of the same customer);
//   - enqueues the rest, one envelope per customer as ingest builds them.
//
// Enqueuing an interaction that was applied meanwhile does no harm: the consumer checks marks
// before applying. A run reads at most Limit entries, so a backlog is worked off over runs.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/metrics"
)

// Key names one stored interaction.
type Key struct{ CustomerID, EventID string }

// Index lists the interactions marked for the sweep (dynamostore.Interactions).
type Index interface {
	// Stale returns up to limit keys of one shard received at or before cutoff.
	Stale(ctx context.Context, shard int, cutoff time.Time, limit int) ([]Key, error)
}

// Interactions reads and marks stored interactions (dynamostore.Interactions).
type Interactions interface {
	// Unapplied returns the interactions of keys that are stored and not marked applied, read
	// strongly consistently; the others are left out.
	Unapplied(ctx context.Context, keys []Key) ([]interaction.Interaction, error)
	// MarkApplied marks the interactions applied, which also takes them out of the index.
	MarkApplied(ctx context.Context, customerID string, eventIDs []string, now time.Time) error
}

// Pending reads a customer's pending set: the event ids its last write applied (rescore).
type Pending interface {
	Pending(ctx context.Context, customerID string) ([]string, error)
}

// Config wires a Sweeper.
type Config struct {
	Index        Index
	Interactions Interactions
	Pending      Pending
	Queue        ingest.Queue // the rescore queue
	Shards       int          // of the index
	Grace        time.Duration
	Limit        int // index entries read per run, at most
	Log          *slog.Logger
}

// Sweeper runs sweeps.
type Sweeper struct{ c Config }

// New builds a sweeper, rejecting a missing dependency or setting at wiring time.
func New(c Config) (*Sweeper, error) {
	if c.Index == nil || c.Interactions == nil || c.Pending == nil || c.Queue == nil {
		return nil, errors.New("sweep: index, interactions, pending sets and queue are required")
	}
	if c.Shards <= 0 || c.Limit <= 0 || c.Grace <= 0 {
		return nil, errors.New("sweep: shards, limit and grace must be positive")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Sweeper{c: c}, nil
}

// Result tells what a run did.
type Result struct {
	Found    int `json:"found"`    // index entries past the grace
	Enqueued int `json:"enqueued"` // orphans enqueued again
	Marked   int `json:"marked"`   // applied but unmarked: marked now
}

func (r *Result) add(o Result) {
	r.Found += o.Found
	r.Enqueued += o.Enqueued
	r.Marked += o.Marked
}

// parallelShards bounds the shards swept at once.
const parallelShards = 4

// batch is how many keys are read and handled together (BatchGetItem's limit).
const batch = 100

// Run sweeps every shard once. It returns what it did even on error: a failed shard is swept
// again by the next run.
func (s *Sweeper) Run(ctx context.Context, now time.Time) (Result, error) {
	cutoff := now.Add(-s.c.Grace)
	perShard := max(1, (s.c.Limit+s.c.Shards-1)/s.c.Shards)
	results := make([]Result, s.c.Shards)
	errs := make([]error, s.c.Shards)
	sem := make(chan struct{}, parallelShards)
	var wg sync.WaitGroup
	for shard := range s.c.Shards {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[shard], errs[shard] = s.shard(ctx, shard, cutoff, perShard, now)
		}()
	}
	wg.Wait()
	var total Result
	for _, r := range results {
		total.add(r)
	}
	// An operator watches this one: orphans happen when the rescore queue refused sends.
	metrics.Add(metrics.InteractionsSwept, total.Enqueued)
	return total, errors.Join(errs...)
}

func (s *Sweeper) shard(ctx context.Context, shard int, cutoff time.Time, limit int, now time.Time) (Result, error) {
	var res Result
	keys, err := s.c.Index.Stale(ctx, shard, cutoff, limit)
	if err != nil {
		return res, fmt.Errorf("sweep shard %d: %w", shard, err)
	}
	res.Found = len(keys)
	for chunk := range slices.Chunk(keys, batch) {
		ins, err := s.c.Interactions.Unapplied(ctx, chunk)
		if err != nil {
			return res, fmt.Errorf("sweep shard %d: %w", shard, err)
		}
		pending := map[string][]string{}
		for _, id := range customers(ins) {
			p, err := s.c.Pending.Pending(ctx, id)
			if err != nil {
				return res, fmt.Errorf("sweep shard %d: %w", shard, err)
			}
			pending[id] = p
		}
		mark, orphans := Plan(ins, pending)
		for _, id := range customers(ins) {
			if len(mark[id]) == 0 {
				continue
			}
			if err := s.c.Interactions.MarkApplied(ctx, id, mark[id], now); err != nil {
				return res, fmt.Errorf("sweep shard %d: %w", shard, err)
			}
			res.Marked += len(mark[id])
		}
		if envs := ingest.Envelopes(orphans); len(envs) > 0 {
			if err := s.c.Queue.Enqueue(ctx, envs); err != nil {
				return res, fmt.Errorf("sweep shard %d: enqueue %d interactions: %w", shard, len(orphans), err)
			}
			res.Enqueued += len(orphans)
			// One line per batch, naming a few: a backlog must not flood the logs.
			var ids []string
			for _, in := range orphans[:min(len(orphans), 5)] {
				ids = append(ids, in.CustomerID+"/"+in.EventID)
			}
			s.c.Log.WarnContext(ctx, "sweep: interactions stored but never enqueued, enqueued again",
				"shard", shard, "count", len(orphans), "first", ids)
		}
	}
	return res, nil
}

// Plan splits unapplied interactions by what their customer's pending set (pending, per
// customer) says: those it holds are applied and only need their mark (mark, per customer);
// the others are orphans to enqueue again, in their order.
func Plan(ins []interaction.Interaction, pending map[string][]string) (mark map[string][]string, orphans []interaction.Interaction) {
	mark = map[string][]string{}
	for _, in := range ins {
		if slices.Contains(pending[in.CustomerID], in.EventID) {
			mark[in.CustomerID] = append(mark[in.CustomerID], in.EventID)
			continue
		}
		orphans = append(orphans, in)
	}
	return mark, orphans
}

// customers lists the distinct customers of ins in order of first appearance.
func customers(ins []interaction.Interaction) []string {
	var out []string
	for _, in := range ins {
		if !slices.Contains(out, in.CustomerID) {
			out = append(out, in.CustomerID)
		}
	}
	return out
}
