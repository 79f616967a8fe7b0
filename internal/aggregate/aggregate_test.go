package aggregate

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
)

var t0 = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func i64(v int64) *int64 { return &v }
func yes() *bool         { b := true; return &b }

func ev(id string, typ interaction.Type, at time.Time, p interaction.Properties) interaction.Interaction {
	return interaction.Interaction{EventID: id, CustomerID: "c1", Type: typ, OccurredAt: at, Properties: p}
}

func purchase(id string, day int, total int64) interaction.Interaction {
	return ev(id, interaction.Purchase, t0.AddDate(0, 0, day), interaction.Properties{OrderID: "o" + id, Total: i64(total), Currency: "EUR"})
}

func TestApply(t *testing.T) {
	cases := []struct {
		name  string
		ins   []interaction.Interaction
		check func(t *testing.T, c *Customer)
	}{
		{"purchases: count, spend, first and last, average", []interaction.Interaction{
			purchase("1", 0, 10000), purchase("2", 10, 5000),
			ev("3", interaction.Purchase, t0.AddDate(0, 0, 5), interaction.Properties{OrderID: "o3", Total: i64(3000), Currency: "EUR", DiscountUsed: yes(), ReferralCode: "ANNA-1"}),
		}, func(t *testing.T, c *Customer) {
			if c.Orders != 3 || c.DiscountOrders != 1 || c.ReferralOrders != 1 || c.Spend["EUR"].Total != 18000 {
				t.Errorf("orders %d discount %d referral %d spend %v", c.Orders, c.DiscountOrders, c.ReferralOrders, c.Spend)
			}
			if !c.FirstPurchaseAt.Equal(t0) || !c.LastPurchaseAt.Equal(t0.AddDate(0, 0, 10)) {
				t.Errorf("first %v last %v", c.FirstPurchaseAt, c.LastPurchaseAt)
			}
			if c.AverageBasket("EUR") != 6000 || c.ReferredBy != "ANNA-1" {
				t.Errorf("avg %d referred %q", c.AverageBasket("EUR"), c.ReferredBy)
			}
		}},
		{"basket trend: last 3 vs previous 3, 7 orders keep 6", []interaction.Interaction{
			purchase("1", 0, 99999), purchase("2", 1, 10000), purchase("3", 2, 10000), purchase("4", 3, 10000),
			purchase("5", 4, 7000), purchase("6", 5, 7000), purchase("7", 6, 7000),
		}, func(t *testing.T, c *Customer) {
			if len(c.RecentOrders) != RecentOrdersKept {
				t.Fatalf("kept %d orders", len(c.RecentOrders))
			}
			if got := c.BasketTrend("EUR"); got != 0.7 {
				t.Errorf("trend %v, want 0.7", got)
			}
		}},
		{"trend needs 6 orders", []interaction.Interaction{purchase("1", 0, 100), purchase("2", 1, 50)}, func(t *testing.T, c *Customer) {
			if c.BasketTrend("EUR") != 0 {
				t.Errorf("trend %v", c.BasketTrend("EUR"))
			}
		}},
		{"reviews by stars", []interaction.Interaction{
			ev("1", interaction.Review, t0, interaction.Properties{Stars: i64(5), ReviewID: "r1"}),
			ev("2", interaction.Review, t0, interaction.Properties{Stars: i64(5), ReviewID: "r2"}),
			ev("3", interaction.Review, t0, interaction.Properties{Stars: i64(2), ReviewID: "r3"}),
		}, func(t *testing.T, c *Customer) {
			if c.FiveStarReviews() != 2 || c.Reviews() != 3 || c.ReviewsByStars[1] != 1 {
				t.Errorf("reviews %v", c.ReviewsByStars)
			}
		}},
		{"nps keeps latest and counts promoters and detractors", []interaction.Interaction{
			ev("1", interaction.NPS, t0.AddDate(0, 0, 2), interaction.Properties{Score: i64(9)}),
			ev("2", interaction.NPS, t0, interaction.Properties{Score: i64(3)}),
			ev("3", interaction.NPS, t0.AddDate(0, 0, 1), interaction.Properties{Score: i64(7)}),
		}, func(t *testing.T, c *Customer) {
			if c.NPSAnswers != 3 || c.NPSPromoter != 1 || c.NPSDetractor != 1 || *c.NPSLast != 9 {
				t.Errorf("nps %d %d %d last %d", c.NPSAnswers, c.NPSPromoter, c.NPSDetractor, *c.NPSLast)
			}
		}},
		{"engagement counters and sets", []interaction.Interaction{
			ev("1", interaction.EmailOpen, t0, interaction.Properties{CampaignID: "x"}),
			ev("2", interaction.EmailClick, t0, interaction.Properties{CampaignID: "x"}),
			ev("3", interaction.Visit, t0, interaction.Properties{DurationSeconds: i64(120), Pages: i64(3)}),
			ev("4", interaction.Visit, t0, interaction.Properties{DurationSeconds: i64(30)}),
			ev("5", interaction.ProfileUpdate, t0, interaction.Properties{Fields: map[string]string{"birthday": "04-12", "city": "Rome"}}),
			ev("6", interaction.ProfileUpdate, t0, interaction.Properties{Fields: map[string]string{"birthday": "04-13"}}),
			ev("7", interaction.SocialFollow, t0, interaction.Properties{Network: "instagram"}),
			ev("8", interaction.SocialFollow, t0, interaction.Properties{Network: "instagram"}),
			ev("9", interaction.LoyaltyJoin, t0, interaction.Properties{}),
			ev("10", interaction.ReferralShare, t0, interaction.Properties{Code: "A-1", Channel: "whatsapp"}),
			ev("11", interaction.ReferralShare, t0, interaction.Properties{Code: "A-1", Channel: "email"}),
			ev("12", interaction.Signup, t0, interaction.Properties{}),
			ev("13", interaction.Comment, t0, interaction.Properties{}),
			ev("14", interaction.SurveyAnswer, t0, interaction.Properties{SurveyID: "s"}),
			ev("15", interaction.Refund, t0, interaction.Properties{OrderID: "o", Amount: i64(250)}),
		}, func(t *testing.T, c *Customer) {
			if c.EmailOpens != 1 || c.EmailClicks != 1 || c.Visits != 2 || c.VisitSeconds != 150 || c.VisitPages != 4 {
				t.Errorf("email %d/%d visits %d %d %d", c.EmailOpens, c.EmailClicks, c.Visits, c.VisitSeconds, c.VisitPages)
			}
			if !reflect.DeepEqual(c.ProfileFields, []string{"birthday", "city"}) || !reflect.DeepEqual(c.SocialFollows, []string{"instagram"}) {
				t.Errorf("fields %v follows %v", c.ProfileFields, c.SocialFollows)
			}
			if c.LoyaltyJoinedAt == nil || c.SharesTotal() != 2 || c.Shares["whatsapp"] != 1 || c.Signups != 1 || c.Comments != 1 || c.SurveyAnswers != 1 {
				t.Errorf("loyalty %v shares %v signups %d", c.LoyaltyJoinedAt, c.Shares, c.Signups)
			}
			if c.Refunds != 1 || c.RefundedByCurrency()["XXX"] != 250 || c.Interactions != 15 {
				t.Errorf("refunds %d %v n %d", c.Refunds, c.Refunded, c.Interactions)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New("c1")
			for _, in := range tc.ins {
				c.Apply(in)
			}
			tc.check(t, c)
		})
	}
}

// Interactions arrive in any order (history imports, SQS): the aggregate must not care.
func TestApplyIsOrderIndependent(t *testing.T) {
	var ins []interaction.Interaction
	for i := range 9 {
		ins = append(ins, purchase(string(rune('a'+i)), i*3, int64(1000+i*250)))
	}
	ins = append(ins,
		ev("n1", interaction.NPS, t0.AddDate(0, 0, 4), interaction.Properties{Score: i64(10)}),
		ev("n2", interaction.NPS, t0.AddDate(0, 0, 8), interaction.Properties{Score: i64(2)}),
		ev("s1", interaction.Signup, t0.AddDate(0, 0, 1), interaction.Properties{ReferralCode: "FIRST-1"}),
		ev("s2", interaction.Signup, t0.AddDate(0, 0, 9), interaction.Properties{ReferralCode: "LATER-1"}),
		ev("f1", interaction.SocialFollow, t0, interaction.Properties{Network: "tiktok"}),
		ev("f2", interaction.SocialFollow, t0, interaction.Properties{Network: "facebook"}),
		// Without a currency: in the currency of the orders, whether they come before or after.
		ev("r1", interaction.Refund, t0.AddDate(0, 0, 5), interaction.Properties{OrderID: "a", Amount: i64(300)}),
		ev("r2", interaction.Refund, t0.AddDate(0, 0, 6), interaction.Properties{OrderID: "b", Amount: i64(200), Currency: "EUR"}),
	)
	want := New("c1")
	for _, in := range ins {
		want.Apply(in)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		shuffled := append([]interaction.Interaction(nil), ins...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got := New("c1")
		for _, in := range shuffled {
			got.Apply(in)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("order changed the aggregate:\n got %+v\nwant %+v", got, want)
		}
	}
	if r := want.RefundedByCurrency(); len(r) != 1 || r[want.PrimaryCurrency("")] != 500 {
		t.Errorf("refunded %v (orders in %v)", r, want.Spend)
	}
	if want.ReferredBy != "FIRST-1" || *want.NPSLast != 2 {
		t.Errorf("referred %q nps last %d", want.ReferredBy, *want.NPSLast)
	}
}
