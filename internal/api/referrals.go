package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/funnel"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/referral"
	"github.com/referral-engine/referral-engine/internal/referralstore"
)

// Referrals redeems referred orders and refunds them (referral.Service).
type Referrals interface {
	Redeem(ctx context.Context, r referral.Redemption) (referral.Answer, error)
	RefundOrder(ctx context.Context, orderID string, r referral.RefundRequest) (referral.RefundAnswer, error)
}

// RegisterReferrals adds the redeem-referral function's routes.
func RegisterReferrals(r *httpapi.Router, svc Referrals) {
	r.Handle("POST /v1/referrals", apikey.ScopeIngest, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		body, err := httpapi.Body(req, referral.MaxBody)
		if err != nil {
			return httpapi.Response{}, err
		}
		red, err := referral.DecodeRedemption(body)
		if err != nil {
			return httpapi.Response{}, err
		}
		ans, err := svc.Redeem(ctx, red)
		if err != nil {
			return httpapi.Response{}, referral.HTTP(err)
		}
		return httpapi.JSON(http.StatusCreated, ans)
	})
	r.Handle("POST /v1/orders/{order_id}/refunds", apikey.ScopeIngest, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		id := req.PathParameters["order_id"]
		if id == "" || len(id) > 128 {
			return httpapi.Response{}, apperr.Invalid("order_id", "order id must be 1-128 characters")
		}
		body, err := httpapi.Body(req, referral.MaxBody)
		if err != nil {
			return httpapi.Response{}, err
		}
		rr, err := referral.DecodeRefund(body)
		if err != nil {
			return httpapi.Response{}, err
		}
		ans, err := svc.RefundOrder(ctx, id, rr)
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.JSON(http.StatusOK, ans)
	})
}

// Leaderboard reads the referral leaderboard (referralstore.Store).
type Leaderboard interface {
	Leaderboard(ctx context.Context, days, limit int, now time.Time) ([]referralstore.Leader, error)
}

// FunnelReader reads the funnel counters (funnel.Counters).
type FunnelReader interface {
	Read(ctx context.Context) (map[string]funnel.Funnel, error)
}

// LeaderboardView is the body of GET /v1/leaderboard.
type LeaderboardView struct {
	Days    int                    `json:"days"`
	Leaders []referralstore.Leader `json:"leaders"`
}

// FunnelView is the body of GET /v1/stats/funnel.
type FunnelView struct {
	Stages   []string                 `json:"stages"`
	Programs map[string]funnel.Funnel `json:"programs"`
}

func intParam(req httpapi.Request, name string, def, lo, hi int) (int, error) {
	v, ok := req.QueryStringParameters[name]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, apperr.Invalid(name, "must be a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

// RegisterMarketing adds the marketing-api function's routes.
func RegisterMarketing(r *httpapi.Router, lb Leaderboard, fr FunnelReader, now func() time.Time) {
	r.Handle("GET /v1/leaderboard", apikey.ScopeRead, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		limit, err := intParam(req, "limit", 10, 1, 100)
		if err != nil {
			return httpapi.Response{}, err
		}
		days, err := intParam(req, "days", 30, 1, 90)
		if err != nil {
			return httpapi.Response{}, err
		}
		leaders, err := lb.Leaderboard(ctx, days, limit, now())
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.JSON(http.StatusOK, LeaderboardView{Days: days, Leaders: leaders})
	})
	r.Handle("GET /v1/stats/funnel", apikey.ScopeRead, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		f, err := fr.Read(ctx)
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.JSON(http.StatusOK, FunnelView{Stages: funnel.Stages, Programs: f})
	})
}
