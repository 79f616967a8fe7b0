// Command marketing-api serves the marketers' referral reads: the leaderboard and the funnel.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/funnel"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/referralstore"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		var e env.Reader
		keysTable := e.String("API_KEYS_TABLE")
		tables := referralstore.Tables{
			Referrals: e.String("REFERRALS_TABLE"), Vouchers: e.String("VOUCHERS_TABLE"),
			Ledger: e.String("LEDGER_TABLE"), Stats: e.String("STATS_TABLE"),
		}
		if err := e.Err(); err != nil {
			return nil, err
		}
		clients, err := awsclient.Load(ctx)
		if err != nil {
			return nil, err
		}
		store, err := referralstore.New(clients.DynamoDB, tables)
		if err != nil {
			return nil, err
		}
		counters, err := funnel.New(clients.DynamoDB, tables.Stats)
		if err != nil {
			return nil, err
		}
		r, err := httpapi.NewKeyedRouter(clients.DynamoDB, keysTable, log)
		if err != nil {
			return nil, err
		}
		api.RegisterMarketing(r, store, counters, time.Now)
		return r.Serve, nil
	})
}
