// Package api registers the HTTP routes of each API function on an httpapi.Router. The same
// registration serves the Lambda and the template test that checks every route has a handler.
package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/ledger"
	"github.com/referral-engine/referral-engine/internal/metrics"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// Recorder records interactions (ingest.Service).
type Recorder interface {
	Record(ctx context.Context, body []byte) (ingest.Result, error)
}

// RegisterIngest adds the record-interaction function's routes.
func RegisterIngest(r *httpapi.Router, rec Recorder) {
	r.Handle("POST /v1/interactions", apikey.ScopeIngest, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		body, err := httpapi.Body(req, interaction.MaxBody)
		if err != nil {
			return httpapi.Response{}, err
		}
		res, err := rec.Record(ctx, body)
		if err != nil {
			return httpapi.Response{}, err // a 4xx is counted by the router (RequestsRefused)
		}
		metrics.Emit(nil, metrics.M{Name: metrics.InteractionsAccepted, Value: float64(res.Accepted)},
			metrics.M{Name: metrics.InteractionsDuplicate, Value: float64(res.Duplicates)})
		return httpapi.JSON(http.StatusAccepted, res)
	})
}

// Customers reads what the read API shows (dynamostore.Customers).
type Customers interface {
	View(ctx context.Context, customerID string) (*dynamostore.View, error)
	Members(ctx context.Context, segment, subSegment string, shard int, after string, limit int) ([]dynamostore.Member, int, string, error)
	// SegmentCounts reads the segment counters of segments (one BatchGetItem).
	SegmentCounts(ctx context.Context, segments []string) (map[string]segment.Count, error)
}

// Evaluator scores and segments a customer at read time, so the view shows today's decayed
// score and the reasons in words (segment.Evaluator).
type Evaluator interface {
	Evaluate(c *aggregate.Customer, s *scoring.Signals, now time.Time) scoring.Result
	Programs() []segment.Program
}

// CustomerView is the body of GET /v1/customers/{id}.
type CustomerView struct {
	*aggregate.Customer
	AverageBasket   int64             `json:"average_basket"`
	BasketCurrency  string            `json:"basket_currency"`
	BasketTrend     float64           `json:"basket_trend"`
	FiveStarReviews int               `json:"five_star_reviews"`
	Reviews         int               `json:"reviews"`
	SharesTotal     int               `json:"shares"`
	UpdatedAt       time.Time         `json:"updated_at"`
	SegmentHistory  []segment.Change  `json:"segment_history"`
	Vouchers        []voucher.Voucher `json:"vouchers"`
	ReferralStats   ReferralStats     `json:"referral_stats"`
	PointsBalance   int64             `json:"points_balance"`
	Rewards         []ledger.Entry    `json:"rewards"`
}

// ReferralStats is what the customer's sharing brought.
type ReferralStats struct {
	Shares    int `json:"shares"`
	Clicks    int `json:"clicks"`
	Signups   int `json:"signups"`
	Referrals int `json:"referrals"`
}

// Vouchers lists a customer's vouchers (voucherstore.Store).
type Vouchers interface {
	List(ctx context.Context, customerID string, programs []string) ([]voucher.Voucher, error)
}

// Ledger reads a customer's points (ledger.Reader).
type Ledger interface {
	Account(ctx context.Context, customerID string) (ledger.Account, error)
}

// ReadDeps are what the read routes need.
type ReadDeps struct {
	Customers Customers
	Evaluator Evaluator
	Vouchers  Vouchers // optional
	Ledger    Ledger   // optional
	// ShareBase is the base of share URLs ({base}/r/{code}); "" means this API's own URL.
	ShareBase       string
	DefaultCurrency string
	// Rules are each program's terms (RulesOf), shown by GET /v1/programs.
	Rules map[string]ProgramRules
	Now   func() time.Time
}

