// Package issuewire builds the voucher issuing service that issue-voucher and campaign-worker
// share, from their environment, once per cold start: a missing or malformed variable fails the
// cold start, naming it.
package issuewire

import (
	"context"
	"log/slog"
	"time"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/issue"
	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
	"github.com/referral-engine/referral-engine/internal/voucher"
	"github.com/referral-engine/referral-engine/internal/voucherstore"
)

// Service reads the shared variables through e (after the caller's own), checks them all, and
// builds the service; shareBase is the base of share URLs ("" for the request's own URL).
func Service(ctx context.Context, e *env.Reader, shareBase string, log *slog.Logger) (*issue.Service, *awsclient.Clients, error) {
	customersTable := e.String("CUSTOMERS_TABLE")
	vouchersTable := e.String("VOUCHERS_TABLE")
	statsTable := e.String("STATS_TABLE")
	voucherQueue := e.String("VOUCHER_QUEUE_URL")
	outboundQueue := e.String("OUTBOUND_QUEUE_URL")
	limits := e.Optional(voucher.LimitsEnvVar, "")
	grace := e.Seconds("VOUCHER_PUBLISH_GRACE_SECONDS", int(issue.StaleAfter/time.Second))
	if err := e.Err(); err != nil {
		return nil, nil, err
	}
	cfg, err := scoring.FromEnv()
	if err != nil {
		return nil, nil, err
	}
	rules, err := voucher.NewRules(cfg, limits)
	if err != nil {
		return nil, nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	sq := sqsqueue.NewClient(clients.Env)
	vouchers, err := voucherstore.New(clients.DynamoDB, vouchersTable, voucherstore.WithFunnel(statsTable))
	if err != nil {
		return nil, nil, err
	}
	customers, err := dynamostore.NewCustomers(clients.DynamoDB, customersTable)
	if err != nil {
		return nil, nil, err
	}
	// A campaign's count is read from the segment counters.
	if customers, err = customers.WithCounters(statsTable); err != nil {
		return nil, nil, err
	}
	queue, err := sqsqueue.New(sq, voucherQueue)
	if err != nil {
		return nil, nil, err
	}
	out, err := sqsqueue.New(sq, outboundQueue)
	if err != nil {
		return nil, nil, err
	}
	pub, err := outbound.New(out)
	if err != nil {
		return nil, nil, err
	}
	svc, err := issue.New(issue.Config{Vouchers: vouchers, Profiles: customers, Publisher: pub, Queue: queue,
		Rules: rules, ShareBase: shareBase, PublishGrace: grace, Log: log})
	if err != nil {
		return nil, nil, err
	}
	return svc, clients, nil
}
