package scoring

import (
	"slices"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
)

// WindowSeconds is the length of a cap window: 30 days counted from the Unix epoch, so a
// window's index depends on the event's time alone, never on what else was seen.
const WindowSeconds = 30 * 86400

// Horizon is how many windows Signals keeps, counting back from the latest window it has seen
// (13 windows: 390 days, about the raw interactions' retention). Older events are dropped
// whatever order they arrive in; at the default half-life they would keep under 5% of their
// points.
const Horizon = 13

// SpendMonths is how many calendar months of spend Signals keeps: the 12-month spend.
const SpendMonths = 12

// maxVisitMinutes bounds what one visit adds to visit_duration: a tab left open is not engagement.
const maxVisitMinutes = 30

// NoCurrency keys refunds sent without a currency (ISO 4217 "no currency"), as the aggregate does.
const NoCurrency = "XXX"

// Signals is the per-customer state scoring needs beyond the aggregate: per event signal, the
// events of its recent 30-day windows, plus monthly spend and referral proof. Every field is an
// integer sum, maximum or bounded set, so Observe is commutative and state is exact whatever
// the delivery order. It holds no weights, caps or half-life: a config change rescores every
// customer without migrating data.
//
// Size: an event signal costs about 12 bytes per window it has events in, at most Horizon
// windows; a spend month about 8 bytes, at most SpendMonths per currency. A typical customer
// stores 100-300 bytes; a customer active in every signal every month stays under 3 KB.
type Signals struct {
	// Windows maps a signal's short key to its windows as flat triples, sorted by window:
	// window index, units, and the units' sum of minutes from the window's start (their mean
	// time is what decays).
	Windows map[string][]int64 `json:"windows,omitempty" dynamodbav:"sw,omitempty"`
	// Latest is the latest window seen: windows before Latest-Horizon+1 are dropped.
	Latest int64 `json:"latest_window,omitempty" dynamodbav:"swt,omitempty"`
	// Spend maps a currency to flat pairs, sorted by month: month index (year*12+month-1),
	// spend minus refunds in minor units. Months before the latest month seen minus 11 are dropped.
	Spend map[string][]int64 `json:"monthly_spend,omitempty" dynamodbav:"sms,omitempty"`
	// RewardOrders counts orders that used a discount or a referral code.
	RewardOrders int `json:"reward_orders,omitempty" dynamodbav:"sro,omitempty"`
	// LastReferralClick and LastReferral (Unix seconds) are the latest click a referral link of
	// the customer's brought and the latest successful referral: proof of sharing.
	LastReferralClick int64 `json:"last_referral_click,omitempty" dynamodbav:"slc,omitempty"`
	LastReferral      int64 `json:"last_referral,omitempty" dynamodbav:"slr,omitempty"`
}

// Observe folds one validated interaction in. The caller applies each interaction once (as
// aggregate.Customer.Apply): call it from Apply.
func (s *Signals) Observe(in interaction.Interaction) {
	t := in.OccurredAt.Unix()
	p := in.Properties
	switch in.Type {
	case interaction.EmailOpen:
		s.add(EmailOpen, t, 1)
	case interaction.EmailClick:
		s.add(EmailClick, t, 1)
	case interaction.Visit:
		s.add(Visit, t, 1)
		if p.DurationSeconds != nil {
			s.add(VisitDuration, t, min(*p.DurationSeconds/60, maxVisitMinutes))
		}
	case interaction.NPS:
		switch score := deref(p.Score); {
		case score >= 9:
			s.add(NPSPromoter, t, 1)
		case score >= 7:
			s.add(NPSPassive, t, 1)
		default:
			s.add(NPSDetractor, t, 1)
		}
	case interaction.SurveyAnswer:
		s.add(SurveyAnswer, t, 1)
	case interaction.Review:
		switch deref(p.Stars) {
		case 5:
			s.add(Review5Star, t, 1)
		case 4:
			s.add(Review4Star, t, 1)
		default:
			s.add(ReviewLow, t, 1)
		}
	case interaction.Comment:
		s.add(Comment, t, 1)
	case interaction.ReferralShare:
		s.add(ReferralShare, t, 1)
	case interaction.Purchase:
		s.add(Purchase, t, 1)
		s.addSpend(p.Currency, t, deref(p.Total))
		if (p.DiscountUsed != nil && *p.DiscountUsed) || p.ReferralCode != "" {
			s.RewardOrders++
		}
	case interaction.Refund:
		cur := p.Currency
		if cur == "" {
			cur = NoCurrency
		}
		s.addSpend(cur, t, -deref(p.Amount))
	}
}

// ObserveReferralClick records a click that one of the customer's referral links brought.
// Like Observe, the caller applies each click once. A zero time is ignored.
func (s *Signals) ObserveReferralClick(at time.Time) {
	if at.IsZero() {
		return
	}
	s.add(ReferralClick, at.Unix(), 1)
	s.LastReferralClick = max(s.LastReferralClick, at.Unix())
}

