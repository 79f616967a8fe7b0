package segment

import (
	"slices"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/scoring"
)

// NextReview is the first second after now at which the customer's segment or sub-segments
// change with time alone (no new interaction), zero if they never do. The daily schedule
// re-evaluates customers whose NextReview has passed.
//
// Every rule input that moves with time flips at most once per candidate moment: the score
// and the organic points only decay (their threshold crossings are solved analytically, then
// pinned to the exact second), the new-customer, lapse and proven-sharer windows end on known
// dates, and months of spend leave the 12-month window at month starts. Between candidates
// nothing changes, so the first candidate whose classification differs is exact. Time only
// lowers scores and ends windows, so nobody becomes an ambassador with time alone.
func (e *Evaluator) NextReview(c *aggregate.Customer, s *scoring.Signals, now time.Time) time.Time {
	now = now.UTC().Truncate(time.Second)
	st := State(c)
	b := e.cfg.Basis(s, st)
	return e.nextReview(c, s, &b, st.Currency, e.classify(c, s, &b, st.Currency, now, false), now)
}

func (e *Evaluator) nextReview(c *aggregate.Customer, s *scoring.Signals, b *scoring.Basis, cur string, base verdict, now time.Time) time.Time {
	g := e.cfg.Segments
	from := now.Unix()
	var buf [48]int64
	cands := buf[:0]

	measure := func(t int64) scoring.Score { return b.At(time.Unix(t, 0)) }
	sc := base.score
	thresholds := [...]float64{g.AmbassadorMinScore, g.EngagedMinScore, g.OpportunistMaxScore}
	for i, thr := range thresholds {
		if sc.Value < thr || slices.Contains(thresholds[:i], thr) {
			continue
		}
		if d, ok := e.cfg.TimeBelow(sc.Steady, sc.Raw-sc.Steady, e.cfg.RawBelow(thr)); ok {
			guess := now.Add(d).Unix()
			cands = append(cands, firstTrue(from, guess, func(t int64) bool { return measure(t).Value < thr }))
		}
	}
	if min := g.OrganicMinPoints; sc.Organic >= min {
		if d, ok := e.cfg.TimeBelow(sc.OrganicSteady, sc.Organic-sc.OrganicSteady, min); ok {
			guess := now.Add(d).Unix()
			cands = append(cands, firstTrue(from, guess, func(t int64) bool { return measure(t).Organic < min }))
		}
	}
	// Windows that end: the first second past "within N days" / the first second of "more than".
	after := func(t *time.Time, n int) {
		if t != nil {
			cands = append(cands, t.Add(days(n)).Unix()+1)
		}
	}
	after(c.FirstPurchaseAt, g.NewCustomerDays)
	after(c.LastPurchaseAt, g.LapsedDays)
	if p := s.LastProof(); !p.IsZero() {
		after(&p, g.ProvenSharerDays)
	}
	// Spend only matters to an ambassador's best_buyer, and time alone makes nobody an
	// ambassador: the first change of anyone else comes from the rest.
	if _, ok := g.BestBuyerMin12mSpend[cur]; ok && base.segment == Ambassador {
		cands = s.SpendRollOffs(now, cands)
	}

	slices.Sort(cands)
	last := from
	for _, t := range cands {
		if t <= last {
			continue
		}
		last = t
		v := e.classify(c, s, b, cur, time.Unix(t, 0), false)
		if v.segment != base.segment || v.subs != base.subs {
			return time.Unix(t, 0).UTC()
		}
	}
	return time.Time{}
}

// firstTrue is the first second after lo at which pred, false at lo and monotone, holds,
// searched from an analytic guess: two evaluations when the guess is right.
func firstTrue(lo, guess int64, pred func(int64) bool) int64 {
	hi := max(guess, lo+1)
	for step := int64(1); !pred(hi); step *= 2 {
		if step > 1<<40 {
			return hi // never within reach: a late candidate is harmless
		}
		lo, hi = hi, hi+step
	}
	for step := int64(1); hi-step > lo; step *= 2 {
		if !pred(hi - step) {
			lo = hi - step
			break
		}
		hi -= step
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if pred(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}
