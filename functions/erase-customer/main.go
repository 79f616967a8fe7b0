// Command erase-customer serves DELETE /v1/customers/{id}: erases a customer's personal data
// from every table, keeping the ledger and referral amounts under a pseudonym (internal/erase).
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/httpapi"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		var e env.Reader
		keysTable := e.String("API_KEYS_TABLE")
		tables := erase.Tables{
			Customers: e.String("CUSTOMERS_TABLE"), Interactions: e.String("INTERACTIONS_TABLE"),
			Vouchers: e.String("VOUCHERS_TABLE"), Referrals: e.String("REFERRALS_TABLE"),
			Ledger: e.String("LEDGER_TABLE"), Stats: e.String("STATS_TABLE"),
		}
		salt := e.String("PSEUDONYM_SALT")
		if err := e.Err(); err != nil {
			return nil, err
		}
		clients, err := awsclient.Load(ctx)
		if err != nil {
			return nil, err
		}
		eraser, err := erase.New(clients.DynamoDB, tables, salt, time.Now)
		if err != nil {
			return nil, err
		}
		keys, err := apikey.NewCheckerFromEnv(clients.DynamoDB, keysTable)
		if err != nil {
			return nil, err
		}
		r := httpapi.NewRouter(keys, log)
		api.RegisterErase(r, eraser)
		return r.Serve, nil
	})
}
