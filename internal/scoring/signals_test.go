package scoring

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func i64(v int64) *int64 { return &v }
func yes() *bool         { b := true; return &b }

func ev(typ interaction.Type, at time.Time, p interaction.Properties) interaction.Interaction {
	return interaction.Interaction{EventID: "e", CustomerID: "c1", Type: typ, OccurredAt: at, Properties: p}
}

// units sums a signal's units over its windows.
func units(s *Signals, sig Signal) int64 {
	var n int64
	for it := newWindowIter(s.Windows); ; {
		g, w, ok := it.next()
		if !ok {
			return n
		}
		if g == sig {
			n += w.units
		}
	}
}

func TestObserveSignals(t *testing.T) {
	at := now.Add(-time.Hour)
	cases := []struct {
		name string
		in   interaction.Interaction
		want map[Signal]int64
	}{
		{"email_open", ev(interaction.EmailOpen, at, interaction.Properties{CampaignID: "c"}), map[Signal]int64{EmailOpen: 1}},
		{"email_click", ev(interaction.EmailClick, at, interaction.Properties{CampaignID: "c"}), map[Signal]int64{EmailClick: 1}},
		{"visit of 7 minutes", ev(interaction.Visit, at, interaction.Properties{DurationSeconds: i64(450)}), map[Signal]int64{Visit: 1, VisitDuration: 7}},
		{"visit of 20 seconds", ev(interaction.Visit, at, interaction.Properties{DurationSeconds: i64(20)}), map[Signal]int64{Visit: 1}},
		{"visit of a day counts 30 minutes", ev(interaction.Visit, at, interaction.Properties{DurationSeconds: i64(86400)}), map[Signal]int64{Visit: 1, VisitDuration: 30}},
		{"nps 10 promoter", ev(interaction.NPS, at, interaction.Properties{Score: i64(10)}), map[Signal]int64{NPSPromoter: 1}},
		{"nps 9 promoter", ev(interaction.NPS, at, interaction.Properties{Score: i64(9)}), map[Signal]int64{NPSPromoter: 1}},
		{"nps 7 passive", ev(interaction.NPS, at, interaction.Properties{Score: i64(7)}), map[Signal]int64{NPSPassive: 1}},
		{"nps 6 detractor", ev(interaction.NPS, at, interaction.Properties{Score: i64(6)}), map[Signal]int64{NPSDetractor: 1}},
		{"nps 0 detractor", ev(interaction.NPS, at, interaction.Properties{Score: i64(0)}), map[Signal]int64{NPSDetractor: 1}},
		{"survey_answer", ev(interaction.SurveyAnswer, at, interaction.Properties{SurveyID: "s"}), map[Signal]int64{SurveyAnswer: 1}},
		{"review 5", ev(interaction.Review, at, interaction.Properties{Stars: i64(5), ReviewID: "r"}), map[Signal]int64{Review5Star: 1}},
		{"review 4", ev(interaction.Review, at, interaction.Properties{Stars: i64(4), ReviewID: "r"}), map[Signal]int64{Review4Star: 1}},
		{"review 1", ev(interaction.Review, at, interaction.Properties{Stars: i64(1), ReviewID: "r"}), map[Signal]int64{ReviewLow: 1}},
		{"comment", ev(interaction.Comment, at, interaction.Properties{}), map[Signal]int64{Comment: 1}},
		{"referral_share", ev(interaction.ReferralShare, at, interaction.Properties{Code: "ANNA-1", Channel: "whatsapp"}), map[Signal]int64{ReferralShare: 1}},
		{"purchase", ev(interaction.Purchase, at, interaction.Properties{OrderID: "o", Total: i64(5000), Currency: "EUR"}), map[Signal]int64{Purchase: 1}},
		{"states live in the aggregate", ev(interaction.ProfileUpdate, at, interaction.Properties{Fields: map[string]string{"birthday": "04-12"}}), map[Signal]int64{}},
		{"signup", ev(interaction.Signup, at, interaction.Properties{ReferralCode: "ANNA-1"}), map[Signal]int64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s Signals
			s.Observe(tc.in)
			for _, sig := range AllSignals() {
				if got := units(&s, sig); got != tc.want[sig] {
					t.Errorf("%s: %d units, want %d", sig, got, tc.want[sig])
				}
			}
		})
	}
}

