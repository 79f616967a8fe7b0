// Package referralwire builds the referral service the referral functions share from their
// environment, once per cold start: a missing or malformed variable fails the cold start,
// naming it.
package referralwire

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/referral"
	"github.com/referral-engine/referral-engine/internal/referralstore"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
)

// Needs says which optional parts a function uses.
type Needs struct {
	Redeem bool // reads friends' profiles and hashes fingerprints (FINGERPRINT_SALT)
	Grants bool // sends to the grant queue (GRANT_QUEUE_URL)
}

// App is what the referral functions are built from.
type App struct {
	Clients *awsclient.Clients
	Store   *referralstore.Store
	Service *referral.Service
	Tables  referralstore.Tables
}

// Load reads the environment and builds the service.
func Load(ctx context.Context, log *slog.Logger, needs Needs) (*App, error) {
	var e env.Reader
	tables := referralstore.Tables{
		Referrals: e.String("REFERRALS_TABLE"), Vouchers: e.String("VOUCHERS_TABLE"),
		Ledger: e.String("LEDGER_TABLE"), Stats: e.String("STATS_TABLE"),
	}
	interactionsTable := e.String("INTERACTIONS_TABLE")
	rescoreURL := e.String("RESCORE_QUEUE_URL")
	outboundURL := e.String("OUTBOUND_QUEUE_URL")
	ttl := e.Days("INTERACTION_TTL_DAYS", 400)
	var customersTable, grantURL, salt string
	if needs.Redeem {
		customersTable = e.String("CUSTOMERS_TABLE")
		salt = e.String("FINGERPRINT_SALT")
	}
	if needs.Grants {
		grantURL = e.String("GRANT_QUEUE_URL")
	}
	terms, termsErr := Terms()
	if err := e.Err(); err != nil || termsErr != nil {
		if err == nil {
			err = termsErr
		} else if termsErr != nil {
			err = fmt.Errorf("%w; %w", err, termsErr)
		}
		return nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	sq := sqsqueue.NewClient(clients.Env)
	store, err := referralstore.New(clients.DynamoDB, tables)
	if err != nil {
		return nil, err
	}
	interactions, err := dynamostore.NewInteractions(clients.DynamoDB, interactionsTable)
	if err != nil {
		return nil, err
	}
	rescore, err := sqsqueue.New(sq, rescoreURL)
	if err != nil {
		return nil, err
	}
	recorder, err := ingest.New(interactions, rescore, ttl, time.Now)
	if err != nil {
		return nil, err
	}
	out, err := sqsqueue.New(sq, outboundURL)
	if err != nil {
		return nil, err
	}
	events, err := outbound.New(out)
	if err != nil {
		return nil, err
	}
	deps := referral.Deps{Store: store, Events: events, Recorder: recorder, Terms: terms, Salt: []byte(salt), Log: log}
	if needs.Redeem {
		if deps.Profiles, err = dynamostore.NewCustomers(clients.DynamoDB, customersTable); err != nil {
			return nil, err
		}
	}
	if needs.Grants {
		if deps.Grants, err = sqsqueue.New(sq, grantURL); err != nil {
			return nil, err
		}
	}
	svc, err := referral.NewService(deps)
	if err != nil {
		return nil, err
	}
	return &App{Clients: clients, Store: store, Service: svc, Tables: tables}, nil
}

// Terms reads the referral terms from the function's environment (referral.TermsFrom).
func Terms() (referral.Terms, error) { return referral.TermsFrom(os.Getenv) }
