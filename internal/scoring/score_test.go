package scoring

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
)

const day = 24 * time.Hour

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestEverySignalScores(t *testing.T) {
	cfg := Default()
	at := now.Add(-time.Minute)
	w := cfg.Weight
	cases := []struct {
		name string
		ins  []interaction.Interaction
		st   State
		sig  Signal
		want float64
	}{
		{"email open", []interaction.Interaction{ev(interaction.EmailOpen, at, interaction.Properties{CampaignID: "c"})}, State{}, EmailOpen, w(EmailOpen).Points},
		{"email click", []interaction.Interaction{ev(interaction.EmailClick, at, interaction.Properties{CampaignID: "c"})}, State{}, EmailClick, w(EmailClick).Points},
		{"visit frequency", []interaction.Interaction{ev(interaction.Visit, at, interaction.Properties{DurationSeconds: i64(600)})}, State{}, Visit, w(Visit).Points},
		{"visit duration per minute", []interaction.Interaction{ev(interaction.Visit, at, interaction.Properties{DurationSeconds: i64(600)})}, State{}, VisitDuration, 10 * w(VisitDuration).Points},
		{"nps promoter", []interaction.Interaction{ev(interaction.NPS, at, interaction.Properties{Score: i64(10)})}, State{}, NPSPromoter, w(NPSPromoter).Points},
		{"nps passive", []interaction.Interaction{ev(interaction.NPS, at, interaction.Properties{Score: i64(8)})}, State{}, NPSPassive, w(NPSPassive).Points},
		{"nps detractor", []interaction.Interaction{ev(interaction.NPS, at, interaction.Properties{Score: i64(2)})}, State{}, NPSDetractor, w(NPSDetractor).Points},
		{"survey answer", []interaction.Interaction{ev(interaction.SurveyAnswer, at, interaction.Properties{SurveyID: "s"})}, State{}, SurveyAnswer, w(SurveyAnswer).Points},
		{"5-star review", []interaction.Interaction{ev(interaction.Review, at, interaction.Properties{Stars: i64(5), ReviewID: "r"})}, State{}, Review5Star, w(Review5Star).Points},
		{"4-star review", []interaction.Interaction{ev(interaction.Review, at, interaction.Properties{Stars: i64(4), ReviewID: "r"})}, State{}, Review4Star, w(Review4Star).Points},
		{"2-star review", []interaction.Interaction{ev(interaction.Review, at, interaction.Properties{Stars: i64(2), ReviewID: "r"})}, State{}, ReviewLow, w(ReviewLow).Points},
		{"comment", []interaction.Interaction{ev(interaction.Comment, at, interaction.Properties{})}, State{}, Comment, w(Comment).Points},
		{"purchase frequency", []interaction.Interaction{ev(interaction.Purchase, at, interaction.Properties{OrderID: "o", Total: i64(100), Currency: "EUR"})}, State{}, Purchase, w(Purchase).Points},
		{"referral share", []interaction.Interaction{ev(interaction.ReferralShare, at, interaction.Properties{Code: "ANNA-1", Channel: "email"})}, State{}, ReferralShare, w(ReferralShare).Points},
		{"profile fields, per distinct field", nil, State{ProfileFields: 3}, ProfileField, 3 * w(ProfileField).Points},
		{"profile fields capped", nil, State{ProfileFields: 30}, ProfileField, w(ProfileField).Cap * w(ProfileField).Points},
		{"loyalty member", nil, State{LoyaltyMember: true}, LoyaltyMember, w(LoyaltyMember).Points},
		{"social follows, per network", nil, State{SocialFollows: 2}, SocialFollow, 2 * w(SocialFollow).Points},
		{"average basket at target", nil, State{AverageBasket: 6000, Currency: "EUR", LastPurchase: now}, AverageBasket, w(AverageBasket).Points},
		{"average basket half the target", nil, State{AverageBasket: 3000, Currency: "EUR", LastPurchase: now}, AverageBasket, w(AverageBasket).Points / 2},
		{"average basket capped", nil, State{AverageBasket: 60000, Currency: "EUR", LastPurchase: now}, AverageBasket, w(AverageBasket).Points * w(AverageBasket).Cap},
		{"average basket without a target", nil, State{AverageBasket: 6000, Currency: "JPY", LastPurchase: now}, AverageBasket, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s Signals
			for _, in := range tc.ins {
				s.Observe(in)
			}
			sc := cfg.Score(&s, tc.st, now)
			if got := sc.Points[tc.sig]; !near(got, tc.want, tc.want*1e-4) {
				t.Errorf("%s: %v points, want %v", tc.sig, got, tc.want)
			}
			if tc.want > 0 && (sc.Value <= 0 || sc.Breakdown[tc.sig.String()] <= 0) {
				t.Errorf("score %v, breakdown %v", sc.Value, sc.Breakdown)
			}
		})
	}
	t.Run("referral activity", func(t *testing.T) {
		var s Signals
		s.ObserveReferralClick(at)
		s.ObserveReferralSignup(at)
		s.ObserveSuccessfulReferral(at)
		sc := cfg.Measure(&s, State{}, now)
		for _, sig := range []Signal{ReferralClick, ReferralSignup, SuccessfulReferral} {
			if !near(sc.Points[sig], w(sig).Points, 1e-3) {
				t.Errorf("%s: %v points", sig, sc.Points[sig])
			}
		}
	})
}

