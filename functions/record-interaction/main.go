// Command record-interaction serves POST /v1/interactions: validate, store once, enqueue.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
)

func main() { coldstart.RunRouter(wire) }

func wire(ctx context.Context, log *slog.Logger) (*httpapi.Router, error) {
	var e env.Reader
	interactionsTable := e.String("INTERACTIONS_TABLE")
	keysTable := e.String("API_KEYS_TABLE")
	queueURL := e.String("RESCORE_QUEUE_URL")
	redeemURL := e.Optional("REDEEM_QUEUE_URL", "") // purchases with a referral_code
	ttl := e.Days("INTERACTION_TTL_DAYS", 400)
	if err := e.Err(); err != nil {
		return nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	sq := sqsqueue.NewClient(clients.Env)
	store, err := dynamostore.NewInteractions(clients.DynamoDB, interactionsTable)
	if err != nil {
		return nil, err
	}
	queue, err := sqsqueue.New(sq, queueURL)
	if err != nil {
		return nil, err
	}
	svc, err := ingest.New(store, queue, ttl, time.Now)
	if err != nil {
		return nil, err
	}
	if redeemURL != "" {
		redeem, err := sqsqueue.New(sq, redeemURL)
		if err != nil {
			return nil, err
		}
		svc.WithReferrals(redeem)
	}
	r, err := httpapi.NewKeyedRouter(clients.DynamoDB, keysTable, log)
	if err != nil {
		return nil, err
	}
	api.RegisterIngest(r, svc)
	return r, nil
}
