// Package segment puts each customer in exactly one segment (ambassador, future_ambassador,
// opportunist), any number of sub-segments, and the segment's program (SPEC §3), with the
// reasons in words. High engagement alone does not make an ambassador: proof of sharing does.
package segment

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/scoring"
)

// Segments.
const (
	Ambassador       = "ambassador"
	FutureAmbassador = "future_ambassador"
	Opportunist      = "opportunist"
)

// Sub-segments, in the (sorted) order results list them.
const (
	BestBuyer        = "best_buyer"
	DecliningBasket  = "declining_basket"
	EngagedNonSharer = "engaged_non_sharer"
	FiveStarReviewer = "five_star_reviewer"
	Lapsed           = "lapsed"
	NewCustomer      = "new_customer"
	ReferredCustomer = "referred_customer"
	SocialFollower   = "social_follower"
)

var subNames = [...]string{BestBuyer, DecliningBasket, EngagedNonSharer, FiveStarReviewer, Lapsed, NewCustomer, ReferredCustomer, SocialFollower}

const (
	bitBestBuyer uint16 = 1 << iota
	bitDecliningBasket
	bitEngagedNonSharer
	bitFiveStarReviewer
	bitLapsed
	bitNewCustomer
	bitReferredCustomer
	bitSocialFollower
)

// Result is a customer's segmentation at one moment (scoring.Result: defined there so that
// aggregate.Customer, which this package reads, can embed it).
type Result = scoring.Result

// Evaluator segments customers under one configuration.
type Evaluator struct {
	cfg *scoring.Config
}

// NewEvaluator builds an evaluator; load cfg once per cold start (scoring.FromEnv).
func NewEvaluator(cfg *scoring.Config) (*Evaluator, error) {
	if cfg == nil {
		return nil, errors.New("segment: nil scoring config")
	}
	return &Evaluator{cfg: cfg}, nil
}

// Config is the evaluator's configuration.
func (e *Evaluator) Config() *scoring.Config { return e.cfg }

// Evaluate scores and segments the customer at now, to the second (aggregates keep seconds,
// so a result holds for a whole second). s holds the scoring signals fed alongside c (the
// field of c that embeds them, once wired).
func (e *Evaluator) Evaluate(c *aggregate.Customer, s *scoring.Signals, now time.Time) Result {
	now = now.UTC().Truncate(time.Second)
	st := State(c)
	b := e.cfg.Basis(s, st)
	v := e.classify(c, s, &b, st.Currency, now, true)
	p, _ := e.cfg.ProgramFor(v.segment)
	r := Result{
		Segment: v.segment, Program: p.ID, Score: v.score.Value, Breakdown: v.score.Breakdown,
		At: now, Config: e.cfg.ID(), SubSegments: []string{},
	}
	if next := e.nextReview(c, s, &b, st.Currency, v, now); !next.IsZero() {
		r.NextReview = &next
	}
	for i, name := range subNames {
		if v.subs&(1<<i) != 0 {
			r.SubSegments = append(r.SubSegments, name)
		}
	}
	r.Reasons = e.reasons(c, s, v, now)
	return r
}

// State is what scoring reads from the aggregate.
func State(c *aggregate.Customer) scoring.State {
	st := scoring.State{
		ProfileFields: len(c.ProfileFields), SocialFollows: len(c.SocialFollows),
		LoyaltyMember: c.LoyaltyJoinedAt != nil, Currency: c.PrimaryCurrency(""),
	}
	if st.Currency != "" {
		st.AverageBasket = c.AverageBasket(st.Currency)
	}
	if c.LastPurchaseAt != nil {
		st.LastPurchase = *c.LastPurchaseAt
	}
	return st
}

// verdict is a classification with the facts behind it.
type verdict struct {
	segment string
	subs    uint16
	score   scoring.Score
	proof   time.Time // latest proof of sharing still in the window; zero if none
	// opportunist facts
	rewardOrders int
	mostly       bool // most orders used a discount or voucher
	organic      bool // organic points or a full-price order
	spend12      int64
}

func (e *Evaluator) classify(c *aggregate.Customer, s *scoring.Signals, b *scoring.Basis, cur string, now time.Time, explain bool) verdict {
	g := e.cfg.Segments
	var v verdict
	if explain {
		v.score = b.Explain(now)
	} else {
		v.score = b.At(now)
	}
	if p := s.LastProof(); !p.IsZero() && now.Sub(p) <= days(g.ProvenSharerDays) {
		v.proof = p
	}
	v.rewardOrders = min(s.RewardOrders, c.Orders)
	v.mostly = c.Orders >= g.OpportunistMinOrders && float64(v.rewardOrders) > g.OpportunistRewardShare*float64(c.Orders)
	v.organic = c.Orders > v.rewardOrders || v.score.Organic >= g.OrganicMinPoints
	score := v.score.Value
	switch {
	case score >= g.AmbassadorMinScore && !v.proof.IsZero():
		v.segment = Ambassador
		if min, ok := g.BestBuyerMin12mSpend[cur]; ok {
			if v.spend12 = s.Spend12(cur, now); v.spend12 >= min {
				v.subs |= bitBestBuyer
			}
		}
		if c.FiveStarReviews() >= g.FiveStarReviews {
			v.subs |= bitFiveStarReviewer
		}
		if len(c.SocialFollows) > 0 {
			v.subs |= bitSocialFollower
		}
	case score < g.OpportunistMaxScore && (v.mostly || (c.ReferredBy != "" && !v.organic)):
		v.segment = Opportunist
	default:
		v.segment = FutureAmbassador
		if c.ReferredBy != "" && c.Orders > 0 {
			v.subs |= bitReferredCustomer
		}
		if c.FirstPurchaseAt != nil && now.Sub(*c.FirstPurchaseAt) <= days(g.NewCustomerDays) {
			v.subs |= bitNewCustomer
		}
		if c.LastPurchaseAt != nil && now.Sub(*c.LastPurchaseAt) > days(g.LapsedDays) {
			v.subs |= bitLapsed
		}
		if t := c.BasketTrend(cur); t > 0 && t < g.DecliningBasketRatio {
			v.subs |= bitDecliningBasket
		}
		if score >= g.EngagedMinScore && v.proof.IsZero() {
			v.subs |= bitEngagedNonSharer
		}
	}
	return v
}

