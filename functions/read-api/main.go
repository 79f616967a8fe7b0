// Command read-api serves the read routes for storefronts and marketing tools.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/httpapi"
)

func main() {
	log := lambdacontext.NewLogger()
	slog.SetDefault(log)
	router, err := wire(context.Background(), log)
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.StartWithOptions(router.Serve, lambda.WithEnableSIGTERM())
}

func wire(ctx context.Context, log *slog.Logger) (*httpapi.Router, error) {
	var e env.Reader
	customersTable := e.String("CUSTOMERS_TABLE")
	keysTable := e.String("API_KEYS_TABLE")
	currency := e.Optional("DEFAULT_CURRENCY", "EUR")
	if err := e.Err(); err != nil {
		return nil, err
	}
	clients, err := awsclient.Load(ctx)
	if err != nil {
		return nil, err
	}
	customers, err := dynamostore.NewCustomers(clients.DynamoDB, customersTable)
	if err != nil {
		return nil, err
	}
	keys, err := apikey.NewChecker(clients.DynamoDB, keysTable, time.Minute)
	if err != nil {
		return nil, err
	}
	r := httpapi.NewRouter(keys, log)
	api.RegisterRead(r, customers, currency)
	return r, nil
}
