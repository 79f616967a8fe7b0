package segment_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// customer builds an aggregate and its signals the way Apply will feed them.
type customer struct {
	c       *aggregate.Customer
	s       scoring.Signals
	n       int
	applied []interaction.Interaction
}

func newCustomer() *customer { return &customer{c: aggregate.New("c1")} }

func (b *customer) add(typ interaction.Type, daysAgo float64, p interaction.Properties) *customer {
	b.n++
	in := interaction.Interaction{EventID: fmt.Sprint("e", b.n), CustomerID: "c1", Type: typ,
		OccurredAt: now.Add(-time.Duration(daysAgo * float64(day))), Properties: p}
	b.c.Apply(in)
	b.s.Observe(in)
	b.applied = append(b.applied, in)
	return b
}

func i64(v int64) *int64 { return &v }

func (b *customer) buy(daysAgo float64, total int64, discount bool, code string) *customer {
	p := interaction.Properties{OrderID: fmt.Sprint("o", b.n), Total: i64(total), Currency: "EUR", ReferralCode: code}
	if discount {
		p.DiscountUsed = &discount
	}
	return b.add(interaction.Purchase, daysAgo, p)
}

// engagedMonth adds about 65 raw points of organic engagement in the 30-day window ending
// `ago` days ago: every capped signal at its cap.
func (b *customer) engagedMonth(ago float64) *customer {
	for d := 1.0; d <= 2; d++ {
		b.add(interaction.Review, ago+d, interaction.Properties{Stars: i64(4), ReviewID: fmt.Sprint("r", ago+d)})
	}
	for d := 1.0; d <= 5; d++ {
		b.add(interaction.EmailClick, ago+d, interaction.Properties{CampaignID: "c"})
		b.add(interaction.Visit, ago+d, interaction.Properties{DurationSeconds: i64(1800)})
	}
	for d := 1.0; d <= 3; d++ {
		b.add(interaction.Comment, ago+d, interaction.Properties{})
		b.add(interaction.SurveyAnswer, ago+d, interaction.Properties{SurveyID: "s"})
	}
	return b.add(interaction.NPS, ago+1, interaction.Properties{Score: i64(10)})
}

// engaged is two months of engagement: raw ~115, score ~68.
func (b *customer) engaged() *customer { return b.engagedMonth(0).engagedMonth(30) }

func (b *customer) clicked(daysAgo float64) *customer {
	b.s.ObserveReferralClick(now.Add(-time.Duration(daysAgo * float64(day))))
	return b
}

