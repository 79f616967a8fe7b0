// Package click serves referral links (SPEC §4.2): GET /r/{code} records the click for the
// referrer and redirects the shopper to the storefront, with ?ref={code} when the code is usable
// and without it otherwise. A shopper never sees an error, and the response carries no customer
// data.
//
// A click counts (an internal referral_click interaction for the referrer, scored once: its
// event id comes from the request id) at most Limit times per code, client and hour; the client
// is known only by a salted hash of its IP, kept 90 days in the click counter's key, never in
// the interaction. Link-preview robots are redirected and not counted.
//
// Recording is best effort and bounded in time: the shopper's redirect never waits more than
// Budget on the stores. A click that could not be recorded (a store error or timeout) is still
// redirected, with ref when the code is well formed, and counted in the ClicksLost metric; a
// browser does not retry a redirect, so nothing else would ever see it. A click stored but not
// enqueued for rescoring (the queue refused or timed out) is not lost: the Recorder's store
// marks it for the sweeper (dynamostore.WithSweep, package sweep), which enqueues it again, so
// it is counted in the funnel all the same.
package click

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/referral-engine/referral-engine/internal/funnel"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/metrics"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// Codes reads vouchers (voucherstore.Store).
type Codes interface {
	Get(ctx context.Context, code voucher.Code) (*voucher.Voucher, error)
}

// Counter counts clicks per code, client and hour (voucherstore.Store).
type Counter interface {
	CountClick(ctx context.Context, code, owner, clientHash string, at time.Time, limit int) (bool, error)
}

// Recorder records internal interactions (ingest.Service).
type Recorder interface {
	RecordParsed(ctx context.Context, ins []interaction.Interaction, now time.Time) (ingest.Result, error)
}

// Funnel counts the referral funnel's stages (funnel.Counters).
type Funnel interface {
	Incr(ctx context.Context, program, stage string, n int64) error
}

// Config wires a Service.
type Config struct {
	Codes      Codes
	Counter    Counter
	Recorder   Recorder
	Funnel     Funnel // optional: counted clicks add to the program's clicks stage
	Storefront string // where every click lands
	Salt       string // secret salt of the client hash, at least 16 bytes
	Limit      int    // clicks counted per code, client and hour
	// Budget bounds the time spent reading and recording before the redirect; 0 means
	// DefaultBudget.
	Budget time.Duration
	Now    func() time.Time
	Log    *slog.Logger
}

// DefaultBudget is Config.Budget's default: well under a shopper's patience, above the SDK's
// retries of a throttled call.
const DefaultBudget = 2 * time.Second

// Service handles clicks.
type Service struct{ c Config }

