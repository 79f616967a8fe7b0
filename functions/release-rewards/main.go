// Command release-rewards runs on a schedule: it finds the pending referrals whose return window
// has passed (every shard of the sparse `due` index) and enqueues their grants in batches.
package main

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/referralwire"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		app, err := referralwire.Load(ctx, log, referralwire.Needs{Grants: true})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, _ json.RawMessage) (map[string]int, error) {
			span := meter.Start()
			n, err := app.Service.Release(ctx)
			log.InfoContext(ctx, "release", span.Attrs("enqueued", n)...)
			if err != nil {
				log.ErrorContext(ctx, "release failed", "error", err.Error())
				return nil, err
			}
			return map[string]int{"enqueued": n}, nil
		}, nil
	})
}
