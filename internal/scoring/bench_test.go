package scoring_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func i64(v int64) *int64 { return &v }

// realistic is a customer's year: 2 orders a month, newsletters opened and clicked, visits,
// a few reviews, NPS, shares and the clicks they brought: about 200 interactions.
func realistic() []interaction.Interaction {
	r := rand.New(rand.NewPCG(1, 1))
	var out []interaction.Interaction
	add := func(typ interaction.Type, daysAgo float64, p interaction.Properties) {
		out = append(out, interaction.Interaction{EventID: fmt.Sprint("e", len(out)), CustomerID: "c1", Type: typ,
			OccurredAt: now.Add(-time.Duration(daysAgo * 24 * float64(time.Hour))).Truncate(time.Second), Properties: p})
	}
	for m := 0; m < 12; m++ {
		base := float64(30 * m)
		for i := 0; i < 2; i++ {
			add(interaction.Purchase, base+r.Float64()*30, interaction.Properties{OrderID: fmt.Sprint("o", m, i), Total: i64(3000 + r.Int64N(9000)), Currency: "EUR"})
		}
		for i := 0; i < 6; i++ {
			add(interaction.EmailOpen, base+r.Float64()*30, interaction.Properties{CampaignID: "n"})
		}
		for i := 0; i < 2; i++ {
			add(interaction.EmailClick, base+r.Float64()*30, interaction.Properties{CampaignID: "n"})
		}
		for i := 0; i < 5; i++ {
			add(interaction.Visit, base+r.Float64()*30, interaction.Properties{DurationSeconds: i64(r.Int64N(900))})
		}
		if m%3 == 0 {
			add(interaction.Review, base+r.Float64()*30, interaction.Properties{Stars: i64(4 + r.Int64N(2)), ReviewID: "r"})
			add(interaction.NPS, base+r.Float64()*30, interaction.Properties{Score: i64(9)})
			add(interaction.ReferralShare, base+r.Float64()*30, interaction.Properties{Code: "ANNA-1", Channel: "whatsapp"})
		}
	}
	add(interaction.ProfileUpdate, 300, interaction.Properties{Fields: map[string]string{"birthday": "04-12", "preferences": "shoes"}})
	add(interaction.LoyaltyJoin, 300, interaction.Properties{})
	add(interaction.SocialFollow, 200, interaction.Properties{Network: "instagram"})
	return out
}

func realisticCustomer() (*aggregate.Customer, *scoring.Signals) {
	c := aggregate.New("c1")
	var s scoring.Signals
	for _, in := range realistic() {
		c.Apply(in)
		s.Observe(in)
	}
	for d := 5; d < 300; d += 25 {
		s.ObserveReferralClick(now.AddDate(0, 0, -d))
	}
	s.ObserveSuccessfulReferral(now.AddDate(0, 0, -40))
	return c, &s
}

// BenchmarkRescore is the hook's cost per customer: score with breakdown, segment with
// reasons, and the next review (Evaluate computes all three), for a customer active in ten
// signals every month of the year.
func BenchmarkRescore(b *testing.B) {
	ev, _ := segment.NewEvaluator(scoring.Default())
	c, s := realisticCustomer()
	b.ReportAllocs()
	for b.Loop() {
		if r := ev.Evaluate(c, s, now); r.Segment == "" || r.NextReview == nil {
			b.Fatal(r)
		}
	}
}

// BenchmarkRescoreTypical is the same for a persona fixture's customer (a few dozen events).
func BenchmarkRescoreTypical(b *testing.B) {
	ev, _ := segment.NewEvaluator(scoring.Default())
	c := aggregate.New("c1")
	var s scoring.Signals
	for _, in := range realistic()[:40] {
		c.Apply(in)
		s.Observe(in)
	}
	s.ObserveReferralClick(now.AddDate(0, 0, -20))
	b.ReportAllocs()
	for b.Loop() {
		ev.Evaluate(c, &s, now)
	}
}

// BenchmarkScore is the score alone, without a breakdown (what NextReview evaluates).
func BenchmarkScore(b *testing.B) {
	cfg := scoring.Default()
	c, s := realisticCustomer()
	st := segment.State(c)
	b.ReportAllocs()
	for b.Loop() {
		cfg.Measure(s, st, now)
	}
}