// Listing limits of GET /v1/segments/{segment}/customers.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// RegisterRead adds the read API function's routes.
func RegisterRead(r *httpapi.Router, d ReadDeps) {
	if d.Now == nil {
		d.Now = time.Now
	}
	r.Handle("GET /v1/customers/{id}", apikey.ScopeRead, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		id := req.PathParameters["id"]
		if id == "" || len(id) > 128 {
			return httpapi.Response{}, apperr.Invalid("id", "customer id must be 1-128 characters")
		}
		// The three tables are read at once: one round trip of latency.
		var (
			v        *dynamostore.View
			vouchers []voucher.Voucher
			account  ledger.Account
			errs     [3]error
			wg       sync.WaitGroup
		)
		wg.Go(func() { v, errs[0] = d.Customers.View(ctx, id) })
		if d.Vouchers != nil {
			wg.Go(func() { vouchers, errs[1] = d.Vouchers.List(ctx, id, programIDs(d.Evaluator)) })
		}
		if d.Ledger != nil {
			wg.Go(func() { account, errs[2] = d.Ledger.Account(ctx, id) })
		}
		wg.Wait()
		if errs[0] != nil {
			return httpapi.Response{}, errs[0]
		}
		if err := errors.Join(errs[1:]...); err != nil {
			return httpapi.Response{}, err
		}
		if vouchers == nil {
			vouchers = []voucher.Voucher{}
		}
		base := d.ShareBase
		if base == "" {
			base = RequestBaseURL(req)
		}
		for i := range vouchers {
			vouchers[i].ShareURL = voucher.ShareURL(base, vouchers[i].Code)
		}
		if account.Entries == nil {
			account.Entries = []ledger.Entry{}
		}
		c := v.Customer
		if d.Evaluator != nil && c.Segment != "" {
			c.Result = d.Evaluator.Evaluate(c, &c.Signals, d.Now())
		}
		emptyNotNull(c)
		cur := c.PrimaryCurrency(d.DefaultCurrency)
		history := v.History
		if history == nil {
			history = []segment.Change{}
		}
		return httpapi.JSON(http.StatusOK, CustomerView{
			Customer: c, AverageBasket: c.AverageBasket(cur), BasketCurrency: cur,
			BasketTrend: c.BasketTrend(cur), FiveStarReviews: c.FiveStarReviews(), Reviews: c.Reviews(),
			SharesTotal: c.SharesTotal(), UpdatedAt: v.UpdatedAt, SegmentHistory: history,
			Vouchers: vouchers, PointsBalance: account.Balance, Rewards: account.Entries,
			ReferralStats: ReferralStats{Shares: c.SharesTotal(), Clicks: c.LinkClicks, Signups: c.LinkSignups, Referrals: c.SuccessfulReferrals},
		})
	})
	r.Handle("GET /v1/programs", apikey.ScopeRead, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		return httpapi.JSON(http.StatusOK, map[string]any{"programs": programViews(d.Evaluator.Programs(), d.Rules)})
	})
	r.Handle("GET /v1/segments", apikey.ScopeRead, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		type counts struct {
			Segment     string         `json:"segment"`
			Program     string         `json:"program"`
			Customers   int            `json:"customers"`
			SubSegments map[string]int `json:"sub_segments"`
		}
		// The counters, not the index: one read of 48 small items, whatever the base's size.
		all, err := d.Customers.SegmentCounts(ctx, segments)
		if err != nil {
			return httpapi.Response{}, err
		}
		out := make([]counts, len(segments))
		for i, seg := range segments {
			c := all[seg]
			if c.SubSegments == nil {
				c.SubSegments = map[string]int{}
			}
			out[i] = counts{Segment: seg, Program: programOf(d.Evaluator, seg), Customers: c.Members, SubSegments: c.SubSegments}
		}
		return httpapi.JSON(http.StatusOK, map[string]any{"segments": out})
	})
	r.Handle("GET /v1/segments/{segment}/customers", apikey.ScopeRead, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		seg := req.PathParameters["segment"]
		if !slices.Contains(segments, seg) {
			return httpapi.Response{}, apperr.Invalid("segment", "unknown segment %q; one of %s", seg, strings.Join(segments, ", "))
		}
		q := req.QueryStringParameters
		sub := q["sub_segment"]
		if sub != "" && !slices.Contains(subSegments, sub) {
			return httpapi.Response{}, apperr.Invalid("sub_segment", "unknown sub-segment %q; one of %s", sub, strings.Join(subSegments, ", "))
		}
		limit := defaultLimit
		if v, ok := q["limit"]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxLimit {
				return httpapi.Response{}, apperr.Invalid("limit", "must be an integer from 1 to %d", maxLimit)
			}
			limit = n
		}
		shard, after, err := decodeCursor(q["cursor"])
		if err != nil {
			return httpapi.Response{}, err
		}
		rows, nextShard, nextAfter, err := d.Customers.Members(ctx, seg, sub, shard, after, limit)
		if err != nil {
			return httpapi.Response{}, err
		}
		next := ""
		if nextShard < dynamostore.SegmentShards {
			next = encodeCursor(nextShard, nextAfter)
		}
		if strings.Contains(httpapi.Header(req, "accept"), "text/csv") {
			return csvResponse(seg, rows, next)
		}
		if rows == nil {
			rows = []dynamostore.Member{}
		}
		for i := range rows {
			if rows[i].SubSegments == nil {
				rows[i].SubSegments = []string{}
			}
		}
		return httpapi.JSON(http.StatusOK, map[string]any{"segment": seg, "sub_segment": sub, "customers": rows, "next_cursor": next})
	})
}