func TestObserveReferralActivity(t *testing.T) {
	var s Signals
	s.ObserveReferralClick(now.Add(-48 * time.Hour))
	s.ObserveReferralClick(now.Add(-72 * time.Hour))
	s.ObserveReferralSignup(now.Add(-24 * time.Hour))
	s.ObserveSuccessfulReferral(now.Add(-200 * 24 * time.Hour))
	s.ObserveSuccessfulReferral(time.Time{}) // ignored
	if units(&s, ReferralClick) != 2 || units(&s, ReferralSignup) != 1 || units(&s, SuccessfulReferral) != 1 {
		t.Errorf("signals %v", &s)
	}
	if !s.LastProof().Equal(now.Add(-48 * time.Hour)) {
		t.Errorf("last proof %v", s.LastProof())
	}
}

func TestSpendAndRewardOrders(t *testing.T) {
	var s Signals
	buy := func(at time.Time, total int64, cur string, discount bool, code string) {
		p := interaction.Properties{OrderID: "o", Total: i64(total), Currency: cur, ReferralCode: code}
		if discount {
			p.DiscountUsed = yes()
		}
		s.Observe(ev(interaction.Purchase, at, p))
	}
	buy(now.AddDate(0, -13, 0), 99999, "EUR", false, "") // outside the 12 months
	buy(now.AddDate(0, -11, 0), 10000, "EUR", true, "")  // December 2025: the oldest month that counts
	buy(now.AddDate(0, -1, 0), 5000, "EUR", false, "ANNA-1")
	buy(now, 2000, "USD", false, "")
	s.Observe(ev(interaction.Refund, now, interaction.Properties{OrderID: "o", Amount: i64(1000)}))
	if got := s.Spend12("EUR", now); got != 14000 {
		t.Errorf("12-month EUR spend %d, want 10000+5000-1000", got)
	}
	if got := s.Spend12("USD", now); got != 1000 {
		t.Errorf("12-month USD spend %d", got)
	}
	if s.RewardOrders != 2 {
		t.Errorf("reward orders %d", s.RewardOrders)
	}
	// December 2025 leaves the 12 months when December 2026 starts.
	if got, want := s.SpendRollOffs(now, nil), []int64{
		time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).Unix(), // EUR, December 2025
		time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC).Unix(), // EUR, October 2026
		time.Date(2027, 11, 1, 0, 0, 0, 0, time.UTC).Unix(), // USD
		time.Date(2027, 11, 1, 0, 0, 0, 0, time.UTC).Unix(), // XXX
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("roll-offs %v, want %v", got, want)
	}
	if got := s.Spend12("EUR", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); got != 4000 {
		t.Errorf("EUR spend in December %d, want 5000-1000", got)
	}
}

func TestHorizonDropsOldWindows(t *testing.T) {
	old := ev(interaction.EmailClick, now.AddDate(0, 0, -Horizon*30-1), interaction.Properties{CampaignID: "c"})
	recent := ev(interaction.EmailClick, now, interaction.Properties{CampaignID: "c"})
	var a, b Signals
	a.Observe(old)
	a.Observe(recent)
	b.Observe(recent)
	b.Observe(old)
	if !reflect.DeepEqual(a, b) || units(&a, EmailClick) != 1 {
		t.Errorf("old event kept: %v vs %v", &a, &b)
	}
}

// randomInteractions makes n valid interactions over the last two years.
func randomInteractions(r *rand.Rand, n int, now time.Time) []interaction.Interaction {
	types := []interaction.Type{interaction.Purchase, interaction.Refund, interaction.EmailOpen, interaction.EmailClick,
		interaction.Visit, interaction.NPS, interaction.SurveyAnswer, interaction.Review, interaction.Comment,
		interaction.ReferralShare, interaction.Signup}
	out := make([]interaction.Interaction, n)
	for i := range out {
		at := now.Add(-time.Duration(r.Int64N(int64(730 * 24 * time.Hour)))).Truncate(time.Second)
		typ := types[r.IntN(len(types))]
		p := interaction.Properties{}
		switch typ {
		case interaction.Purchase:
			p = interaction.Properties{OrderID: fmt.Sprint("o", i), Total: i64(r.Int64N(30000)), Currency: []string{"EUR", "USD"}[r.IntN(2)]}
			if r.IntN(3) == 0 {
				p.DiscountUsed = yes()
			}
		case interaction.Refund:
			p = interaction.Properties{OrderID: "o", Amount: i64(1 + r.Int64N(5000))}
		case interaction.Visit:
			p.DurationSeconds = i64(r.Int64N(4000))
		case interaction.NPS:
			p.Score = i64(r.Int64N(11))
		case interaction.Review:
			p.Stars = i64(1 + r.Int64N(5))
		}
		out[i] = interaction.Interaction{EventID: fmt.Sprint("e", i), CustomerID: "c", Type: typ, OccurredAt: at, Properties: p}
	}
	return out
}

func TestObserveIsOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		ins := randomInteractions(r, 1+r.IntN(300), now)
		clicks := make([]time.Time, r.IntN(20))
		for i := range clicks {
			clicks[i] = now.Add(-time.Duration(r.Int64N(int64(500 * 24 * time.Hour))))
		}
		var want Signals
		for _, in := range ins {
			want.Observe(in)
		}
		for _, c := range clicks {
			want.ObserveReferralClick(c)
			want.ObserveSuccessfulReferral(c)
		}
		for shuffle := 0; shuffle < 5; shuffle++ {
			r.Shuffle(len(ins), func(i, j int) { ins[i], ins[j] = ins[j], ins[i] })
			var got Signals
			// Interleave referral activity with interactions, in another order.
			for i, in := range ins {
				if i < len(clicks) {
					got.ObserveSuccessfulReferral(clicks[len(clicks)-1-i])
					got.ObserveReferralClick(clicks[i])
				}
				got.Observe(in)
			}
			for i := len(ins); i < len(clicks); i++ {
				got.ObserveSuccessfulReferral(clicks[len(clicks)-1-i])
				got.ObserveReferralClick(clicks[i])
			}
			if !reflect.DeepEqual(want, got) {
				t.Fatalf("round %d: shuffled state differs:\n%v\n%v", round, &want, &got)
			}
		}
	}
}

func TestStateStaysBounded(t *testing.T) {
	// Every event signal every day for three years: at most Horizon windows per signal.
	var s Signals
	r := rand.New(rand.NewPCG(3, 4))
	for d := 0; d < 3*365; d++ {
		for _, in := range randomInteractions(r, 20, now.AddDate(0, 0, -d)) {
			in.OccurredAt = now.AddDate(0, 0, -d)
			s.Observe(in)
		}
		s.ObserveReferralClick(now.AddDate(0, 0, -d))
	}
	var d windows
	d.decode(s.Windows)
	for sig, n := range d.n {
		if n > Horizon || (n > 0 && d.w[sig][0].w <= d.latest-Horizon) {
			t.Errorf("%s keeps %d windows from %d, latest %d", Signal(sig), n, d.w[sig][0].w, d.latest)
		}
	}
	top, ms := decodeSpend(s.Spend)
	perCurrency := map[[3]byte]int{}
	for _, m := range ms {
		if perCurrency[m.cur]++; perCurrency[m.cur] > SpendMonths || m.m <= top-SpendMonths {
			t.Errorf("spend keeps %v", ms)
			break
		}
	}
	if len(s.Windows) > 1500 {
		t.Errorf("%d bytes", len(s.Windows))
	}
}

func TestDecodeNeverPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var s Signals
	for _, in := range randomInteractions(r, 200, now) {
		s.Observe(in)
	}
	cfg := Default()
	for i := 0; i < 5000; i++ {
		w := append([]byte(nil), s.Windows...)
		sp := append([]byte(nil), s.Spend...)
		for k := r.IntN(4); k >= 0; k-- {
			w[r.IntN(len(w))] = byte(r.IntN(256))
			sp[r.IntN(len(sp))] = byte(r.IntN(256))
		}
		bad := Signals{Windows: w[:r.IntN(len(w)+1)], Spend: sp[:r.IntN(len(sp)+1)]}
		cfg.Score(&bad, State{}, now)
		bad.Observe(randomInteractions(r, 1, now)[0])
		bad.Spend12("EUR", now)
		_ = bad.String()
	}
}