// BenchmarkObserve is the cost Apply adds per interaction, on a customer with a year of history.
func BenchmarkObserve(b *testing.B) {
	ins := realistic()
	_, s := realisticCustomer()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Observe(ins[i%len(ins)])
		i++
	}
}

// itemBytes estimates DynamoDB's billed size of attributes (names + values, 3 bytes per list or
// map and 1 per element, numbers 1 byte per 2 digits + 1).
func itemBytes(m map[string]types.AttributeValue) int {
	n := 0
	for k, v := range m {
		n += len(k) + valueBytes(v)
	}
	return n
}

func valueBytes(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		d := len(strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(v.Value), "0"))
		return (d+1)/2 + 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueBytes(e)
		}
		return n
	case *types.AttributeValueMemberM:
		return 3 + len(v.Value) + itemBytes(v.Value)
	default:
		return 1
	}
}

func signalsBytes(t testing.TB, s *scoring.Signals) int {
	m, err := attributevalue.MarshalMap(s)
	if err != nil {
		t.Fatal(err)
	}
	return itemBytes(m)
}

// TestStoredSize reports what Signals add to the customer item and bounds it.
func TestStoredSize(t *testing.T) {
	files, _ := filepath.Glob("../../events/scenarios/*.json")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var p struct {
			Now          time.Time         `json:"now"`
			Interactions []json.RawMessage `json:"interactions"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		var s scoring.Signals
		for i := 0; i < len(p.Interactions); i += interaction.MaxBatch {
			body, _ := json.Marshal(map[string]any{"interactions": p.Interactions[i:min(i+interaction.MaxBatch, len(p.Interactions))]})
			ins, err := interaction.Parse(body, p.Now)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range ins {
				s.Observe(in)
			}
		}
		n := signalsBytes(t, &s)
		t.Logf("%-32s %4d interactions  %4d bytes", filepath.Base(f), len(p.Interactions), n)
		if n > 400 {
			t.Errorf("%s: %d bytes", f, n)
		}
	}
	_, s := realisticCustomer()
	n := signalsBytes(t, s)
	t.Logf("%-32s %4d interactions  %4d bytes", "a year, 2 orders a month", len(realistic())+13, n)
	if n > 700 {
		t.Errorf("realistic customer: %d bytes", n)
	}
	// The bound: every signal, every window, big numbers, two currencies.
	var worst scoring.Signals
	for d := 0; d < 400; d++ {
		at := now.AddDate(0, 0, -d)
		for _, typ := range []interaction.Type{interaction.EmailOpen, interaction.EmailClick, interaction.Comment, interaction.SurveyAnswer, interaction.ReferralShare} {
			for k := 0; k < 20; k++ {
				worst.Observe(interaction.Interaction{Type: typ, OccurredAt: at.Add(time.Duration(k) * time.Minute)})
			}
		}
		for _, stars := range []int64{1, 4, 5} {
			worst.Observe(interaction.Interaction{Type: interaction.Review, OccurredAt: at, Properties: interaction.Properties{Stars: i64(stars)}})
		}
		for _, score := range []int64{0, 7, 10} {
			worst.Observe(interaction.Interaction{Type: interaction.NPS, OccurredAt: at, Properties: interaction.Properties{Score: i64(score)}})
		}
		worst.Observe(interaction.Interaction{Type: interaction.Visit, OccurredAt: at, Properties: interaction.Properties{DurationSeconds: i64(7200)}})
		for _, cur := range []string{"EUR", "USD"} {
			worst.Observe(interaction.Interaction{Type: interaction.Purchase, OccurredAt: at, Properties: interaction.Properties{Total: i64(99_999_999), Currency: cur, DiscountUsed: new(bool)}})
		}
		worst.ObserveReferralClick(at)
		worst.ObserveReferralSignup(at)
		worst.ObserveSuccessfulReferral(at)
	}
	n = signalsBytes(t, &worst)
	t.Logf("%-32s %4s interactions  %4d bytes", "every signal every day, 400 days", "~42k", n)
	if n > 4096 {
		t.Errorf("worst case: %d bytes", n)
	}
}