var (
	segments    = []string{segment.Ambassador, segment.FutureAmbassador, segment.Opportunist}
	subSegments = []string{segment.BestBuyer, segment.DecliningBasket, segment.EngagedNonSharer, segment.FiveStarReviewer,
		segment.Lapsed, segment.NewCustomer, segment.ReferredCustomer, segment.SocialFollower}
)

// emptyNotNull gives clients [] and {} rather than null for what a customer has none of.
func emptyNotNull(c *aggregate.Customer) {
	if c.SubSegments == nil {
		c.SubSegments = []string{}
	}
	if c.Reasons == nil {
		c.Reasons = []string{}
	}
	if c.Breakdown == nil {
		c.Breakdown = map[string]float64{}
	}
	if c.Spend == nil {
		c.Spend = map[string]aggregate.Money{}
	}
	c.Refunded = c.RefundedByCurrency()
	if c.ProfileFields == nil {
		c.ProfileFields = []string{}
	}
	if c.SocialFollows == nil {
		c.SocialFollows = []string{}
	}
	if c.Shares == nil {
		c.Shares = map[string]int{}
	}
}

func programIDs(ev Evaluator) []string {
	if ev == nil {
		return nil
	}
	var ids []string
	for _, p := range ev.Programs() {
		ids = append(ids, p.ID)
	}
	return ids
}

func programOf(ev Evaluator, seg string) string {
	if ev == nil {
		return ""
	}
	for _, p := range ev.Programs() {
		if p.Segment == seg {
			return p.ID
		}
	}
	return ""
}

// Cursors are opaque to clients: base64 of "<shard>:<last customer id>".
func encodeCursor(shard int, after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d:%s", shard, after)))
}

func decodeCursor(c string) (int, string, error) {
	if c == "" {
		return 0, "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if s, after, ok := strings.Cut(string(b), ":"); ok {
			if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < dynamostore.SegmentShards {
				return n, after, nil
			}
		}
	}
	return 0, "", apperr.Invalid("cursor", "not a cursor this API returned")
}

func csvResponse(seg string, rows []dynamostore.Member, next string) (httpapi.Response, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"customer_id", "segment", "sub_segments", "program"})
	for _, m := range rows {
		_ = w.Write([]string{m.CustomerID, seg, strings.Join(m.SubSegments, ";"), m.Program})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return httpapi.Response{}, fmt.Errorf("write csv: %w", err)
	}
	h := map[string]string{"content-type": "text/csv; charset=utf-8", "content-disposition": fmt.Sprintf("attachment; filename=%q", seg+".csv")}
	if next != "" {
		h["x-next-cursor"] = next
	}
	return httpapi.Response{StatusCode: http.StatusOK, Headers: h, Body: buf.String()}, nil
}
