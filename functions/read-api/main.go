// Command read-api serves the read routes for storefronts and marketing tools.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/ledger"
	"github.com/referral-engine/referral-engine/internal/referral"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
	"github.com/referral-engine/referral-engine/internal/voucher"
	"github.com/referral-engine/referral-engine/internal/voucherstore"
)

func main() { coldstart.RunRouter(wire) }

func wire(ctx context.Context, log *slog.Logger) (*httpapi.Router, error) {
	var e env.Reader
	customersTable := e.String("CUSTOMERS_TABLE")
	keysTable := e.String("API_KEYS_TABLE")
	currency := e.Optional("DEFAULT_CURRENCY", "EUR")
	vouchersTable := e.String("VOUCHERS_TABLE")
	ledgerTable := e.String("LEDGER_TABLE")
	statsTable := e.String("STATS_TABLE")
	shareBase := e.Optional("SHARE_BASE_URL", "")
	if err := e.Err(); err != nil {
		return nil, err
	}
	cfg, err := scoring.FromEnv()
	if err != nil {
		return nil, err
	}
	eval, err := segment.NewEvaluator(cfg)
	if err != nil {
		return nil, err
	}
	vrules, err := voucher.NewRules(cfg, e.Optional(voucher.LimitsEnvVar, ""))
	if err != nil {
		return nil, err
	}
	terms, err := referral.TermsFrom(os.Getenv)
	if err != nil {
		return nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	customers, err := dynamostore.NewCustomers(clients.DynamoDB, customersTable)
	if err != nil {
		return nil, err
	}
	if customers, err = customers.WithCounters(statsTable); err != nil {
		return nil, err
	}
	r, err := httpapi.NewKeyedRouter(clients.DynamoDB, keysTable, log)
	if err != nil {
		return nil, err
	}
	vouchers, err := voucherstore.New(clients.DynamoDB, vouchersTable)
	if err != nil {
		return nil, err
	}
	points, err := ledger.NewReader(clients.DynamoDB, ledgerTable)
	if err != nil {
		return nil, err
	}
	api.RegisterRead(r, api.ReadDeps{Customers: customers, Evaluator: eval, Vouchers: vouchers, Ledger: points, ShareBase: shareBase, DefaultCurrency: currency,
		Rules: api.RulesOf(vrules, terms)})
	return r, nil
}
