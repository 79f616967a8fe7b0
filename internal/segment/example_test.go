package segment_test

import (
	"cmp"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// annaInteractions are the README example's: a customer of three months who buys, reviews and
// follows the brand on Instagram, and shared her code.
func annaInteractions() []interaction.Interaction {
	b := newCustomer()
	b.buy(80, 12900, false, "").buy(40, 8900, false, "").buy(12, 15400, false, "")
	b.add(interaction.Review, 35, interaction.Properties{Stars: i64(5), ReviewID: "rev-77"})
	for _, d := range []float64{30, 10, 3} {
		b.add(interaction.EmailOpen, d, interaction.Properties{CampaignID: "news"})
		b.add(interaction.EmailClick, d, interaction.Properties{CampaignID: "news"})
		b.add(interaction.Visit, d, interaction.Properties{DurationSeconds: i64(420)})
	}
	b.add(interaction.NPS, 20, interaction.Properties{Score: i64(10)})
	b.add(interaction.ProfileUpdate, 60, interaction.Properties{Fields: map[string]string{"birthday": "04-12", "preferences": "shoes,bags"}})
	b.add(interaction.SocialFollow, 50, interaction.Properties{Network: "instagram"})
	b.add(interaction.ReferralShare, 14, interaction.Properties{Code: "ANNA-7KQ2XH", Channel: "whatsapp"})
	return b.applied
}

// anna is that customer, whose code brought a click and a friend's first order.
func anna() *customer {
	b := newCustomer()
	for _, in := range annaInteractions() {
		b.c.Apply(in)
		b.s.Observe(in)
	}
	b.s.ObserveReferralClick(now.Add(-13 * day))
	b.s.ObserveSuccessfulReferral(now.Add(-10 * day))
	return b
}

// explain renders a result as the README shows it.
func explain(r segment.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "segment %s %v, program %s, score %.1f\n\n", r.Segment, r.SubSegments, r.Program, r.Score)
	b.WriteString("| signal | points |\n|---|---:|\n")
	names := make([]string, 0, len(r.Breakdown))
	for k := range r.Breakdown {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, c string) int {
		return cmp.Or(cmp.Compare(r.Breakdown[c], r.Breakdown[a]), strings.Compare(a, c))
	})
	for _, k := range names {
		fmt.Fprintf(&b, "| %s | %.1f |\n", k, r.Breakdown[k])
	}
	fmt.Fprintf(&b, "| **score** | **%.1f** |\n\nReasons:\n", r.Score)
	for _, why := range r.Reasons {
		fmt.Fprintf(&b, "- %s\n", why)
	}
	if r.NextReview != nil {
		fmt.Fprintf(&b, "\nNext review: %s\n", r.NextReview.Format(time.RFC3339))
	}
	return b.String()
}

func ExampleEvaluator_Evaluate() {
	ev, _ := segment.NewEvaluator(scoring.Default())
	a := anna()
	fmt.Print(explain(ev.Evaluate(a.c, &a.s, now)))
	// Output:
	// segment ambassador [social_follower], program ambassador, score 64.5
	//
	// | signal | points |
	// |---|---:|
	// | successful_referral | 14.4 |
	// | purchase | 13.6 |
	// | average_basket | 6.8 |
	// | review_5_star | 5.7 |
	// | nps_promoter | 4.3 |
	// | email_click | 3.4 |
	// | social_follow | 3.1 |
	// | visit_duration | 2.9 |
	// | referral_share | 2.8 |
	// | profile_field | 2.5 |
	// | visit | 2.5 |
	// | referral_click | 1.7 |
	// | email_open | 0.8 |
	// | **score** | **64.5** |
	//
	// Reasons:
	// - score 64.5 >= 60
	// - proven sharer: a successful referral on 2026-11-13 (within 365 days)
	// - social_follower: follows the brand on instagram
	//
	// Next review: 2026-12-11T09:00:57Z
}

var updateDocs = flag.Bool("update-docs", false, "rewrite the generated parts of docs/scoring.md and README.md")

// TestDocs keeps the weights table and example breakdown of docs/scoring.md and of the README's
// "How scoring works" equal to what the code computes: run with -update-docs after changing
// defaults.yaml.
func TestDocs(t *testing.T) {
	for _, path := range []string{"../../docs/scoring.md", "../../README.md"} {
		checkDoc(t, path)
	}
}

func checkDoc(t *testing.T, path string) {
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ev := evaluator(t, "")
	a := anna()
	parts := map[string]string{
		"weights": weightsTable(ev.Config()),
		"example": explain(ev.Evaluate(a.c, &a.s, now)),
	}
	out := string(doc)
	for name, body := range parts {
		re := regexp.MustCompile(`(?s)(<!-- generated:` + name + ` -->\n).*?(<!-- end:` + name + ` -->)`)
		if !re.MatchString(out) {
			t.Fatalf("%s lacks the %s markers", path, name)
		}
		out = re.ReplaceAllLiteralString(out, "<!-- generated:"+name+" -->\n"+body+"<!-- end:"+name+" -->")
	}
	if out == string(doc) {
		return
	}
	if *updateDocs {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date: go test ./internal/segment -run TestDocs -update-docs", path)
}

var units = map[scoring.Signal]string{
	scoring.VisitDuration: "minute of a visit (at most 30 a visit)",
	scoring.ProfileField:  "distinct profile field given",
	scoring.SocialFollow:  "network followed",
	scoring.LoyaltyMember: "membership",
	scoring.AverageBasket: "x the target basket",
}

func weightsTable(c *scoring.Config) string {
	var b strings.Builder
	b.WriteString("| signal | unit | points | cap | decays |\n|---|---|---:|---:|---|\n")
	for _, s := range scoring.AllSignals() {
		w := c.Weight(s)
		unit, cap, decays := cmp.Or(units[s], "event"), fmt.Sprintf("%g / 30 days", w.Cap), "from the event"
		switch s {
		case scoring.ProfileField, scoring.SocialFollow, scoring.LoyaltyMember:
			cap, decays = fmt.Sprintf("%g in total", w.Cap), "no (a state)"
		case scoring.AverageBasket:
			cap, decays = fmt.Sprintf("%gx", w.Cap), "from the last purchase"
		}
		if s == scoring.LoyaltyMember {
			cap = "-"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %g | %s | %s |\n", s, unit, w.Points, cap, decays)
	}
	fmt.Fprintf(&b, "\nHalf-life %g days; saturation %g points: raw 28.8 scores 25, raw %.1f scores 60, raw %.1f scores 90.\n",
		c.HalfLifeDays, c.SaturationPoints, -c.SaturationPoints*math.Log(0.4), -c.SaturationPoints*math.Log(0.1))
	return b.String()
}
