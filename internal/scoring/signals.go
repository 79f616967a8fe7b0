package scoring

import (
	"fmt"
	"slices"
	"strings"
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
// events of its recent 30-day windows, plus monthly spend and referral proof. Every part is an
// integer sum, maximum or bounded set in a canonical encoding (codec.go), so Observe is
// commutative and the state is exactly the same whatever the delivery order. It holds no
// weights, caps or half-life: a config change rescores every customer without migrating data.
//
// Size (DynamoDB bills the bytes): about 5 bytes per window a signal has events in (at most
// Horizon per signal) and 5 per month of spend. The persona fixtures store 20-170 bytes; a
// customer active in 10 signals every month of the year about 520; every signal every day
// about 1.5 KB, the bound (TestStoredSize).
type Signals struct {
	// Windows: per event signal, its windows: units and their minutes from the window's start
	// (their mean time is what decays). Windows before the latest seen minus Horizon-1 are dropped.
	Windows []byte `json:"windows,omitempty" dynamodbav:"sw,omitempty"`
	// Spend: per currency and calendar month, spend minus refunds in minor units. Months before
	// the latest month seen minus 11 are dropped.
	Spend []byte `json:"monthly_spend,omitempty" dynamodbav:"sms,omitempty"`
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

// add counts units of an event signal at Unix time t in its window. Usually only the
// signal's own section is decoded and rewritten; a new latest window re-encodes everything
// (pruning what falls beyond the horizon), about once a month.
func (s *Signals) add(sig Signal, t, units int64) {
	if units <= 0 || t < 0 {
		return
	}
	w, latest := t/WindowSeconds, int64(0)
	if len(s.Windows) > 0 {
		r := reader{b: s.Windows}
		latest = int64(r.uvarint())
	}
	if w <= latest-Horizon {
		return // beyond the horizon: dropped now, or later when latest gets here
	}
	minutes := (t - w*WindowSeconds) / 60
	if start, end, ok := section(s.Windows, sig); ok && w <= latest && len(s.Windows) > 0 {
		var one windows
		one.latest = latest
		one.decodeSections(s.Windows[start:end])
		one.insert(sig, window{w: w, units: units, minutes: units * minutes})
		out := make([]byte, 0, len(s.Windows)+16)
		out = one.appendSection(append(out, s.Windows[:start]...), sig)
		s.Windows = append(out, s.Windows[end:]...)
		return
	}
	var d windows
	d.decode(s.Windows)
	if w > d.latest {
		d.latest = w
		for sig := range d.n { // prune
			keep := d.w[sig][:0]
			for _, x := range d.w[sig][:d.n[sig]] {
				if x.w > w-Horizon {
					keep = append(keep, x)
				}
			}
			d.n[sig] = len(keep)
		}
	}
	d.insert(sig, window{w: w, units: units, minutes: units * minutes})
	s.Windows = d.encode()
}

func (s *Signals) addSpend(currency string, t, amount int64) {
	if len(currency) != 3 || t < 0 {
		return
	}
	cur := [3]byte([]byte(currency))
	m := monthIndex(t)
	top, ms := decodeSpend(s.Spend)
	if len(ms) > 0 && m <= top-SpendMonths {
		return
	}
	if len(ms) == 0 || m > top {
		top = m
		ms = slices.DeleteFunc(ms, func(x month) bool { return x.m <= m-SpendMonths })
	}
	i := slices.IndexFunc(ms, func(x month) bool { return x.cur == cur && x.m == m })
	if i < 0 {
		ms = append(ms, month{cur: cur, m: m})
		i = len(ms) - 1
	}
	ms[i].amt += amount
	s.Spend = encodeSpend(top, ms)
}

// Spend12 is the spend in currency over the 12 calendar months ending with now's month,
// minus refunds (refunds without a currency count against whatever currency is asked for:
// ask for the customer's primary currency).
func (s *Signals) Spend12(currency string, now time.Time) int64 {
	if len(currency) != 3 {
		return 0
	}
	cur, none := [3]byte([]byte(currency)), [3]byte([]byte(NoCurrency))
	from := monthIndex(now.Unix()) - SpendMonths
	var total int64
	it := newMonthIter(s.Spend)
	for m, ok := it.next(); ok; m, ok = it.next() {
		if m.m > from && (m.cur == cur || m.cur == none) {
			total += m.amt
		}
	}
	return total
}

// SpendRollOffs appends to dst the month starts after after at which a month of spend leaves
// the 12-month window (changing Spend12), as Unix seconds, in no particular order.
func (s *Signals) SpendRollOffs(after time.Time, dst []int64) []int64 {
	cur := monthIndex(after.Unix())
	it := newMonthIter(s.Spend)
	for m, ok := it.next(); ok; m, ok = it.next() {
		// Month m counts until the end of month m+11, so it leaves at the start of m+12.
		if out := m.m + SpendMonths; out > cur && m.amt != 0 {
			dst = append(dst, time.Date(int(out/12), time.Month(out%12+1), 1, 0, 0, 0, 0, time.UTC).Unix())
		}
	}
	return dst
}

func monthIndex(unix int64) int64 {
	t := time.Unix(unix, 0).UTC()
	return int64(t.Year())*12 + int64(t.Month()) - 1
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// String shows the decoded state, for logs and test failures.
func (s *Signals) String() string {
	var b strings.Builder
	for it := newWindowIter(s.Windows); ; {
		sig, w, ok := it.next()
		if !ok {
			break
		}
		fmt.Fprintf(&b, "%s@%s:%d ", sig, time.Unix(w.w*WindowSeconds, 0).UTC().Format(time.DateOnly), w.units)
	}
	_, ms := decodeSpend(s.Spend)
	for _, m := range ms {
		fmt.Fprintf(&b, "spend@%d-%02d:%d%s ", m.m/12, m.m%12+1, m.amt, m.cur[:])
	}
	fmt.Fprintf(&b, "reward_orders:%d last_click:%d last_referral:%d", s.RewardOrders, s.LastReferralClick, s.LastReferral)
	return b.String()
}
