// Command redeem-referral serves POST /v1/referrals and POST /v1/orders/{order_id}/refunds, and
// consumes the RedeemQueue (purchases with a referral_code recorded through /v1/interactions).
package main

import (
	"context"
	"log/slog"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/consumer"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/referralwire"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		var e env.Reader
		keysTable := e.String("API_KEYS_TABLE")
		if err := e.Err(); err != nil {
			return nil, err
		}
		app, err := referralwire.Load(ctx, log, referralwire.Needs{Redeem: true, Grants: true})
		if err != nil {
			return nil, err
		}
		r, err := httpapi.NewKeyedRouter(app.Clients.DynamoDB, keysTable, log)
		if err != nil {
			return nil, err
		}
		api.RegisterReferrals(r, app.Service)
		return consumer.Mux(r.Serve, consumer.NewRedeem(app.Service, log).Handle), nil
	})
}
