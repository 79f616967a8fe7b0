package consumer

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/issue"
	"github.com/referral-engine/referral-engine/internal/meter"
)

// VoucherHandler processes one VoucherQueue message (issue.Service).
type VoucherHandler interface {
	Handle(ctx context.Context, m issue.Message) error
}

// parallelVoucherMessages bounds the messages of a batch processed at once (each issues up to
// issue.PageSize vouchers, themselves in parallel).
const parallelVoucherMessages = 2

// Vouchers is the campaign-worker handler.
type Vouchers struct {
	svc VoucherHandler
	log *slog.Logger
}

// NewVouchers builds the handler.
func NewVouchers(svc VoucherHandler, log *slog.Logger) *Vouchers {
	if log == nil {
		log = slog.Default()
	}
	return &Vouchers{svc: svc, log: log}
}

// Handle processes a batch, reporting only the messages that failed.
func (h *Vouchers) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	span := meter.Start()
	var (
		resp events.SQSEventResponse
		mu   sync.Mutex
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallelVoucherMessages)
		done int
	)
	for _, rec := range ev.Records {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m, err := issue.Decode(rec.Body)
			if err == nil {
				err = h.svc.Handle(ctx, m)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				level := slog.LevelError
				if !errors.Is(err, issue.ErrBadMessage) {
					level = slog.LevelWarn // transient: retried
				}
				h.log.Log(ctx, level, "voucher message failed", "message_id", rec.MessageId, "reason", m.Reason,
					"campaign_id", m.CampaignID, "error", err.Error(), "receive_count", rec.Attributes["ApproximateReceiveCount"])
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
				return
			}
			done++
		})
	}
	wg.Wait()
	h.log.InfoContext(ctx, "batch", span.Attrs("messages", len(ev.Records), "done", done, "failed", len(resp.BatchItemFailures))...)
	return resp, nil
}