func TestDecayHalvesPoints(t *testing.T) {
	cfg := Default()
	var s Signals
	s.Observe(ev(interaction.Review, now, interaction.Properties{Stars: i64(5), ReviewID: "r"}))
	full := cfg.Weight(Review5Star).Points
	for _, tc := range []struct {
		after time.Duration
		want  float64
	}{{0, full}, {90 * day, full / 2}, {180 * day, full / 4}, {45 * day, full / math.Sqrt2}} {
		if got := cfg.Measure(&s, State{}, now.Add(tc.after)).Points[Review5Star]; !near(got, tc.want, 1e-9) {
			t.Errorf("after %v: %v points, want %v", tc.after, got, tc.want)
		}
	}
	// A state decays from its own date: the basket from the last purchase.
	st := State{AverageBasket: 6000, Currency: "EUR", LastPurchase: now}
	if got := cfg.Measure(&Signals{}, st, now.Add(90*day)).Points[AverageBasket]; !near(got, cfg.Weight(AverageBasket).Points/2, 1e-9) {
		t.Errorf("basket after a half-life: %v", got)
	}
	// Other states do not decay.
	st = State{ProfileFields: 2, LoyaltyMember: true, SocialFollows: 1}
	if a, b := cfg.Measure(&Signals{}, st, now), cfg.Measure(&Signals{}, st, now.AddDate(5, 0, 0)); a.Raw != b.Raw || a.Steady != a.Raw {
		t.Errorf("states decayed: %v -> %v", a.Raw, b.Raw)
	}
	// Events of one window decay from their mean time: within 1% of each event's own decay.
	var two Signals
	w0 := time.Unix(now.Unix()/WindowSeconds*WindowSeconds, 0)
	two.Observe(ev(interaction.Comment, w0, interaction.Properties{}))
	two.Observe(ev(interaction.Comment, w0.Add(29*day), interaction.Properties{}))
	at := w0.Add(200 * day)
	exact := cfg.Weight(Comment).Points * (math.Exp2(-200.0/90) + math.Exp2(-171.0/90))
	if got := cfg.Measure(&two, State{}, at).Points[Comment]; !near(got, exact, exact*0.01) {
		t.Errorf("two comments: %v, exact %v", got, exact)
	}
}

