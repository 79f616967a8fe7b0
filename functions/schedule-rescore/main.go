// Command schedule-rescore is the daily rescoring trigger: it fans out a review for every
// customer whose segment can change with time alone (decay, the 30-day new-customer window,
// the 180-day lapse), through the rescore queue.
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
	"github.com/referral-engine/referral-engine/internal/schedule"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		f, err := wire(ctx)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, ev events.EventBridgeEvent) (map[string]int, error) {
			span := meter.Start()
			n, err := f.Run(ctx, time.Now())
			log.InfoContext(ctx, "scheduled rescoring", span.Attrs("due", n)...)
			return map[string]int{"due": n}, err
		}, nil
	})
}

func wire(ctx context.Context) (*schedule.Fanout, error) {
	var e env.Reader
	customersTable := e.String("CUSTOMERS_TABLE")
	queueURL := e.String("RESCORE_QUEUE_URL")
	if err := e.Err(); err != nil {
		return nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	sq := sqsqueue.NewClient(clients.Env)
	customers, err := dynamostore.NewCustomers(clients.DynamoDB, customersTable)
	if err != nil {
		return nil, err
	}
	queue, err := sqsqueue.New(sq, queueURL)
	if err != nil {
		return nil, err
	}
	return schedule.New(customers, queue, dynamostore.ReviewShards)
}
