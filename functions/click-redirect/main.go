// Command click-redirect serves the public GET /r/{code}: it records the click for the referrer
// and redirects the shopper to the storefront (with ?ref={code} when the code is usable).
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/click"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/funnel"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
	"github.com/referral-engine/referral-engine/internal/voucherstore"
)

func main() { coldstart.RunRouter(wire) }

func wire(ctx context.Context, log *slog.Logger) (*httpapi.Router, error) {
	var e env.Reader
	vouchersTable := e.String("VOUCHERS_TABLE")
	statsTable := e.String("STATS_TABLE")
	interactionsTable := e.String("INTERACTIONS_TABLE")
	rescoreQueue := e.String("RESCORE_QUEUE_URL")
	storefront := e.String("STOREFRONT_URL")
	salt := e.String("CLICK_HASH_SALT")
	limit := e.Int("CLICK_LIMIT_PER_HOUR", 5)
	ttl := e.Days("INTERACTION_TTL_DAYS", 400)
	if err := e.Err(); err != nil {
		return nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	sq := sqsqueue.NewClient(clients.Env)
	vouchers, err := voucherstore.New(clients.DynamoDB, vouchersTable)
	if err != nil {
		return nil, err
	}
	// A browser never retries a redirect: a click stored but not enqueued is left to the sweeper.
	store, err := dynamostore.NewInteractions(clients.DynamoDB, interactionsTable, dynamostore.WithSweep())
	if err != nil {
		return nil, err
	}
	queue, err := sqsqueue.New(sq, rescoreQueue)
	if err != nil {
		return nil, err
	}
	rec, err := ingest.New(store, queue, ttl, time.Now)
	if err != nil {
		return nil, err
	}
	counters, err := funnel.New(clients.DynamoDB, statsTable)
	if err != nil {
		return nil, err
	}
	svc, err := click.New(click.Config{Codes: vouchers, Counter: vouchers, Recorder: rec, Funnel: counters, Storefront: storefront,
		Salt: salt, Limit: limit, Log: log})
	if err != nil {
		return nil, err
	}
	r := httpapi.NewRouter(nil, log)
	api.RegisterClicks(r, svc)
	return r, nil
}
