// Command issue-voucher serves POST /v1/customers/{id}/vouchers (a customer's voucher, issued
// once per program) and POST /v1/campaigns (vouchers to a whole segment, asynchronously).
package main

import (
	"context"
	"log/slog"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/issuewire"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		r, err := wire(ctx, log)
		if err != nil {
			return nil, err
		}
		return r.Serve, nil
	})
}

func wire(ctx context.Context, log *slog.Logger) (*httpapi.Router, error) {
	var e env.Reader
	keysTable := e.String("API_KEYS_TABLE")
	shareBase := e.Optional("SHARE_BASE_URL", "") // "": this API's URL, from each request
	svc, clients, err := issuewire.Service(ctx, &e, shareBase, log)
	if err != nil {
		return nil, err
	}
	keys, err := apikey.NewCheckerFromEnv(clients.DynamoDB, keysTable)
	if err != nil {
		return nil, err
	}
	r := httpapi.NewRouter(keys, log)
	api.RegisterVouchers(r, svc, shareBase)
	return r, nil
}
