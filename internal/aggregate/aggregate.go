// Package aggregate keeps what the engine knows about a customer as running aggregates of their
// interactions. Apply is commutative: interactions may arrive in any order (storefronts import
// history) and give the same aggregate, so scores never depend on delivery order. Raw
// interactions expire; these aggregates do not.
package aggregate

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/scoring"
)

// RecentOrdersKept is how many of the latest orders are kept for the basket trend (3 vs 3).
const RecentOrdersKept = 6

// Customer is one customer's aggregates. Attribute names are short because DynamoDB bills
// writes per KB of item, and this item is written once per batch of interactions.
type Customer struct {
	CustomerID   string    `json:"customer_id" dynamodbav:"customer_id"`
	Interactions int       `json:"interactions" dynamodbav:"n"`
	FirstSeenAt  time.Time `json:"first_seen_at" dynamodbav:"fs,unixtime"`
	LastSeenAt   time.Time `json:"last_seen_at" dynamodbav:"lse,unixtime"`

	Orders          int              `json:"orders" dynamodbav:"o,omitempty"`
	DiscountOrders  int              `json:"discount_orders" dynamodbav:"od,omitempty"`
	ReferralOrders  int              `json:"referral_orders" dynamodbav:"or,omitempty"`
	Spend           map[string]Money `json:"spend" dynamodbav:"sp,omitempty"`
	Refunds         int              `json:"refunds" dynamodbav:"rf,omitempty"`
	Refunded        map[string]int64 `json:"refunded" dynamodbav:"rfa,omitempty"`
	FirstPurchaseAt *time.Time       `json:"first_purchase_at,omitempty" dynamodbav:"fp,omitempty,unixtime"`
	LastPurchaseAt  *time.Time       `json:"last_purchase_at,omitempty" dynamodbav:"lp,omitempty,unixtime"`
	RecentOrders    []Order          `json:"recent_orders,omitempty" dynamodbav:"ro,omitempty"`

	ReviewsByStars [5]int `json:"reviews_by_stars" dynamodbav:"rv"`
	Comments       int    `json:"comments" dynamodbav:"cm,omitempty"`

	EmailOpens  int `json:"email_opens" dynamodbav:"eo,omitempty"`
	EmailClicks int `json:"email_clicks" dynamodbav:"ec,omitempty"`

	Visits        int   `json:"visits" dynamodbav:"vi,omitempty"`
	VisitSeconds  int64 `json:"visit_seconds" dynamodbav:"vs,omitempty"`
	VisitPages    int64 `json:"visit_pages" dynamodbav:"vp,omitempty"`
	SurveyAnswers int   `json:"survey_answers" dynamodbav:"sa,omitempty"`

	NPSAnswers    int        `json:"nps_answers" dynamodbav:"nn,omitempty"`
	NPSPromoter   int        `json:"nps_promoter_answers" dynamodbav:"np,omitempty"`
	NPSDetractor  int        `json:"nps_detractor_answers" dynamodbav:"nd,omitempty"`
	NPSLast       *int       `json:"nps_last,omitempty" dynamodbav:"nl,omitempty"`
	NPSLastAt     *time.Time `json:"nps_last_at,omitempty" dynamodbav:"nla,omitempty,unixtime"`
	ProfileFields []string   `json:"profile_fields" dynamodbav:"pf,omitempty,stringset"`

	LoyaltyJoinedAt *time.Time `json:"loyalty_joined_at,omitempty" dynamodbav:"lj,omitempty,unixtime"`
	SocialFollows   []string   `json:"social_follows" dynamodbav:"sf,omitempty,stringset"`

	Shares      map[string]int `json:"shares_by_channel" dynamodbav:"sh,omitempty"`
	LastShareAt *time.Time     `json:"last_share_at,omitempty" dynamodbav:"lsh,omitempty,unixtime"`
	Signups     int            `json:"signups" dynamodbav:"sg,omitempty"`
	// What the customer's referral links brought (internal interaction types).
	LinkClicks          int        `json:"link_clicks" dynamodbav:"lc,omitempty"`
	LinkSignups         int        `json:"link_signups" dynamodbav:"lsg,omitempty"`
	SuccessfulReferrals int        `json:"successful_referrals" dynamodbav:"rs,omitempty"`
	LastLinkClickAt     *time.Time `json:"last_link_click_at,omitempty" dynamodbav:"lca,omitempty,unixtime"`
	LastReferralAt      *time.Time `json:"last_successful_referral_at,omitempty" dynamodbav:"lra,omitempty,unixtime"`
	// ReferredBy is the referral code of the customer's earliest signup or purchase that had one.
	ReferredBy string     `json:"referred_by,omitempty" dynamodbav:"rb,omitempty"`
	ReferredAt *time.Time `json:"referred_at,omitempty" dynamodbav:"rba,omitempty,unixtime"`

	// Signals is what scoring needs beyond the counters (30-day windows, monthly spend, proof
	// of sharing), fed by Apply. A named field: Signals' String method must not be promoted.
	Signals scoring.Signals `json:"-" dynamodbav:"sig"`
	// Result is the latest score, breakdown, segment, sub-segments, program and next review,
	// written by the rescore hook; flattened onto the item and into the JSON.
	scoring.Result
}

