// Command issue-voucher serves POST /v1/customers/{id}/vouchers (a customer's voucher, issued
// once per program) and POST /v1/campaigns (vouchers to a whole segment, asynchronously).
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/issue"
	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
	"github.com/referral-engine/referral-engine/internal/voucher"
	"github.com/referral-engine/referral-engine/internal/voucherstore"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		r, err := wire(ctx, log)
		if err != nil {
			return nil, err
		}
		return r.Serve, nil
	})
}

func wire(ctx context.Context, log *slog.Logger) (*httpapi.Router, error) {
	var e env.Reader
	customersTable := e.String("CUSTOMERS_TABLE")
	vouchersTable := e.String("VOUCHERS_TABLE")
	statsTable := e.String("STATS_TABLE")
	keysTable := e.String("API_KEYS_TABLE")
	voucherQueue := e.String("VOUCHER_QUEUE_URL")
	outboundQueue := e.String("OUTBOUND_QUEUE_URL")
	shareBase := e.Optional("SHARE_BASE_URL", "") // "": this API's URL, from each request
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
	keys, err := apikey.NewChecker(clients.DynamoDB, keysTable, time.Minute)
	if err != nil {
		return nil, err
	}
	r := httpapi.NewRouter(keys, log)
	api.RegisterVouchers(r, svc, shareBase)
	return r, nil
}
