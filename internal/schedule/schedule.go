// Package schedule is the daily rescoring fan-out: it finds the customers whose segment can
// change with time alone (their next review is due) and asks the rescore consumer to
// re-evaluate each. It touches only the customers due, never the whole base.
package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
)

// Due lists customers due for review in one shard of the review index.
type Due interface {
	DueForReview(ctx context.Context, shard int, now time.Time, f func(ids []string) error) error
}

// Sender sends JSON bodies to the rescore queue, batching (sqsqueue.Publisher).
type Sender interface {
	SendJSON(ctx context.Context, bodies []string) error
}

// Fanout runs one scheduled rescoring.
type Fanout struct {
	due    Due
	queue  Sender
	shards int
}

// New builds the fan-out over shards shards of the review index.
func New(due Due, queue Sender, shards int) (*Fanout, error) {
	if due == nil || queue == nil || shards <= 0 {
		return nil, errors.New("schedule: index, queue and shard count are required")
	}
	return &Fanout{due: due, queue: queue, shards: shards}, nil
}

// parallelShards bounds the shards read at once.
const parallelShards = 4

// Run enqueues a review for every customer due at now and returns how many.
func (f *Fanout) Run(ctx context.Context, now time.Time) (int, error) {
	var total atomic.Int64
	errs := make([]error, f.shards)
	sem := make(chan struct{}, parallelShards)
	var wg sync.WaitGroup
	for shard := range f.shards {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[shard] = f.due.DueForReview(ctx, shard, now, func(ids []string) error {
				bodies := make([]string, len(ids))
				for i, id := range ids {
					b, err := json.Marshal(interaction.Envelope{Version: interaction.EnvelopeVersion, CustomerID: id, Review: true})
					if err != nil {
						return err
					}
					bodies[i] = string(b)
				}
				if err := f.queue.SendJSON(ctx, bodies); err != nil {
					return fmt.Errorf("enqueue %d reviews: %w", len(ids), err)
				}
				total.Add(int64(len(ids)))
				return nil
			})
		}()
	}
	wg.Wait()
	return int(total.Load()), errors.Join(errs...)
}