// Money is spend in one currency.
type Money struct {
	Total  int64 `json:"total" dynamodbav:"t"`
	Orders int   `json:"orders" dynamodbav:"o"`
}

// Order is one of the latest orders, for the basket trend.
type Order struct {
	At       int64  `json:"at" dynamodbav:"a"`
	Total    int64  `json:"total" dynamodbav:"t"`
	Currency string `json:"currency" dynamodbav:"c"`
	OrderID  string `json:"order_id" dynamodbav:"i"`
}

// New is the aggregate of a customer with no interactions yet.
func New(customerID string) *Customer {
	return &Customer{CustomerID: customerID}
}

// Apply folds one interaction into the aggregate. The caller guarantees each interaction is
// applied once (see package rescore).
func (c *Customer) Apply(in interaction.Interaction) {
	at := in.OccurredAt.UTC().Truncate(time.Second)
	p := in.Properties
	c.Interactions++
	if c.FirstSeenAt.IsZero() || at.Before(c.FirstSeenAt) {
		c.FirstSeenAt = at
	}
	if at.After(c.LastSeenAt) {
		c.LastSeenAt = at
	}
	c.Signals.Observe(in)
	switch in.Type {
	case interaction.Purchase:
		c.Orders++
		if p.DiscountUsed != nil && *p.DiscountUsed {
			c.DiscountOrders++
		}
		if p.ReferralCode != "" {
			c.ReferralOrders++
			c.referred(p.ReferralCode, at)
		}
		if c.Spend == nil {
			c.Spend = map[string]Money{}
		}
		m := c.Spend[p.Currency]
		m.Total += *p.Total
		m.Orders++
		c.Spend[p.Currency] = m
		c.FirstPurchaseAt = earliest(c.FirstPurchaseAt, at)
		c.LastPurchaseAt = latest(c.LastPurchaseAt, at)
		c.addRecentOrder(Order{At: at.Unix(), Total: *p.Total, Currency: p.Currency, OrderID: p.OrderID})
	case interaction.Refund:
		c.Refunds++
		if c.Refunded == nil {
			c.Refunded = map[string]int64{}
		}
		cur := p.Currency
		if cur == "" {
			// Resolved when read (RefundedByCurrency): which currency the customer's orders are
			// in may change with interactions applied later, and Apply must not depend on order.
			cur = NoCurrency
		}
		c.Refunded[cur] += *p.Amount
	case interaction.EmailOpen:
		c.EmailOpens++
	case interaction.EmailClick:
		c.EmailClicks++
	case interaction.Visit:
		c.Visits++
		c.VisitSeconds += *p.DurationSeconds
		if p.Pages != nil {
			c.VisitPages += *p.Pages
		} else {
			c.VisitPages++
		}
	case interaction.NPS:
		c.NPSAnswers++
		score := int(*p.Score)
		switch {
		case score >= 9:
			c.NPSPromoter++
		case score <= 6:
			c.NPSDetractor++
		}
		if c.NPSLastAt == nil || !at.Before(*c.NPSLastAt) {
			c.NPSLast, c.NPSLastAt = &score, &at
		}
	case interaction.SurveyAnswer:
		c.SurveyAnswers++
	case interaction.Review:
		c.ReviewsByStars[*p.Stars-1]++
	case interaction.Comment:
		c.Comments++
	case interaction.ProfileUpdate:
		for name := range p.Fields {
			c.ProfileFields = addToSet(c.ProfileFields, name)
		}
	case interaction.LoyaltyJoin:
		c.LoyaltyJoinedAt = earliest(c.LoyaltyJoinedAt, at)
	case interaction.SocialFollow:
		c.SocialFollows = addToSet(c.SocialFollows, p.Network)
	case interaction.ReferralShare:
		if c.Shares == nil {
			c.Shares = map[string]int{}
		}
		c.Shares[p.Channel]++
		c.LastShareAt = latest(c.LastShareAt, at)
	case interaction.ReferralClick:
		c.LinkClicks++
		c.LastLinkClickAt = latest(c.LastLinkClickAt, at)
		c.Signals.ObserveReferralClick(at)
	case interaction.ReferralSignup:
		c.LinkSignups++
		c.Signals.ObserveReferralSignup(at)
	case interaction.ReferralSuccess:
		c.SuccessfulReferrals++
		c.LastReferralAt = latest(c.LastReferralAt, at)
		c.Signals.ObserveSuccessfulReferral(at)
	case interaction.Signup:
		c.Signups++
		if p.ReferralCode != "" {
			c.referred(p.ReferralCode, at)
		}
	}
}

