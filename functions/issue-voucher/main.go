// Command issue-voucher serves POST /v1/customers/{id}/vouchers (a customer's voucher, issued
// once per program) and POST /v1/campaigns (vouchers to a whole segment, asynchronously).
package main

import (
	"context"
	"log/slog"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/issuewire"
)

func main() { coldstart.RunRouter(wire) }

func wire(ctx context.Context, log *slog.Logger) (*httpapi.Router, error) {
	var e env.Reader
	keysTable := e.String("API_KEYS_TABLE")
	shareBase := e.Optional("SHARE_BASE_URL", "") // "": this API's URL, from each request
	svc, clients, err := issuewire.Service(ctx, &e, shareBase, log)
	if err != nil {
		return nil, err
	}
	r, err := httpapi.NewKeyedRouter(clients.DynamoDB, keysTable, log)
	if err != nil {
		return nil, err
	}
	api.RegisterVouchers(r, svc, shareBase)
	return r, nil
}
