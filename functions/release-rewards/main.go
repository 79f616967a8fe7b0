// Command release-rewards runs on a schedule: it finds the pending referrals whose return window
// has passed (every shard of the sparse `due` index) and enqueues their grants in batches.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

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
			start, used := time.Now(), meter.Snapshot()
			n, err := app.Service.Release(ctx)
			u := meter.Snapshot().Sub(used)
			log.InfoContext(ctx, "release", "enqueued", n, "duration_ms", time.Since(start).Milliseconds(),
				"rcu", u.ReadUnits(), "wcu", u.WriteUnits(), "ddb_calls", u.DynamoDBCalls, "sqs_requests", u.SQSRequests)
			if err != nil {
				log.ErrorContext(ctx, "release failed", "error", err.Error())
				return nil, err
			}
			return map[string]int{"enqueued": n}, nil
		}, nil
	})
}