func (e *Evaluator) reasons(c *aggregate.Customer, s *scoring.Signals, v verdict, now time.Time) []string {
	g := e.cfg.Segments
	score := v.score.Value
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	proof := func() string {
		kind := "a click on their referral link"
		if s.LastReferral >= s.LastReferralClick {
			kind = "a successful referral"
		}
		return fmt.Sprintf("proven sharer: %s on %s (within %d days)", kind, v.proof.Format(time.DateOnly), g.ProvenSharerDays)
	}
	notProven := fmt.Sprintf("not a proven sharer: no click on their referral links and no successful referral in the last %d days", g.ProvenSharerDays)
	switch v.segment {
	case Ambassador:
		add("score %.1f >= %g", score, g.AmbassadorMinScore)
		add("%s", proof())
	case Opportunist:
		add("score %.1f < %g", score, g.OpportunistMaxScore)
		if v.mostly {
			add("drawn by rewards: %d of %d orders used a discount or voucher", v.rewardOrders, c.Orders)
		}
		if c.ReferredBy != "" && !v.organic {
			add("came in through referral code %s and shows no organic engagement (%.1f organic points < %g, no full-price order)",
				c.ReferredBy, v.score.Organic, g.OrganicMinPoints)
		}
	default:
		if score >= g.AmbassadorMinScore {
			add("score %.1f >= %g but %s", score, g.AmbassadorMinScore, notProven)
		} else {
			add("score %.1f < %g: not yet an ambassador", score, g.AmbassadorMinScore)
			if !v.proof.IsZero() {
				add("%s", proof())
			}
		}
		if score < g.OpportunistMaxScore {
			add("not an opportunist: %s", e.notDrawnByRewards(c, v))
		}
	}
	has := func(bit uint16) bool { return v.subs&bit != 0 }
	if has(bitBestBuyer) {
		cur := c.PrimaryCurrency("")
		add("%s: 12-month spend %s >= %s (top 10%%)", BestBuyer, money(v.spend12, cur), money(g.BestBuyerMin12mSpend[cur], cur))
	}
	if has(bitDecliningBasket) {
		add("%s: the last 3 orders average %.0f%% of the 3 before (< %.0f%%)", DecliningBasket,
			100*c.BasketTrend(c.PrimaryCurrency("")), 100*g.DecliningBasketRatio)
	}
	if has(bitEngagedNonSharer) {
		add("%s: engaged (score >= %g), the first referral campaign's target", EngagedNonSharer, g.EngagedMinScore)
	}
	if has(bitFiveStarReviewer) {
		add("%s: %d five-star reviews", FiveStarReviewer, c.FiveStarReviews())
	}
	if has(bitLapsed) {
		add("%s: last purchase on %s, %d days ago (> %d)", Lapsed, c.LastPurchaseAt.Format(time.DateOnly),
			int(now.Sub(*c.LastPurchaseAt)/(24*time.Hour)), g.LapsedDays)
	}
	if has(bitNewCustomer) {
		add("%s: first purchase on %s (within %d days)", NewCustomer, c.FirstPurchaseAt.Format(time.DateOnly), g.NewCustomerDays)
	}
	if has(bitReferredCustomer) {
		add("%s: came through referral code %s and made a first purchase", ReferredCustomer, c.ReferredBy)
	}
	if has(bitSocialFollower) {
		add("%s: follows the brand on %s", SocialFollower, strings.Join(c.SocialFollows, ", "))
	}
	return out
}

func (e *Evaluator) notDrawnByRewards(c *aggregate.Customer, v verdict) string {
	var why []string
	if c.Orders > 0 {
		why = append(why, fmt.Sprintf("%d of %d orders used a discount or voucher", v.rewardOrders, c.Orders))
	} else {
		why = append(why, "no orders")
	}
	switch {
	case c.ReferredBy == "":
		why = append(why, "did not come in through a referral")
	case v.organic:
		why = append(why, fmt.Sprintf("shows organic engagement (%.1f organic points, %d full-price orders)",
			v.score.Organic, c.Orders-v.rewardOrders))
	}
	return strings.Join(why, ", ")
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
