package voucher

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Statuses.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
)

// Reasons a voucher was issued.
const (
	ReasonRequest        = "request"          // POST /v1/customers/{id}/vouchers
	ReasonCampaign       = "campaign"         // POST /v1/campaigns
	ReasonFiveStarReview = "five_star_review" // a 5-star review from a customer without a voucher
)

// Voucher is one customer's referral code in one program.
type Voucher struct {
	Code           Code      `json:"code"`
	CustomerID     string    `json:"customer_id"`
	Program        string    `json:"program"`
	Status         string    `json:"status"`
	ShareURL       string    `json:"share_url"`
	FriendOffer    Offer     `json:"friend_offer"`
	ReferrerReward Offer     `json:"referrer_reward"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	UseLimit       int       `json:"use_limit"`
	Uses           int       `json:"uses"`
	Reason         string    `json:"reason"`
	// CampaignID is the campaign that issued it; for a five-star review, "review:<id>".
	CampaignID string `json:"campaign_id,omitempty"`
	// PublishedAt is when voucher.issued was published ("" not yet).
	PublishedAt *time.Time `json:"-"`
	// EmailHash is the referrer's email hash, never shown.
	EmailHash string `json:"-"`
}

// Request asks for a customer's voucher in a program.
type Request struct {
	CustomerID string
	Terms      Terms
	Reason     string
	CampaignID string
	// Prefix replaces the program's prefix, e.g. PrefixFrom(first name) given explicitly.
	Prefix string
	// EmailHash is the referrer's email hash (referral.EmailHash), when the storefront gave the
	// email: redemption refuses a friend with the same hash as a self-referral.
	EmailHash string
}

// MaxCustomerID is the longest customer id accepted (as the interactions API).
const MaxCustomerID = 128

// Validate checks a request before anything is written.
func (r Request) Validate() error {
	switch {
	case r.CustomerID == "" || len(r.CustomerID) > MaxCustomerID || strings.ContainsAny(r.CustomerID, "#\x00"):
		return errors.New("voucher: customer id must be 1-128 characters without '#'")
	case r.Terms.Program == "" || r.Terms.ValidFor <= 0 || r.Terms.UseLimit < 1:
		return errors.New("voucher: terms need a program, a validity and a use limit")
	case r.Reason != ReasonRequest && r.Reason != ReasonCampaign && r.Reason != ReasonFiveStarReview:
		return fmt.Errorf("voucher: unknown reason %q", r.Reason)
	}
	return nil
}

// New makes the voucher a request would issue at now, with a fresh code. shareBase is the
// base of share URLs ("https://api.example.com/prod" gives https://api.example.com/prod/r/CODE).
func New(req Request, shareBase string, now time.Time) (Voucher, error) {
	if err := req.Validate(); err != nil {
		return Voucher{}, err
	}
	prefix := req.Prefix
	if prefix == "" {
		prefix = req.Terms.Prefix
	}
	code, err := NewCode(prefix)
	if err != nil {
		return Voucher{}, err
	}
	now = now.UTC().Truncate(time.Second)
	return Voucher{
		Code: code, CustomerID: req.CustomerID, Program: req.Terms.Program, Status: StatusActive,
		ShareURL: ShareURL(shareBase, code), FriendOffer: req.Terms.FriendOffer,
		ReferrerReward: req.Terms.ReferrerReward, CreatedAt: now, ExpiresAt: now.Add(req.Terms.ValidFor),
		UseLimit: req.Terms.UseLimit, Reason: req.Reason, CampaignID: req.CampaignID, EmailHash: req.EmailHash,
	}, nil
}

// ShareURL is {base}/r/{code}.
func ShareURL(base string, code Code) string {
	return strings.TrimRight(base, "/") + "/r/" + url.PathEscape(string(code))
}

// Usable reports whether the code can still bring a referral at now: active, not expired, under
// its use limit.
func (v Voucher) Usable(now time.Time) bool {
	return v.Status == StatusActive && now.Before(v.ExpiresAt) && v.Uses < v.UseLimit
}

// Current reports whether the voucher is the customer's current one in its program: issued and
// not expired (asking again returns it, even at its use limit).
func (v Voucher) Current(now time.Time) bool {
	return v.Status == StatusActive && now.Before(v.ExpiresAt)
}

// CampaignID is the deterministic id of a campaign: the same segment, sub-segment, program and
// client-given id always name the same campaign, so launching it again issues nothing twice.
func CampaignID(segment, subSegment, program, clientID string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{segment, subSegment, program, clientID}, "\x00")))
	return "cmp_" + hex.EncodeToString(sum[:10])
}

// RedirectURL is where GET /r/{code} sends the shopper: the storefront with ref={code} when
// code is not "" (a usable code), without it otherwise. The storefront's own query parameters
// are kept; the click's are passed on (campaign tags such as utm_source), except ref, which only
// the engine sets. Anything odd in them is dropped rather than refused.
func RedirectURL(storefront string, code Code, query url.Values) string {
	u, err := url.Parse(storefront)
	if err != nil {
		return storefront
	}
	q := u.Query()
	n := 0
	for k, vs := range query {
		if strings.EqualFold(k, "ref") || len(k) > 64 || k == "" || n >= 20 {
			continue
		}
		if _, set := q[k]; set {
			continue // the storefront's own parameters win
		}
		for _, v := range vs {
			if len(v) <= 256 {
				q.Add(k, v)
			}
		}
		n++
	}
	q.Del("ref")
	if code != "" {
		q.Set("ref", string(code))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Campaign statuses.
const (
	CampaignLaunching = "launching" // recorded, its shard scans not yet all enqueued
	CampaignLaunched  = "launched"  // every shard scan enqueued
)

// Campaign is a launch of vouchers to a segment (POST /v1/campaigns).
type Campaign struct {
	ID         string    `dynamodbav:"campaign_id" json:"campaign_id"`
	Segment    string    `dynamodbav:"segment" json:"segment"`
	SubSegment string    `dynamodbav:"sub_segment,omitempty" json:"sub_segment,omitempty"`
	Program    string    `dynamodbav:"program" json:"program"`
	Count      int       `dynamodbav:"count" json:"count"`
	Status     string    `dynamodbav:"status" json:"status"`
	CreatedAt  time.Time `dynamodbav:"created_at" json:"created_at"`
}