// New builds the service, rejecting a missing dependency or setting at wiring time.
func New(c Config) (*Service, error) {
	if c.Codes == nil || c.Counter == nil || c.Recorder == nil {
		return nil, errors.New("click: codes, counter and recorder are required")
	}
	u, err := url.Parse(c.Storefront)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("click: the storefront URL must be an absolute http(s) URL")
	}
	if len(c.Salt) < 16 {
		return nil, errors.New("click: the client hash salt must be at least 16 bytes")
	}
	if c.Limit < 1 {
		return nil, errors.New("click: the limit must be >= 1")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Budget <= 0 {
		c.Budget = DefaultBudget
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Service{c: c}, nil
}

// Click is one request for a referral link.
type Click struct {
	Code      string     // as in the path, unparsed
	ClientIP  string     // API Gateway's source IP
	UserAgent string     // to leave link-preview robots uncounted
	RequestID string     // API Gateway's request id: the click's identity
	Query     url.Values // passed on to the storefront (campaign tags)
}

// Outcome tells what a click did, for logs and tests.
type Outcome string

// Outcomes.
const (
	Malformed Outcome = "malformed" // not a code: no read at all
	Unknown   Outcome = "unknown"   // no such code
	Unusable  Outcome = "unusable"  // expired, revoked or at its use limit
	Counted   Outcome = "counted"   // recorded for the referrer
	Limited   Outcome = "limited"   // over the client's limit: redirected, not counted
	Robot     Outcome = "robot"     // a link preview: redirected, not counted
	Failed    Outcome = "failed"    // a store error: redirected (with ref if the code was read)
	Deferred  Outcome = "deferred"  // stored, not enqueued: counted, applied by the sweeper
)

// Handle returns where to redirect the shopper and what happened.
func (s *Service) Handle(ctx context.Context, cl Click) (location string, outcome Outcome) {
	code, err := voucher.Parse(cl.Code)
	if err != nil {
		return voucher.RedirectURL(s.c.Storefront, "", cl.Query), Malformed
	}
	now := s.c.Now()
	ctx, cancel := context.WithTimeout(ctx, s.c.Budget)
	defer cancel()
	v, err := s.c.Codes.Get(ctx, code)
	switch {
	case err != nil:
		// The code is well formed (its check digit holds): the storefront, which checks it at
		// checkout anyway, gets it rather than the friend losing the offer to a store outage.
		s.c.Log.ErrorContext(ctx, "click: read code", "error", err.Error())
		metrics.Add(metrics.ClicksLost, 1)
		return voucher.RedirectURL(s.c.Storefront, code, cl.Query), Failed
	case v == nil:
		return voucher.RedirectURL(s.c.Storefront, "", cl.Query), Unknown
	case !v.Usable(now):
		return voucher.RedirectURL(s.c.Storefront, "", cl.Query), Unusable
	}
	location = voucher.RedirectURL(s.c.Storefront, code, cl.Query)
	if isRobot(cl.UserAgent) {
		return location, Robot
	}
	ok, err := s.c.Counter.CountClick(ctx, string(code), v.CustomerID, s.ClientHash(cl.ClientIP), now, s.c.Limit)
	if err != nil {
		s.c.Log.ErrorContext(ctx, "click: count", "code", code, "error", err.Error())
		metrics.Add(metrics.ClicksLost, 1)
		return location, Failed
	}
	if !ok {
		return location, Limited
	}
	id := cl.RequestID
	if id == "" {
		id = now.UTC().Format("20060102T150405.000000000")
	}
	// The last fifth of the budget is kept for the funnel count: a hanging queue must not leave
	// a stored click uncounted.
	deadline, _ := ctx.Deadline()
	recCtx, cancelRec := context.WithDeadline(ctx, deadline.Add(-s.c.Budget/5))
	defer cancelRec()
	outcome = Counted
	_, err = s.c.Recorder.RecordParsed(recCtx, []interaction.Interaction{{
		EventID: "click-" + id, CustomerID: v.CustomerID, Type: interaction.ReferralClick,
		OccurredAt: now.UTC(), Properties: interaction.Properties{Code: string(code)},
	}}, now)
	switch {
	case errors.Is(err, ingest.ErrNotEnqueued):
		s.c.Log.WarnContext(ctx, "click: stored, not enqueued: left to the sweeper", "code", code, "error", err.Error())
		outcome = Deferred
	case err != nil:
		s.c.Log.ErrorContext(ctx, "click: record", "code", code, "error", err.Error())
		metrics.Add(metrics.ClicksLost, 1)
		return location, Failed
	}
	if s.c.Funnel != nil {
		if err := s.c.Funnel.Incr(ctx, v.Program, funnel.Clicks, 1); err != nil {
			s.c.Log.WarnContext(ctx, "click: funnel", "code", code, "error", err.Error())
		}
	}
	return location, outcome
}

// ClientHash is the salted hash a client is known by: HMAC-SHA256 of its IP, 128 bits in hex.
func (s *Service) ClientHash(ip string) string {
	m := hmac.New(sha256.New, []byte(s.c.Salt))
	m.Write([]byte(ip))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// robots are substrings of the user agents of link previews (chat apps, social networks) and
// crawlers, which fetch a link without a person clicking it.
var robots = []string{"bot", "crawler", "spider", "facebookexternalhit", "whatsapp", "preview", "slurp", "embedly"}

func isRobot(ua string) bool {
	ua = strings.ToLower(ua)
	for _, r := range robots {
		if strings.Contains(ua, r) {
			return true
		}
	}
	return false
}
