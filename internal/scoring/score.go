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

// Measure scores the customer at now, without the breakdown (no allocation).
func (c *Config) Measure(s *Signals, st State, now time.Time) Score {
	var sc Score
	h := c.HalfLifeDays * 86400
	at := float64(now.Unix()) + float64(now.Nanosecond())/1e9
	for sig := Signal(0); sig < numSignals; sig++ {
		key := signals[sig].key
		w := c.weights[sig]
		if key == "" || w.Points == 0 {
			continue
		}
		l := s.Windows[key]
		var p float64
		for i := 0; i+2 < len(l); i += 3 {
			units := float64(l[i+1])
			mean := float64(l[i]*WindowSeconds) + float64(l[i+2])*60/units
			p += w.Points * math.Min(units, w.Cap) * decay(at-mean, h)
		}
		sc.Points[sig] = p
	}
	if t, ok := c.AverageBasketTarget[st.Currency]; ok && st.AverageBasket > 0 && !st.LastPurchase.IsZero() {
		w := c.weights[AverageBasket]
		ratio := math.Min(float64(st.AverageBasket)/float64(t), w.Cap)
		sc.Points[AverageBasket] = w.Points * ratio * decay(at-float64(st.LastPurchase.Unix()), h)
	}
	steady := func(sig Signal, units float64) {
		w := c.weights[sig]
		sc.Points[sig] = w.Points * math.Min(units, w.Cap)
		sc.Steady += sc.Points[sig]
		sc.OrganicSteady += sc.Points[sig] // every state signal is organic
	}
	steady(ProfileField, float64(st.ProfileFields))
	steady(SocialFollow, float64(st.SocialFollows))
	if st.LoyaltyMember {
		steady(LoyaltyMember, 1)
	}
	for sig, p := range sc.Points {
		sc.Raw += p
		if Signal(sig).Organic() {
			sc.Organic += p
		}
	}
	sc.Tenths = c.tenths(sc.Raw)
	sc.Value = float64(sc.Tenths) / 10
	return sc
}

// Score scores the customer at now, with the breakdown.
func (c *Config) Score(s *Signals, st State, now time.Time) Score {
	sc := c.Measure(s, st, now)
	sc.Breakdown = breakdown(sc.Points[:], sc.Raw, sc.Tenths)
	return sc
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

func decay(age, halfLife float64) float64 {
	if age <= 0 {
		return 1
	}
	return math.Exp2(-age / halfLife)
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
