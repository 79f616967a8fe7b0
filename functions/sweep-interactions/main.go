// Command sweep-interactions enqueues again, every few minutes, the interactions stored but
// never applied that no client will replay (referral link clicks whose enqueue failed): see
// package sweep.
//
// Its own function rather than a second schedule of schedule-rescore: it runs every few minutes
// instead of daily, reads other items (the interactions' pending index, customers' pending sets)
// and marks interactions, so it keeps its own least-privilege policy, timeout and error alarm,
// and each handler stays a plain wiring of one domain service.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
	"github.com/referral-engine/referral-engine/internal/sweep"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		s, err := wire(ctx, log)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, ev events.EventBridgeEvent) (sweep.Result, error) {
			span := meter.Start()
			res, err := s.Run(ctx, time.Now())
			log.InfoContext(ctx, "interaction sweep", span.Attrs("found", res.Found, "enqueued", res.Enqueued, "marked", res.Marked)...)
			return res, err
		}, nil
	})
}

func wire(ctx context.Context, log *slog.Logger) (*sweep.Sweeper, error) {
	var e env.Reader
	interactionsTable := e.String("INTERACTIONS_TABLE")
	customersTable := e.String("CUSTOMERS_TABLE")
	queueURL := e.String("RESCORE_QUEUE_URL")
	grace := e.Seconds("SWEEP_GRACE_SECONDS", 600)
	limit := e.Int("SWEEP_MAX_PER_RUN", 10000)
	if err := e.Err(); err != nil {
		return nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	interactions, err := dynamostore.NewInteractions(clients.DynamoDB, interactionsTable)
	if err != nil {
		return nil, err
	}
	customers, err := dynamostore.NewCustomers(clients.DynamoDB, customersTable)
	if err != nil {
		return nil, err
	}
	queue, err := sqsqueue.New(sqsqueue.NewClient(clients.Env), queueURL)
	if err != nil {
		return nil, err
	}
	return sweep.New(sweep.Config{Index: interactions, Interactions: interactions, Pending: customers, Queue: queue,
		Shards: dynamostore.PendingShards, Grace: grace, Limit: limit, Log: log})
}
