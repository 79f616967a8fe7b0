package segment_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// steady makes a score that never decays: loyalty worth 150 points scores 77.7.
const steady = `{"signals":{"loyalty_member":{"points":150}}}`

func TestNextReview(t *testing.T) {
	fp := now.Add(-10 * day)
	cases := []struct {
		name     string
		override string
		b        *customer
		want     time.Time // zero: never
		to       string    // the segment at want
		subs     []string  // and sub-segments
	}{
		{"nothing changes with time", "", newCustomer(), time.Time{}, "", nil},
		{"the new-customer window ends", "", newCustomer().buy(10, 3000, false, ""),
			fp.Add(30*day + time.Second), segment.FutureAmbassador, nil},
		{"a customer lapses", "", newCustomer().buy(100, 3000, false, ""),
			now.Add(80*day + time.Second), segment.FutureAmbassador, []string{"lapsed"}},
		{"proof of sharing expires", steady, newCustomer().add(interaction.LoyaltyJoin, 400, interaction.Properties{}).clicked(300),
			now.Add(65*day + time.Second), segment.FutureAmbassador, []string{"engaged_non_sharer"}},
		{"a best buyer's big month leaves the 12 months", steady,
			newCustomer().add(interaction.LoyaltyJoin, 400, interaction.Properties{}).clicked(3).buy(340, 60000, false, "").buy(200, 1000, false, ""),
			time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), segment.Ambassador, nil}, // December 2025's spend
		{"an ambassador's score decays below 60", "", newCustomer().engaged().clicked(1), time.Time{}, segment.FutureAmbassador, nil},
		{"an engaged non-sharer decays below 60", "", newCustomer().engaged(), time.Time{}, segment.FutureAmbassador, nil},
		{"an opportunist decays out of organic engagement", "",
			newCustomer().add(interaction.Signup, 40, interaction.Properties{ReferralCode: "ANNA-1"}).
				add(interaction.Review, 2, interaction.Properties{Stars: i64(5), ReviewID: "r"}),
			time.Time{}, segment.Opportunist, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := evaluator(t, tc.override)
			got := ev.NextReview(tc.b.c, &tc.b.s, now)
			if !tc.want.IsZero() && !got.Equal(tc.want) {
				t.Errorf("NextReview %v, want %v", got, tc.want)
			}
			if tc.to == "" && !got.IsZero() {
				t.Errorf("NextReview %v, want never", got)
			}
			if tc.to != "" {
				if got.IsZero() {
					t.Fatal("NextReview is zero")
				}
				r := ev.Evaluate(tc.b.c, &tc.b.s, got)
				if r.Segment != tc.to || fmt.Sprint(r.SubSegments) != fmt.Sprint(append([]string{}, tc.subs...)) {
					t.Errorf("at %v: %s %v, want %s %v", got, r.Segment, r.SubSegments, tc.to, tc.subs)
				}
			}
			checkNextReview(t, ev, tc.b.c, &tc.b.s, now)
		})
	}
}

// TestNextReviewProperty: for random customers, the result changes exactly at NextReview.
func TestNextReviewProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	evs := []*segmentEvaluator{{"", nil}, {steady, nil}, {`{"half_life_days": 30}`, nil}}
	for i := range evs {
		evs[i].ev = evaluator(t, evs[i].override)
	}
	types := []interaction.Type{interaction.Purchase, interaction.EmailClick, interaction.Visit, interaction.Review,
		interaction.Comment, interaction.NPS, interaction.SocialFollow, interaction.Signup, interaction.LoyaltyJoin}
	for i := 0; i < 400; i++ {
		b := newCustomer()
		for n := r.IntN(40); n > 0; n-- {
			ago := r.Float64() * 500
			switch typ := types[r.IntN(len(types))]; typ {
			case interaction.Purchase:
				b.buy(ago, r.Int64N(40000), r.IntN(2) == 0, []string{"", "", "ANNA-1"}[r.IntN(3)])
			case interaction.Review:
				b.add(typ, ago, interaction.Properties{Stars: i64(1 + r.Int64N(5)), ReviewID: "r"})
			case interaction.NPS:
				b.add(typ, ago, interaction.Properties{Score: i64(r.Int64N(11))})
			case interaction.Visit:
				b.add(typ, ago, interaction.Properties{DurationSeconds: i64(r.Int64N(3600))})
			case interaction.EmailClick:
				b.add(typ, ago, interaction.Properties{CampaignID: "c"})
			case interaction.SocialFollow:
				b.add(typ, ago, interaction.Properties{Network: "instagram"})
			case interaction.Signup:
				b.add(typ, ago, interaction.Properties{ReferralCode: "BOB-2"})
			default:
				b.add(typ, ago, interaction.Properties{})
			}
		}
		for n := r.IntN(4); n > 0; n-- {
			b.clicked(r.Float64() * 400)
		}
		e := evs[r.IntN(len(evs))]
		at := now.Add(-time.Duration(r.Int64N(int64(100 * day))))
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkNextReview(t, e.ev, b.c, &b.s, at) })
	}
}

type segmentEvaluator struct {
	override string
	ev       *segment.Evaluator
}
