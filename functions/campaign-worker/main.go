// Command campaign-worker consumes the VoucherQueue: it pages through campaign segments, issues
// each member's voucher once, issues vouchers after 5-star reviews, and publishes voucher.issued.
package main

import (
	"context"
	"log/slog"

	"github.com/referral-engine/referral-engine/internal/coldstart"
	"github.com/referral-engine/referral-engine/internal/consumer"
	"github.com/referral-engine/referral-engine/internal/env"
	"github.com/referral-engine/referral-engine/internal/issuewire"
)

func main() {
	coldstart.Run(func(ctx context.Context, log *slog.Logger) (any, error) {
		h, err := wire(ctx, log)
		if err != nil {
			return nil, err
		}
		return h.Handle, nil
	})
}

func wire(ctx context.Context, log *slog.Logger) (*consumer.Vouchers, error) {
	var e env.Reader
	shareBase := e.String("SHARE_BASE_URL") // no request to take it from here
	svc, _, err := issuewire.Service(ctx, &e, shareBase, log)
	if err != nil {
		return nil, err
	}
	return consumer.NewVouchers(svc, log), nil
}
