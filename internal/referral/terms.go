package referral

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FingerprintTTL is how long hashed fingerprints are kept (SPEC §1 retention).
const FingerprintTTL = 90 * 24 * time.Hour

// Defaults of the reward terms.
const (
	DefaultReturnWindow = 14 * 24 * time.Hour
	DefaultMonthlyCap   = 20
)

// DefaultPoints is the referrer reward in loyalty points per program, when the voucher carries
// no referrer_reward.
var DefaultPoints = map[string]int64{"ambassador": 500, "accelerator": 300, "loyalty": 200}

// Terms are the reward rules of a deployment.
type Terms struct {
	ReturnWindow time.Duration    // hold before the grant; 0 grants at once
	MonthlyCap   int              // successful redemptions per referrer per calendar month
	Points       map[string]int64 // default referrer points per program
}

// DefaultTerms are the documented defaults.
func DefaultTerms() Terms {
	return Terms{ReturnWindow: DefaultReturnWindow, MonthlyCap: DefaultMonthlyCap, Points: DefaultPoints}
}

// Validate checks the terms at wiring time.
func (t Terms) Validate() error {
	if t.ReturnWindow < 0 {
		return errors.New("referral: return window must be >= 0")
	}
	if t.MonthlyCap < 1 {
		return errors.New("referral: monthly cap must be >= 1")
	}
	return nil
}

// ParsePoints reads "ambassador=500,accelerator=300" into per-program points.
func ParsePoints(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, v, ok := strings.Cut(part, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("referral: points %q: want program=points", part)
		}
		out[strings.TrimSpace(name)] = n
	}
	return out, nil
}

// Reward is the referrer's reward of one referral, as written to the ledger.
type Reward struct {
	Type   string         `json:"type" dynamodbav:"type"` // points, discount, free_product, event_invitation...
	Points int64          `json:"points" dynamodbav:"points"`
	Detail map[string]any `json:"detail,omitempty" dynamodbav:"detail,omitempty"`
}

// PointsType is the reward type that moves the referrer's points balance.
const PointsType = "loyalty_points"

// RewardFor is the referrer's reward for a referral on code: the voucher's referrer_reward when
// it has one ({"type":"loyalty_points","value":500}, or another kind such as free_product with
// its details, worth 0 points), else the program's default points.
func (t Terms) RewardFor(c *Code) Reward {
	if rr := c.ReferrerReward; len(rr) > 0 {
		if typ, _ := rr["type"].(string); typ != "" {
			r := Reward{Type: typ, Detail: rr}
			if typ == PointsType || typ == "points" {
				r.Type, r.Detail = PointsType, nil
				r.Points = number(rr["value"]) + number(rr["points"])
				if r.Points <= 0 {
					r.Points = t.Points[c.Program]
				}
			}
			return r
		}
	}
	return Reward{Type: PointsType, Points: t.Points[c.Program]}
}

func number(v any) int64 {
	switch p := v.(type) {
	case float64:
		return int64(p)
	case int64:
		return p
	case int:
		return int64(p)
	}
	return 0
}

// ReleaseAt is when the reward of an order redeemed at now may be granted.
func (t Terms) ReleaseAt(now time.Time) time.Time { return now.Add(t.ReturnWindow) }

// Status of a referral.
const (
	Pending  = "pending"
	Granted  = "granted"
	Voided   = "voided"
	Reversed = "reversed"
)

// Referral is the stored referral (ReferralsTable REF#<id>).
type Referral struct {
	ID               string         `json:"referral_id" dynamodbav:"referral_id"`
	Code             string         `json:"code" dynamodbav:"code"`
	Program          string         `json:"program" dynamodbav:"program"`
	ReferrerID       string         `json:"referrer_id" dynamodbav:"referrer_id"`
	FriendCustomerID string         `json:"friend_customer_id" dynamodbav:"friend_customer_id"`
	FriendEmailHash  string         `json:"-" dynamodbav:"friend_email_hash,omitempty"`
	OrderID          string         `json:"order_id" dynamodbav:"order_id"`
	OrderTotal       int64          `json:"order_total" dynamodbav:"order_total"`
	Currency         string         `json:"currency" dynamodbav:"currency"`
	Status           string         `json:"status" dynamodbav:"status"`
	Reward           Reward         `json:"reward" dynamodbav:"reward"`
	FriendOffer      map[string]any `json:"friend_offer" dynamodbav:"friend_offer"`
	RequestHash      string         `json:"-" dynamodbav:"request_hash"`
	CreatedAt        time.Time      `json:"created_at" dynamodbav:"created_at"`
	ReleaseAt        time.Time      `json:"release_at" dynamodbav:"release_at,unixtime"`
	GrantedAt        *time.Time     `json:"granted_at,omitempty" dynamodbav:"granted_at,omitempty"`
	// GrantDay is the leaderboard day the grant counted in (decremented on reversal).
	GrantDay string `json:"-" dynamodbav:"grant_day,omitempty"`
}

// New builds the pending referral of an accepted redemption.
func (t Terms) New(r Redemption, c *Code, now time.Time) Referral {
	offer := c.FriendOffer
	if offer == nil {
		offer = map[string]any{}
	}
	return Referral{
		ID: ReferralID(r.OrderID), Code: r.Code, Program: c.Program, ReferrerID: c.CustomerID,
		FriendCustomerID: r.FriendCustomerID, FriendEmailHash: r.FriendEmailHash, OrderID: r.OrderID,
		OrderTotal: r.OrderTotal, Currency: r.Currency, Status: Pending, Reward: t.RewardFor(c),
		FriendOffer: offer, RequestHash: r.RequestHash(), CreatedAt: now.UTC(), ReleaseAt: t.ReleaseAt(now).UTC(),
	}
}

// Due reports whether the referral's hold has passed at now.
func (r Referral) Due(now time.Time) bool { return !now.Before(r.ReleaseAt) }