func TestCapsStopGaming(t *testing.T) {
	cfg := Default()
	var spam, few Signals
	start := now.AddDate(0, 0, -30)
	for d := 0; d < 30; d++ {
		for i := 0; i < 50; i++ {
			spam.Observe(ev(interaction.EmailOpen, start.AddDate(0, 0, d).Add(time.Duration(i)*time.Minute), interaction.Properties{CampaignID: "c"}))
		}
	}
	for i := 0; i < 4; i++ {
		few.Observe(ev(interaction.EmailOpen, start.AddDate(0, 0, 7*i), interaction.Properties{CampaignID: "c"}))
	}
	s, f := cfg.Measure(&spam, State{}, now), cfg.Measure(&few, State{}, now)
	// 1,500 opens earn what a cap's worth does in each of the (at most two) windows they touch.
	if limit := 2 * cfg.Weight(EmailOpen).Cap * cfg.Weight(EmailOpen).Points; s.Raw > limit {
		t.Errorf("1,500 opens earn %v raw points, over %v", s.Raw, limit)
	}
	if s.Value > 2*f.Value || s.Value > 5 {
		t.Errorf("1,500 opens score %v, 4 opens %v", s.Value, f.Value)
	}
	// Every capped signal: cap+10 events in one window earn the cap.
	for _, sig := range []Signal{EmailClick, Comment, Purchase, ReferralShare} {
		var a, b Signals
		w0 := time.Unix(now.Unix()/WindowSeconds*WindowSeconds, 0)
		n := int(cfg.Weight(sig).Cap)
		for i := 0; i < n+10; i++ {
			in := map[Signal]interaction.Interaction{
				EmailClick:    ev(interaction.EmailClick, w0.Add(time.Duration(i)*time.Hour), interaction.Properties{CampaignID: "c"}),
				Comment:       ev(interaction.Comment, w0.Add(time.Duration(i)*time.Hour), interaction.Properties{}),
				Purchase:      ev(interaction.Purchase, w0.Add(time.Duration(i)*time.Hour), interaction.Properties{OrderID: "o", Total: i64(1), Currency: "EUR"}),
				ReferralShare: ev(interaction.ReferralShare, w0.Add(time.Duration(i)*time.Hour), interaction.Properties{Code: "ABC", Channel: "sms"}),
			}[sig]
			a.Observe(in)
			if i < n {
				b.Observe(in)
			}
		}
		at := w0.Add(WindowSeconds * time.Second)
		pa, pb := cfg.Measure(&a, State{}, at).Points[sig], cfg.Measure(&b, State{}, at).Points[sig]
		if !near(pa, pb, pb*0.01) {
			t.Errorf("%s: %d events earn %v, the cap's %d earn %v", sig, n+10, pa, n, pb)
		}
	}
}

func TestSaturation(t *testing.T) {
	cfg := Default()
	for _, tc := range []struct {
		raw    float64
		tenths int
	}{{0, 0}, {1, 10}, {28.77, 250}, {91.63, 600}, {100, 632}, {230.26, 900}, {1e4, 1000}, {math.Inf(1), 1000}} {
		if got := cfg.tenths(tc.raw); got != tc.tenths {
			t.Errorf("raw %v: %d tenths, want %d", tc.raw, got, tc.tenths)
		}
	}
	for _, score := range []float64{25, 60, 90, 99.9} {
		b := cfg.RawBelow(score)
		if cfg.tenths(b*0.9999999) >= int(score*10) || cfg.tenths(b*1.0000001) < int(score*10) {
			t.Errorf("RawBelow(%v) = %v is not the boundary", score, b)
		}
	}
}

func TestTimeBelow(t *testing.T) {
	cfg := Default()
	h := time.Duration(cfg.HalfLifeDays) * day
	for _, tc := range []struct {
		name                    string
		steady, decaying, bound float64
		want                    time.Duration
		ok                      bool
	}{
		{"one half-life", 10, 80, 50, h, true},
		{"two half-lives", 0, 100, 25, 2 * h, true},
		{"steady part holds it up", 60, 40, 50, 0, false},
		{"already below", 0, 10, 20, 0, false},
	} {
		d, ok := cfg.TimeBelow(tc.steady, tc.decaying, tc.bound)
		if ok != tc.ok || (ok && (d < tc.want || d > tc.want+time.Second)) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, d, ok, tc.want, tc.ok)
		}
	}
}

func TestBreakdownSumsToScore(t *testing.T) {
	cfg := Default()
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 3000; i++ {
		var s Signals
		for _, in := range randomInteractions(r, r.IntN(120), now) {
			s.Observe(in)
		}
		for j := r.IntN(30); j > 0; j-- {
			s.ObserveReferralClick(now.Add(-time.Duration(r.Int64N(int64(400 * day)))))
		}
		st := State{ProfileFields: r.IntN(8), SocialFollows: r.IntN(4), LoyaltyMember: r.IntN(2) == 0,
			AverageBasket: r.Int64N(20000), Currency: "EUR", LastPurchase: now.Add(-time.Duration(r.Int64N(int64(700 * day))))}
		at := now.Add(time.Duration(r.Int64N(int64(400 * day))))
		sc := cfg.Score(&s, st, at)
		sum := 0
		for name, v := range sc.Breakdown {
			if _, ok := SignalNamed(name); !ok || v <= 0 {
				t.Fatalf("breakdown entry %s=%v", name, v)
			}
			sum += int(math.Round(v * 10))
		}
		if sum != sc.Tenths || sc.Value != float64(sc.Tenths)/10 || sc.Value < 0 || sc.Value > 100 {
			t.Fatalf("case %d: breakdown %v sums to %d tenths, score %v", i, sc.Breakdown, sum, sc.Value)
		}
	}
}
