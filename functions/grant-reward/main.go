// Command grant-reward consumes the GrantQueue: it grants each due reward exactly once into the
// ledger and publishes reward.granted.
package main

import (
	"context"
	"log/slog"

	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/consumer"
	"github.com/referral-engine/referral-engine/internal/referralwire"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		app, err := referralwire.Load(ctx, log, referralwire.Needs{})
		if err != nil {
			return nil, err
		}
		return consumer.NewGrant(app.Service, log).Handle, nil
	})
}
