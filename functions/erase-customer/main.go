// Command erase-customer serves DELETE /v1/customers/{id}: erases a customer's personal data
// from every table, keeping the ledger and referral amounts under a pseudonym (internal/erase).
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
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
		outQueue := e.String("OUTBOUND_QUEUE_URL")
		if err := e.Err(); err != nil {
			return nil, err
		}
		clients, err := awsclient.Load(ctx)
		if err != nil {
			return nil, err
		}
		sq := sqsqueue.NewClient(clients.Env)
		eraser, err := erase.New(clients.DynamoDB, tables, salt, time.Now)
		if err != nil {
			return nil, err
		}
		q, err := sqsqueue.New(sq, outQueue)
		if err != nil {
			return nil, err
		}
		pub, err := outbound.New(q)
		if err != nil {
			return nil, err
		}
		eraser.WithPublisher(pub)
		r, err := httpapi.NewKeyedRouter(clients.DynamoDB, keysTable, log)
		if err != nil {
			return nil, err
		}
		api.RegisterErase(r, eraser)
		return r.Serve, nil
	})
}