// ObserveReferralSignup records a signup that one of the customer's referral links brought.
func (s *Signals) ObserveReferralSignup(at time.Time) {
	if at.IsZero() {
		return
	}
	s.add(ReferralSignup, at.Unix(), 1)
}

// ObserveSuccessfulReferral records a friend's first order redeemed with the customer's code.
func (s *Signals) ObserveSuccessfulReferral(at time.Time) {
	if at.IsZero() {
		return
	}
	s.add(SuccessfulReferral, at.Unix(), 1)
	s.LastReferral = max(s.LastReferral, at.Unix())
}

// LastProof is the latest proof of sharing (a referral click or a successful referral), zero
// if none.
func (s *Signals) LastProof() time.Time {
	if t := max(s.LastReferralClick, s.LastReferral); t > 0 {
		return time.Unix(t, 0).UTC()
	}
	return time.Time{}
}

// add counts units of an event signal at Unix time t in its window.
func (s *Signals) add(sig Signal, t, units int64) {
	if units <= 0 {
		return
	}
	w := floorDiv(t, WindowSeconds)
	if w <= s.Latest-Horizon {
		return // beyond the horizon: dropped now, or later when Latest gets here
	}
	if w > s.Latest {
		s.Latest = w
		s.prune()
	}
	minutes := (t - w*WindowSeconds) / 60
	if s.Windows == nil {
		s.Windows = map[string][]int64{}
	}
	key := signals[sig].key
	l := s.Windows[key]
	i := 0
	for i < len(l) && l[i] < w {
		i += 3
	}
	if i < len(l) && l[i] == w {
		l[i+1] += units
		l[i+2] += units * minutes
	} else {
		l = slices.Insert(l, i, w, units, units*minutes)
	}
	s.Windows[key] = l
}

func (s *Signals) prune() {
	for k, l := range s.Windows {
		i := 0
		for i < len(l) && l[i] <= s.Latest-Horizon {
			i += 3
		}
		switch {
		case i == len(l):
			delete(s.Windows, k)
		case i > 0:
			s.Windows[k] = slices.Clone(l[i:])
		}
	}
}

func (s *Signals) addSpend(cur string, t, amount int64) {
	if cur == "" {
		return
	}
	m := monthIndex(t)
	top, ok := s.topMonth()
	if ok && m <= top-SpendMonths {
		return
	}
	if !ok || m > top {
		for c, l := range s.Spend {
			i := 0
			for i < len(l) && l[i] <= m-SpendMonths {
				i += 2
			}
			if i == len(l) {
				delete(s.Spend, c)
			} else if i > 0 {
				s.Spend[c] = slices.Clone(l[i:])
			}
		}
	}
	if s.Spend == nil {
		s.Spend = map[string][]int64{}
	}
	l := s.Spend[cur]
	i := 0
	for i < len(l) && l[i] < m {
		i += 2
	}
	if i < len(l) && l[i] == m {
		l[i+1] += amount
	} else {
		l = slices.Insert(l, i, m, amount)
	}
	s.Spend[cur] = l
}

// topMonth is the latest month with spend in any currency.
func (s *Signals) topMonth() (int64, bool) {
	top, ok := int64(0), false
	for _, l := range s.Spend {
		if n := len(l); n > 0 && (!ok || l[n-2] > top) {
			top, ok = l[n-2], true
		}
	}
	return top, ok
}

// Spend12 is the spend in currency over the 12 calendar months ending with now's month,
// minus refunds (refunds without a currency count against whatever currency is asked for:
// ask for the customer's primary currency).
func (s *Signals) Spend12(currency string, now time.Time) int64 {
	from := monthIndex(now.Unix()) - SpendMonths
	var total int64
	for _, cur := range [2]string{currency, NoCurrency} {
		l := s.Spend[cur]
		for i := 0; i < len(l); i += 2 {
			if l[i] > from {
				total += l[i+1]
			}
		}
		if currency == NoCurrency {
			break
		}
	}
	return total
}

// NextSpendRollOff is the first month start after after at which a month of spend leaves the
// 12-month window (changing Spend12), zero if none will.
func (s *Signals) NextSpendRollOff(after time.Time) time.Time {
	cur := monthIndex(after.Unix())
	best := int64(-1)
	for _, l := range s.Spend {
		for i := 0; i < len(l); i += 2 {
			// Month m counts until the end of month m+11, so it leaves at the start of m+12.
			if out := l[i] + SpendMonths; out > cur && l[i+1] != 0 && (best < 0 || out < best) {
				best = out
			}
		}
	}
	if best < 0 {
		return time.Time{}
	}
	return time.Date(int(best/12), time.Month(best%12+1), 1, 0, 0, 0, 0, time.UTC)
}

func monthIndex(unix int64) int64 {
	t := time.Unix(unix, 0).UTC()
	return int64(t.Year())*12 + int64(t.Month()) - 1
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
