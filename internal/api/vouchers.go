package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/click"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/issue"
	"github.com/referral-engine/referral-engine/internal/referral"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// Issuer issues vouchers and launches campaigns (issue.Service).
type Issuer interface {
	ForCustomer(ctx context.Context, a issue.Ask) (voucher.Voucher, bool, error)
	Launch(ctx context.Context, r issue.CampaignRequest) (voucher.Campaign, bool, error)
}

// maxSmallBody bounds the voucher and campaign request bodies.
const maxSmallBody = 4 << 10

// VoucherView is the body of POST /v1/customers/{id}/vouchers.
type VoucherView struct {
	Code           voucher.Code  `json:"code"`
	CustomerID     string        `json:"customer_id"`
	Program        string        `json:"program"`
	Status         string        `json:"status"`
	ShareURL       string        `json:"share_url"`
	FriendOffer    voucher.Offer `json:"friend_offer"`
	ReferrerReward voucher.Offer `json:"referrer_reward"`
	CreatedAt      time.Time     `json:"created_at"`
	ExpiresAt      time.Time     `json:"expires_at"`
	UseLimit       int           `json:"use_limit"`
	Uses           int           `json:"uses"`
	Reason         string        `json:"reason"`
	CampaignID     string        `json:"campaign_id,omitempty"`
}

// ViewOf is the API view of a voucher.
func ViewOf(v voucher.Voucher) VoucherView {
	return VoucherView{Code: v.Code, CustomerID: v.CustomerID, Program: v.Program, Status: v.Status, ShareURL: v.ShareURL,
		FriendOffer: v.FriendOffer, ReferrerReward: v.ReferrerReward, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt,
		UseLimit: v.UseLimit, Uses: v.Uses, Reason: v.Reason, CampaignID: v.CampaignID}
}

// CampaignView is the body of POST /v1/campaigns.
type CampaignView struct {
	voucher.Campaign
	Relaunched bool `json:"relaunched"`
}

// RegisterVouchers adds the issue-voucher function's routes. shareBase is the configured base of
// share links; "" derives it from the request (this API's own URL).
func RegisterVouchers(r *httpapi.Router, iss Issuer, shareBase string) {
	r.Handle("POST /v1/customers/{id}/vouchers", apikey.ScopeIngest, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		id := req.PathParameters["id"]
		if id == "" || len(id) > voucher.MaxCustomerID || strings.ContainsAny(id, "#\x00") {
			return httpapi.Response{}, apperr.Invalid("id", "customer id must be 1-128 characters without '#'")
		}
		var body struct {
			Program   string `json:"program"`
			FirstName string `json:"first_name"`
			// Email, optional, is kept only as a hash on the code, so that a friend with the
			// referrer's own email is refused as a self-referral.
			Email string `json:"email"`
		}
		if err := decodeOptional(req, &body); err != nil {
			return httpapi.Response{}, err
		}
		if len(body.FirstName) > 100 {
			return httpapi.Response{}, apperr.Invalid("first_name", "at most 100 characters")
		}
		var emailHash string
		if body.Email != "" {
			h, err := referral.EmailHash(body.Email)
			if err != nil {
				return httpapi.Response{}, apperr.Invalid("email", "%s", err.Error())
			}
			emailHash = h
		}
		base := shareBase
		if base == "" {
			base = RequestBaseURL(req)
		}
		v, created, err := iss.ForCustomer(ctx, issue.Ask{CustomerID: id, Program: body.Program, FirstName: body.FirstName, EmailHash: emailHash, ShareBase: base})
		if err != nil {
			return httpapi.Response{}, err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return httpapi.JSON(status, ViewOf(v))
	})
	r.Handle("POST /v1/campaigns", apikey.ScopeAdmin, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		var body issue.CampaignRequest
		if err := decodeOptional(req, &body); err != nil {
			return httpapi.Response{}, err
		}
		if body.Segment == "" {
			return httpapi.Response{}, apperr.Invalid("segment", "segment is required")
		}
		c, relaunched, err := iss.Launch(ctx, body)
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.JSON(http.StatusAccepted, CampaignView{Campaign: c, Relaunched: relaunched})
	})
}

// decodeOptional decodes a JSON object body strictly (unknown fields refused by name); an empty
// body leaves v as it is.
func decodeOptional(req httpapi.Request, v any) error {
	b, err := httpapi.Body(req, maxSmallBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return apperr.BadJSON(te.Field, "must be a %s", te.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return apperr.BadJSON(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
		default:
			return apperr.BadJSON("body", "body is not a JSON object: %v", err)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.BadJSON("body", "one JSON object expected")
	}
	return nil
}

// RequestBaseURL is the base URL the request came in on: scheme and host, and the stage when it
// is in the path (execute-api domains with a named stage).
func RequestBaseURL(req httpapi.Request) string {
	host := req.RequestContext.DomainName
	if host == "" {
		host = httpapi.Header(req, "host")
	}
	proto := httpapi.Header(req, "x-forwarded-proto")
	if proto == "" {
		proto = "https"
	}
	base := proto + "://" + host
	if st := req.RequestContext.Stage; st != "" && st != "$default" && strings.HasSuffix(host, ".amazonaws.com") {
		base += "/" + url.PathEscape(st)
	}
	return base
}

// Clicker handles referral link clicks (click.Service).
type Clicker interface {
	Handle(ctx context.Context, cl click.Click) (string, click.Outcome)
}

// RegisterClicks adds the click-redirect function's public route: always a 302, never cached.
func RegisterClicks(r *httpapi.Router, c Clicker) {
	r.Public("GET /r/{code}", func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		q, _ := url.ParseQuery(req.RawQueryString)
		loc, _ := c.Handle(ctx, click.Click{
			Code: req.PathParameters["code"], ClientIP: req.RequestContext.HTTP.SourceIP,
			UserAgent: req.RequestContext.HTTP.UserAgent, RequestID: req.RequestContext.RequestID, Query: q,
		})
		return httpapi.Response{StatusCode: http.StatusFound, Headers: map[string]string{
			"location": loc, "cache-control": "no-store", "referrer-policy": "no-referrer",
			"x-robots-tag": "noindex",
		}}, nil
	})
}
