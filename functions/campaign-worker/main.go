// Command campaign-worker consumes the VoucherQueue: it pages through campaign segments, issues
// each member's voucher once, issues vouchers after 5-star reviews, and publishes voucher.issued.
package main

import (
	"context"
	"log/slog"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/consumer"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/issue"
	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
	"github.com/referral-engine/referral-engine/internal/voucher"
	"github.com/referral-engine/referral-engine/internal/voucherstore"
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

func wire(ctx context.Context, log *slog.Logger) (*consumer.Vouchers, error) {
	var e env.Reader
	customersTable := e.String("CUSTOMERS_TABLE")
	vouchersTable := e.String("VOUCHERS_TABLE")
	statsTable := e.String("STATS_TABLE")
	voucherQueue := e.String("VOUCHER_QUEUE_URL")
	outboundQueue := e.String("OUTBOUND_QUEUE_URL")
	shareBase := e.String("SHARE_BASE_URL") // no request to take it from here
	if err := e.Err(); err != nil {
		return nil, err
	}
	cfg, err := scoring.FromEnv()
	if err != nil {
		return nil, err
	}
	rules, err := voucher.NewRules(cfg, e.Optional(voucher.LimitsEnvVar, ""))
	if err != nil {
		return nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	vouchers, err := voucherstore.New(clients.DynamoDB, vouchersTable, voucherstore.WithFunnel(statsTable))
	if err != nil {
		return nil, err
	}
	customers, err := dynamostore.NewCustomers(clients.DynamoDB, customersTable)
	if err != nil {
		return nil, err
	}
	queue, err := sqsqueue.New(clients.SQS, voucherQueue)
	if err != nil {
		return nil, err
	}
	out, err := sqsqueue.New(clients.SQS, outboundQueue)
	if err != nil {
		return nil, err
	}
	pub, err := outbound.New(out)
	if err != nil {
		return nil, err
	}
	svc, err := issue.New(issue.Config{Vouchers: vouchers, Profiles: customers, Publisher: pub, Queue: queue,
		Rules: rules, ShareBase: shareBase, Log: log})
	if err != nil {
		return nil, err
	}
	return consumer.NewVouchers(svc, log), nil
}