func TestRules(t *testing.T) {
	ev := evaluator(t, "")
	cases := []struct {
		name    string
		b       *customer
		at      time.Time
		segment string
		subs    []string
	}{
		{"nobody yet", newCustomer(), now, segment.FutureAmbassador, nil},
		{"engaged and a proven sharer", newCustomer().engaged().clicked(3), now, segment.Ambassador, nil},
		{"engaged, never shared", newCustomer().engaged(), now, segment.FutureAmbassador, []string{"engaged_non_sharer"}},
		{"engaged, shared without a click", newCustomer().engaged().add(interaction.ReferralShare, 2, interaction.Properties{Code: "ABC", Channel: "sms"}),
			now, segment.FutureAmbassador, []string{"engaged_non_sharer"}},
		{"a successful referral is proof", func() *customer {
			b := newCustomer().engaged()
			b.s.ObserveSuccessfulReferral(now.Add(-364 * day))
			return b
		}(), now, segment.Ambassador, nil},
		{"proof 366 days old has expired", newCustomer().engaged().clicked(366), now, segment.FutureAmbassador, []string{"engaged_non_sharer"}},
		{"proof without engagement is not enough", newCustomer().clicked(1), now, segment.FutureAmbassador, nil},
		{"best buyer at exactly the threshold", newCustomer().engaged().clicked(3).buy(40, 30000, false, "").buy(20, 20000, false, ""),
			now, segment.Ambassador, []string{"best_buyer"}},
		{"not a best buyer a cent below", newCustomer().engaged().clicked(3).buy(40, 30000, false, "").buy(20, 19999, false, ""),
			now, segment.Ambassador, nil},
		{"spend over 12 months ago does not count", newCustomer().engaged().clicked(3).buy(400, 90000, false, "").buy(20, 1000, false, ""),
			now, segment.Ambassador, nil},
		{"two 5-star reviews", newCustomer().engaged().clicked(3).
			add(interaction.Review, 300, interaction.Properties{Stars: i64(5), ReviewID: "a"}).
			add(interaction.Review, 200, interaction.Properties{Stars: i64(5), ReviewID: "b"}),
			now, segment.Ambassador, []string{"five_star_reviewer"}},
		{"one 5-star review", newCustomer().engaged().clicked(3).add(interaction.Review, 300, interaction.Properties{Stars: i64(5), ReviewID: "a"}),
			now, segment.Ambassador, nil},
		{"social follower", newCustomer().engaged().clicked(3).add(interaction.SocialFollow, 100, interaction.Properties{Network: "instagram"}),
			now, segment.Ambassador, []string{"social_follower"}},
		{"most orders discounted, low score", newCustomer().buy(300, 2000, true, "").buy(200, 2000, true, "").buy(100, 2000, false, ""),
			now, segment.Opportunist, nil},
		{"half the orders discounted is not most", newCustomer().buy(150, 2000, true, "").buy(100, 2000, false, ""),
			now, segment.FutureAmbassador, nil},
		{"one discounted order is no pattern", newCustomer().buy(100, 2000, true, ""),
			now, segment.FutureAmbassador, nil},
		{"discount buyer with a score of 25 or more", newCustomer().buy(30, 2000, true, "").buy(20, 2000, true, "").buy(10, 2000, true, "").
			add(interaction.LoyaltyJoin, 10, interaction.Properties{}),
			now, segment.FutureAmbassador, []string{"new_customer"}},
		{"referred contact with no orders and nothing organic", newCustomer().add(interaction.Signup, 5, interaction.Properties{ReferralCode: "ANNA-1"}),
			now, segment.Opportunist, nil},
		{"referred, bought with the friend offer only", newCustomer().add(interaction.Signup, 50, interaction.Properties{ReferralCode: "ANNA-1"}).buy(50, 3000, true, "ANNA-1"),
			now, segment.Opportunist, nil},
		{"referred, then a full-price order", newCustomer().add(interaction.Signup, 50, interaction.Properties{ReferralCode: "ANNA-1"}).buy(50, 3000, true, "ANNA-1").buy(40, 3000, false, ""),
			now, segment.FutureAmbassador, []string{"referred_customer"}},
		{"referred, organic engagement", newCustomer().add(interaction.Signup, 50, interaction.Properties{ReferralCode: "ANNA-1"}).buy(50, 3000, true, "ANNA-1").
			add(interaction.Review, 40, interaction.Properties{Stars: i64(5), ReviewID: "r"}).add(interaction.LoyaltyJoin, 40, interaction.Properties{}),
			now, segment.FutureAmbassador, []string{"referred_customer"}},
		{"new customer on day 30", newCustomer().buy(30, 3000, false, ""), now, segment.FutureAmbassador, []string{"new_customer"}},
		{"not new on day 31", newCustomer().buy(31, 3000, false, ""), now, segment.FutureAmbassador, nil},
		{"not lapsed at 180 days", newCustomer().buy(180, 3000, false, ""), now, segment.FutureAmbassador, nil},
		{"lapsed after 180 days", newCustomer().buy(180.01, 3000, false, ""), now, segment.FutureAmbassador, []string{"lapsed"}},
		{"declining basket", newCustomer().buy(100, 10000, false, "").buy(90, 10000, false, "").buy(80, 10000, false, "").
			buy(70, 7000, false, "").buy(60, 7000, false, "").buy(50, 7900, false, ""),
			now, segment.FutureAmbassador, []string{"declining_basket"}},
		{"a basket at 80% is not declining", newCustomer().buy(100, 10000, false, "").buy(90, 10000, false, "").buy(80, 10000, false, "").
			buy(70, 8000, false, "").buy(60, 8000, false, "").buy(50, 8000, false, ""),
			now, segment.FutureAmbassador, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ev.Evaluate(tc.b.c, &tc.b.s, tc.at)
			want := append([]string{}, tc.subs...)
			if r.Segment != tc.segment || !reflect.DeepEqual(r.SubSegments, want) {
				t.Errorf("got %s %v (score %.1f), want %s %v\n  %s", r.Segment, r.SubSegments, r.Score, tc.segment, want, strings.Join(r.Reasons, "\n  "))
			}
			p, _ := ev.Config().ProgramFor(r.Segment)
			if r.Program != p.ID || r.Config != ev.Config().ID() || !r.At.Equal(tc.at) || len(r.Reasons) == 0 || !slices.IsSorted(r.SubSegments) {
				t.Errorf("result %+v", r)
			}
			checkBreakdown(t, r)
			checkNextReview(t, ev, tc.b.c, &tc.b.s, tc.at)
		})
	}
}

