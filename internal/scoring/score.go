package scoring

import (
	"math"
	"time"
)

// State is what scoring reads from the customer's aggregate: states, not events.
type State struct {
	ProfileFields int  // distinct profile fields given
	SocialFollows int  // distinct networks followed
	LoyaltyMember bool // joined the loyalty program
	// AverageBasket is the mean order total in Currency (minor units) and LastPurchase the
	// latest order, which the basket points decay from.
	AverageBasket int64
	Currency      string
	LastPurchase  time.Time
}

// Score is an engagement score with what it is made of.
type Score struct {
	// Value is the score, 0-100 with one decimal: 100 * (1 - exp(-Raw / saturation_points)).
	Value float64 `json:"score"`
	// Tenths is Value * 10, exact: compare thresholds and sum breakdowns with it.
	Tenths int `json:"-"`
	// Breakdown is each contributing signal's share of Value, one decimal, summing exactly to
	// Value (in tenths). Nil from Measure.
	Breakdown map[string]float64 `json:"breakdown,omitempty"`
	// Raw is the sum of every signal's points before saturation; Steady the part of it that
	// does not decay. Organic and OrganicSteady are the same for organic signals only.
	Raw, Steady, Organic, OrganicSteady float64 `json:"-"`
	// Points are the raw points per signal.
	Points [numSignals]float64 `json:"-"`
}

// Basis is a customer's points referenced to one moment. Every decaying point halves with the
// same half-life, so at any time t the points are steady + decaying * 2^(-(t-ref)/h): computing
// a Basis is the costly part (an exponential per window), scoring it at a time is cheap. ref is
// a function of the state alone (its latest window or purchase), so whoever scores the same
// state at the same second gets bitwise the same score: a result and its NextReview agree.
type Basis struct {
	cfg      *Config
	ref      float64 // Unix seconds
	decaying [numSignals]float64
	steady   [numSignals]float64
}

// Basis prepares the customer's points (no allocation).
func (c *Config) Basis(s *Signals, st State) Basis {
	b := Basis{cfg: c}
	h := c.HalfLifeDays * 86400
	it := newWindowIter(s.Windows)
	// The latest window's end or the last purchase, whichever is later: exponents stay <= 0.
	b.ref = float64((it.latest + 1) * WindowSeconds)
	if len(s.Windows) == 0 {
		b.ref = 0
	}
	if !st.LastPurchase.IsZero() {
		b.ref = max(b.ref, float64(st.LastPurchase.Unix()))
	}
	for {
		sig, win, ok := it.next()
		if !ok {
			break
		}
		w := c.weights[sig]
		if w.Points == 0 || win.units <= 0 || !sig.Event() {
			continue
		}
		units := float64(win.units)
		mean := float64(win.w*WindowSeconds) + float64(win.minutes)*60/units
		b.decaying[sig] += w.Points * math.Min(units, w.Cap) * math.Exp2((mean-b.ref)/h)
	}
	if t, ok := c.AverageBasketTarget[st.Currency]; ok && st.AverageBasket > 0 && !st.LastPurchase.IsZero() {
		w := c.weights[AverageBasket]
		ratio := math.Min(float64(st.AverageBasket)/float64(t), w.Cap)
		b.decaying[AverageBasket] = w.Points * ratio * math.Exp2((float64(st.LastPurchase.Unix())-b.ref)/h)
	}
	state := func(sig Signal, units float64) {
		w := c.weights[sig]
		b.steady[sig] = w.Points * math.Min(units, w.Cap)
	}
	state(ProfileField, float64(st.ProfileFields))
	state(SocialFollow, float64(st.SocialFollows))
	if st.LoyaltyMember {
		state(LoyaltyMember, 1)
	}
	return b
}

// At scores the basis at now, without the breakdown (no allocation). Times before an event
// count it slightly more than fully (clock skew of minutes: negligible).
func (b *Basis) At(now time.Time) Score {
	var sc Score
	at := float64(now.Unix()) + float64(now.Nanosecond())/1e9
	f := math.Exp2(-(at - b.ref) / (b.cfg.HalfLifeDays * 86400))
	for sig := range sc.Points {
		p := b.decaying[sig]*f + b.steady[sig]
		sc.Points[sig] = p
		sc.Raw += p
		sc.Steady += b.steady[sig]
		if Signal(sig).Organic() {
			sc.Organic += p
			sc.OrganicSteady += b.steady[sig]
		}
	}
	sc.Tenths = b.cfg.tenths(sc.Raw)
	sc.Value = float64(sc.Tenths) / 10
	return sc
}

// Explain scores the basis at now, with the breakdown.
func (b *Basis) Explain(now time.Time) Score {
	sc := b.At(now)
	sc.Breakdown = breakdown(sc.Points[:], sc.Raw, sc.Tenths)
	return sc
}

// Measure scores the customer at now, without the breakdown (no allocation).
func (c *Config) Measure(s *Signals, st State, now time.Time) Score {
	b := c.Basis(s, st)
	return b.At(now)
}

// Score scores the customer at now, with the breakdown.
func (c *Config) Score(s *Signals, st State, now time.Time) Score {
	b := c.Basis(s, st)
	return b.Explain(now)
}

// tenths saturates raw points to 0-1000 tenths of a score point.
func (c *Config) tenths(raw float64) int {
	return int(math.Round(1000 * (1 - math.Exp(-raw/c.SaturationPoints))))
}

// RawBelow is the raw points under which the score (one decimal) is below score.
func (c *Config) RawBelow(score float64) float64 {
	f := (score*10 - 0.5) / 1000
	if f <= 0 {
		return 0
	}
	if f >= 1 {
		return math.Inf(1)
	}
	return -c.SaturationPoints * math.Log(1-f)
}

// TimeBelow is how long after the measurement steady + decaying * 2^(-t/half-life) takes to
// drop below bound: the analytic solution for a score, or organic points, reaching a
// threshold with time alone. ok is false when it never does (the steady part reaches bound)
// or already is below.
func (c *Config) TimeBelow(steady, decaying, bound float64) (d time.Duration, ok bool) {
	if steady >= bound || steady+decaying < bound || decaying <= 0 {
		return 0, false
	}
	secs := c.HalfLifeDays * 86400 * math.Log2(decaying/(bound-steady))
	if secs > 100*365*86400 {
		return 0, false
	}
	return time.Duration(math.Ceil(secs)) * time.Second, true
}

// breakdown shares tenths out in proportion to points by largest remainder, so the shares add
// up exactly; ties go to the signal listed first.
func breakdown(points []float64, raw float64, tenths int) map[string]float64 {
	out := map[string]float64{}
	if raw <= 0 || tenths <= 0 {
		return out
	}
	var floors [numSignals]int
	var rems [numSignals]float64
	left := tenths
	for i, p := range points {
		q := float64(tenths) * p / raw
		floors[i] = int(math.Floor(q))
		rems[i] = q - float64(floors[i])
		left -= floors[i]
	}
	for ; left > 0; left-- {
		best := -1
		for i := range rems {
			if points[i] > 0 && (best < 0 || rems[i] > rems[best]) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		floors[best]++
		rems[best] = -1
	}
	for ; left < 0; left++ { // float rounding can overshoot by a tenth: take it back
		worst := -1
		for i := range rems {
			if floors[i] > 0 && (worst < 0 || rems[i] < rems[worst]) {
				worst = i
			}
		}
		floors[worst]--
		rems[worst] = 2
	}
	for i, f := range floors {
		if f > 0 {
			out[Signal(i).String()] = float64(f) / 10
		}
	}
	return out
}