// referred keeps the earliest referral code, so the result is the same in any order.
func (c *Customer) referred(code string, at time.Time) {
	if c.ReferredAt == nil || at.Before(*c.ReferredAt) || (at.Equal(*c.ReferredAt) && code < c.ReferredBy) {
		c.ReferredBy, c.ReferredAt = code, &at
	}
}

func (c *Customer) addRecentOrder(o Order) {
	c.RecentOrders = append(c.RecentOrders, o)
	sort.Slice(c.RecentOrders, func(i, j int) bool {
		a, b := c.RecentOrders[i], c.RecentOrders[j]
		if a.At != b.At {
			return a.At < b.At
		}
		return a.OrderID < b.OrderID
	})
	if n := len(c.RecentOrders); n > RecentOrdersKept {
		c.RecentOrders = slices.Clone(c.RecentOrders[n-RecentOrdersKept:])
	}
}

// FiveStarReviews is the number of 5-star reviews.
func (c *Customer) FiveStarReviews() int { return c.ReviewsByStars[4] }

// Reviews is the number of reviews of any rating.
func (c *Customer) Reviews() int {
	n := 0
	for _, v := range c.ReviewsByStars {
		n += v
	}
	return n
}

// SharesTotal is the number of referral shares on every channel.
func (c *Customer) SharesTotal() int {
	n := 0
	for _, v := range c.Shares {
		n += v
	}
	return n
}

// AverageBasket is the mean order total in currency (minor units), 0 without orders.
func (c *Customer) AverageBasket(currency string) int64 {
	m := c.Spend[currency]
	if m.Orders == 0 {
		return 0
	}
	return m.Total / int64(m.Orders)
}

// BasketTrend compares the average of the latest 3 orders in currency with the 3 before them:
// latest/previous, or 0 when there are fewer than 6 such orders among the recent ones.
func (c *Customer) BasketTrend(currency string) float64 {
	var totals []int64
	for _, o := range c.RecentOrders {
		if o.Currency == currency {
			totals = append(totals, o.Total)
		}
	}
	if len(totals) < 6 {
		return 0
	}
	n := len(totals)
	prev := totals[n-6] + totals[n-5] + totals[n-4]
	last := totals[n-3] + totals[n-2] + totals[n-1]
	if prev == 0 {
		return 0
	}
	return float64(last) / float64(prev)
}

// PrimaryCurrency is the currency most of the customer's orders were in (ties: alphabetical).
// NoCurrency keys the refunds that came without a currency in Refunded.
const NoCurrency = "-"

// RefundedByCurrency is Refunded with the refunds that came without a currency counted in the
// currency of most of the customer's orders ("XXX", ISO 4217's "no currency", if none).
func (c *Customer) RefundedByCurrency() map[string]int64 {
	out := make(map[string]int64, len(c.Refunded))
	for k, v := range c.Refunded {
		if k == NoCurrency {
			k = c.PrimaryCurrency("XXX")
		}
		out[k] += v
	}
	return out
}

func (c *Customer) PrimaryCurrency(fallback string) string {
	best, bestN := fallback, 0
	keys := make([]string, 0, len(c.Spend))
	for k := range c.Spend {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c.Spend[k].Orders > bestN {
			best, bestN = k, c.Spend[k].Orders
		}
	}
	return best
}

func earliest(cur *time.Time, at time.Time) *time.Time {
	if cur == nil || at.Before(*cur) {
		return &at
	}
	return cur
}

func latest(cur *time.Time, at time.Time) *time.Time {
	if cur == nil || at.After(*cur) {
		return &at
	}
	return cur
}

func addToSet(set []string, v string) []string {
	v = strings.TrimSpace(v)
	if v == "" || slices.Contains(set, v) {
		return set
	}
	set = append(set, v)
	sort.Strings(set)
	return set
}
