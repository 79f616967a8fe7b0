package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/referral"
)

// Redeemer redeems referrals and applies refunds (referral.Service).
type Redeemer interface {
	Redeem(ctx context.Context, r referral.Redemption) (referral.Answer, error)
	RefundInteraction(ctx context.Context, in interaction.Interaction) (referral.RefundAnswer, error)
}

// Granter grants rewards (referral.Service).
type Granter interface {
	Grant(ctx context.Context, referralID string) (referral.GrantOutcome, error)
}

// Redeem consumes the RedeemQueue: purchases recorded through POST /v1/interactions with a
// referral_code, and refunds (which void or reverse the order's referral reward when they refund
// its total). A refusal is final (logged, the message deleted); an error retries the message.
type Redeem struct {
	svc Redeemer
	log *slog.Logger
}

// NewRedeem builds the handler.
func NewRedeem(svc Redeemer, log *slog.Logger) *Redeem {
	if log == nil {
		log = slog.Default()
	}
	return &Redeem{svc: svc, log: log}
}

// Handle processes a batch, reporting only failed messages.
func (h *Redeem) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	span := meter.Start()
	var resp events.SQSEventResponse
	var n counts
	for _, m := range ev.Records {
		err := h.one(ctx, m.Body, &n)
		if err != nil {
			h.log.ErrorContext(ctx, "redeem failed", "message_id", m.MessageId, "error", err.Error(),
				"receive_count", m.Attributes["ApproximateReceiveCount"])
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	logBatch(ctx, h.log, span, len(ev.Records), len(resp.BatchItemFailures), "redeemed", n.redeemed, "refused", n.refused, "refunds", n.refunds)
	return resp, nil
}

type counts struct{ redeemed, refused, refunds int }

func (h *Redeem) one(ctx context.Context, body string, n *counts) error {
	env, err := decode(body)
	if err != nil {
		return err
	}
	for _, in := range env.Interactions {
		if in.Type == interaction.Refund {
			ans, err := h.svc.RefundInteraction(ctx, in)
			if err != nil {
				return fmt.Errorf("refund order %s: %w", in.Properties.OrderID, err)
			}
			n.refunds++
			h.log.InfoContext(ctx, "refund", "order_id", ans.OrderID, "referral_id", ans.ReferralID, "status", ans.Status)
			continue
		}
		if in.Type != interaction.Purchase || in.Properties.ReferralCode == "" {
			continue
		}
		r, err := referral.FromPurchase(in)
		if err != nil {
			return err
		}
		ans, err := h.svc.Redeem(ctx, r)
		if rf, ok := referral.AsRefusal(err); ok {
			n.refused++
			h.log.InfoContext(ctx, "redemption refused", "order_id", r.OrderID, "code", r.Code, "reason", rf.Reason)
			continue
		}
		if err != nil {
			return fmt.Errorf("redeem order %s: %w", r.OrderID, err)
		}
		n.redeemed++
		h.log.InfoContext(ctx, "redeemed", "order_id", r.OrderID, "referral_id", ans.ReferralID)
	}
	return nil
}

// Grant consumes the GrantQueue.
type Grant struct {
	svc Granter
	log *slog.Logger
}

// NewGrant builds the handler.
func NewGrant(svc Granter, log *slog.Logger) *Grant {
	if log == nil {
		log = slog.Default()
	}
	return &Grant{svc: svc, log: log}
}

// Handle processes a batch, reporting only failed messages.
func (h *Grant) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	span := meter.Start()
	var resp events.SQSEventResponse
	outcomes := map[referral.GrantOutcome]int{}
	for _, m := range ev.Records {
		msg, err := referral.DecodeGrant(m.Body)
		var out referral.GrantOutcome
		if err == nil {
			out, err = h.svc.Grant(ctx, msg.ReferralID)
		}
		if err != nil {
			h.log.ErrorContext(ctx, "grant failed", "message_id", m.MessageId, "error", err.Error(),
				"receive_count", m.Attributes["ApproximateReceiveCount"])
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			continue
		}
		outcomes[out]++
	}
	logBatch(ctx, h.log, span, len(ev.Records), len(resp.BatchItemFailures),
		"granted", outcomes[referral.GrantedNow], "already_granted", outcomes[referral.AlreadyGranted],
		"not_due", outcomes[referral.NotDue], "closed", outcomes[referral.Closed], "unknown", outcomes[referral.Unknown])
	return resp, nil
}

func logBatch(ctx context.Context, log *slog.Logger, span meter.Span, n, failed int, kv ...any) {
	log.InfoContext(ctx, "batch", span.Attrs(append([]any{"messages", n, "failed", failed}, kv...)...)...)
}

// Mux serves a function that is both an HTTP API handler and an SQS consumer: it tells the
// event types apart by their shape.
func Mux(http func(context.Context, httpapi.Request) (httpapi.Response, error), sqs func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			Records []struct {
				EventSource string `json:"eventSource"`
			} `json:"Records"`
		}
		_ = json.Unmarshal(raw, &probe)
		if len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs" {
			var ev events.SQSEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("decode SQS event: %w", err)
			}
			return sqs(ctx, ev)
		}
		var req httpapi.Request
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("decode HTTP API event: %w", err)
		}
		return http(ctx, req)
	}
}