func TestConfigOverrideMovesCustomers(t *testing.T) {
	// A proven sharer just under 60 with the defaults.
	b := newCustomer().clicked(2).engagedMonth(0).add(interaction.LoyaltyJoin, 100, interaction.Properties{}).
		add(interaction.ProfileUpdate, 100, interaction.Properties{Fields: map[string]string{"a": "1", "b": "1", "c": "1", "d": "1", "e": "1"}})
	before := evaluator(t, "").Evaluate(b.c, &b.s, now)
	after := evaluator(t, `{"signals":{"email_click":{"points":4}}}`).Evaluate(b.c, &b.s, now)
	if before.Segment != segment.FutureAmbassador || after.Segment != segment.Ambassador || after.Score <= before.Score {
		t.Errorf("before %s %.1f, after %s %.1f", before.Segment, before.Score, after.Segment, after.Score)
	}
	if before.Breakdown["email_click"] >= after.Breakdown["email_click"] || before.Config == after.Config {
		t.Errorf("breakdown %v -> %v, config %s -> %s", before.Breakdown, after.Breakdown, before.Config, after.Config)
	}
	// Thresholds move customers too: a lower ambassador bar, a best-buyer threshold.
	if r := evaluator(t, `{"segments":{"ambassador_min_score":50}}`).Evaluate(b.c, &b.s, now); r.Segment != segment.Ambassador {
		t.Errorf("with a bar of 50: %s %.1f", r.Segment, r.Score)
	}
	b.buy(10, 20000, false, "")
	if r := evaluator(t, `{"segments":{"ambassador_min_score":50,"best_buyer_min_12m_spend":{"EUR":20000}}}`).Evaluate(b.c, &b.s, now); !slices.Contains(r.SubSegments, segment.BestBuyer) {
		t.Errorf("best buyer threshold override: %v", r.SubSegments)
	}
}

func TestDiff(t *testing.T) {
	ev := evaluator(t, "")
	b := newCustomer().engaged()
	prev := ev.Evaluate(b.c, &b.s, now)
	if _, changed := segment.Diff("c1", prev, ev.Evaluate(b.c, &b.s, now.Add(time.Hour))); changed {
		t.Error("same segment reported as a change")
	}
	b.clicked(0)
	next := ev.Evaluate(b.c, &b.s, now.Add(90*time.Minute))
	ch, changed := segment.Diff("c1", prev, next)
	if !changed || ch.From != segment.FutureAmbassador || ch.To != segment.Ambassador || ch.Program != "ambassador" ||
		!ch.At.Equal(now.Add(90*time.Minute)) || ch.Score != next.Score || !strings.Contains(ch.Reason, "proven sharer") {
		t.Errorf("change %+v", ch)
	}
	again, _ := segment.Diff("c1", prev, next)
	other, _ := segment.Diff("c2", prev, next)
	if ch.ID != again.ID || ch.ID == other.ID || !strings.HasPrefix(ch.ID, "segchg_") {
		t.Errorf("ids %s %s %s", ch.ID, again.ID, other.ID)
	}
	first, changed := segment.Diff("c1", segment.Result{}, prev)
	if !changed || first.From != "" || first.To != segment.FutureAmbassador {
		t.Errorf("first segmentation %+v", first)
	}
	b2, _ := json.Marshal(ch)
	var m map[string]any
	_ = json.Unmarshal(b2, &m)
	for _, k := range []string{"id", "customer_id", "from", "to", "sub_segments", "program", "score", "reason", "at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("segment.changed payload lacks %q: %s", k, b2)
		}
	}
}

func TestPrograms(t *testing.T) {
	ev := evaluator(t, "")
	ps := ev.Programs()
	if len(ps) != 3 {
		t.Fatalf("%d programs", len(ps))
	}
	want := []struct{ id, segment, reward string }{
		{"ambassador", segment.Ambassador, "event_invitation"},
		{"accelerator", segment.FutureAmbassador, "good_offer"},
		{"loyalty", segment.Opportunist, "discount"},
	}
	for i, w := range want {
		p := ps[i]
		if p.ID != w.id || p.Segment != w.segment || p.Objective == "" || !slices.ContainsFunc(p.Rewards, func(r scoring.Reward) bool { return r.Type == w.reward }) {
			t.Errorf("program %d: %+v", i, p)
		}
	}
	b, _ := json.Marshal(ps[0])
	if !strings.Contains(string(b), `"friend_offer":{"type":"percent_off","value":15`) {
		t.Errorf("json %s", b)
	}
}

func TestNewEvaluatorNeedsConfig(t *testing.T) {
	if _, err := segment.NewEvaluator(nil); err == nil {
		t.Error("nil config accepted")
	}
}
