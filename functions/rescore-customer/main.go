// Command rescore-customer consumes the rescore queue: it applies interactions to customer
// aggregates exactly once and reports only failed messages back to SQS.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/consumer"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/rescore"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		h, err := wire(ctx, log)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}

func wire(ctx context.Context, log *slog.Logger) (*consumer.Rescore, error) {
	var e env.Reader
	customersTable := e.String("CUSTOMERS_TABLE")
	interactionsTable := e.String("INTERACTIONS_TABLE")
	statsTable := e.String("STATS_TABLE")
	outboundURL := e.String("OUTBOUND_QUEUE_URL")
	voucherURL := e.String("VOUCHER_QUEUE_URL")
	if err := e.Err(); err != nil {
		return nil, err
	}
	cfg, err := scoring.FromEnv() // a bad SCORING_CONFIG fails the cold start
	if err != nil {
		return nil, err
	}
	eval, err := segment.NewEvaluator(cfg)
	if err != nil {
		return nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	sq := sqsqueue.NewClient(clients.Env)
	profiles, err := dynamostore.NewCustomers(clients.DynamoDB, customersTable)
	if err != nil {
		return nil, err
	}
	if profiles, err = profiles.WithCounters(statsTable); err != nil {
		return nil, err
	}
	marks, err := dynamostore.NewInteractions(clients.DynamoDB, interactionsTable)
	if err != nil {
		return nil, err
	}
	outQueue, err := sqsqueue.New(sq, outboundURL)
	if err != nil {
		return nil, err
	}
	out, err := outbound.New(outQueue)
	if err != nil {
		return nil, err
	}
	vouchers, err := sqsqueue.New(sq, voucherURL)
	if err != nil {
		return nil, err
	}
	svc, err := rescore.New(profiles, marks, rescore.Options{
		Evaluator: eval,
		Changes:   consumer.ChangeSink{History: profiles, Out: out},
		Vouchers:  consumer.VoucherRequests{Queue: vouchers},
		Now:       time.Now,
	})
	if err != nil {
		return nil, err
	}
	return consumer.NewRescore(svc, log), nil
}
