package e2e

import (
	"context"
	"encoding/json"
	"fmt"

	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
)

type persona struct {
	Name             string           `json:"name"`
	Now              time.Time        `json:"now"`
	Interactions     []map[string]any `json:"interactions"`
	ReferralActivity []struct {
		Type string    `json:"type"`
		At   time.Time `json:"at"`
	} `json:"referral_activity"`
	Expect struct {
		Segment     string   `json:"segment"`
		SubSegments []string `json:"sub_segments"`
		Program     string   `json:"program"`
	} `json:"expect"`
}

// personaClock is the time the fixtures' clock moves to, the same for every test that loads
// them, so that a reload replays the very same interactions (a re-stamped event_id is a 409).
var personaClock = sync.OnceValue(func() time.Time { return time.Now().UTC().Truncate(time.Second) })

// Every persona of events/scenarios goes through the real chain (API → record-interaction →
// SQS → rescore-customer → DynamoDB → read API) and lands where the domain texts say. The
// fixtures' clock is moved to now, so ages are as the fixture means them.
func TestPersonasEndToEnd(t *testing.T) {
	files, _ := filepath.Glob("../../events/scenarios/*.json")
	if len(files) < 10 {
		t.Fatalf("%d persona fixtures, want at least 10", len(files))
	}
	// Referral activity is recorded as the referral lifecycle records it: internal
	// interactions for the referrer, through the interactions table and the rescore queue.
	store, err := dynamostore.NewInteractions(stack.DynamoDB, stack.Resources["InteractionsTable"])
	if err != nil {
		t.Fatal(err)
	}
	queue, err := sqsqueue.New(stack.SQS, stack.Resources["RescoreQueue"])
	if err != nil {
		t.Fatal(err)
	}
	internal, err := ingest.New(store, queue, 400*24*time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	now := personaClock()
	type pending struct {
		p        persona
		customer string
		n        int
	}
	var all []pending
	for _, f := range files {
		var p persona
		if err := json.Unmarshal(readFile(t, f), &p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		shift := now.Sub(p.Now)
		suffix := "-" + strings.TrimSuffix(filepath.Base(f), ".json")
		var customer string
		for _, in := range p.Interactions {
			at, err := time.Parse(time.RFC3339, in["occurred_at"].(string))
			if err != nil {
				t.Fatal(err)
			}
			in["occurred_at"] = at.Add(shift).Format(time.RFC3339)
			in["customer_id"] = in["customer_id"].(string) + suffix
			in["event_id"] = in["event_id"].(string) + suffix
			customer = in["customer_id"].(string)
		}
		for start := 0; start < len(p.Interactions); start += interaction.MaxBatch {
			batch := p.Interactions[start:min(start+interaction.MaxBatch, len(p.Interactions))]
			body, _ := json.Marshal(map[string]any{"interactions": batch})
			if r := post(t, "/v1/interactions", body); r.Status != 202 {
				t.Fatalf("%s: POST %d %s", p.Name, r.Status, r.Body)
			}
		}
		var extra []interaction.Interaction
		for i, a := range p.ReferralActivity {
			typ := map[string]interaction.Type{"click": interaction.ReferralClick, "signup": interaction.ReferralSignup,
				"successful_referral": interaction.ReferralSuccess}[a.Type]
			if typ == "" {
				t.Fatalf("%s: referral activity %q", p.Name, a.Type)
			}
			extra = append(extra, interaction.Interaction{EventID: fmt.Sprintf("activity-%d%s", i, suffix), CustomerID: customer,
				Type: typ, OccurredAt: a.At.Add(shift), Properties: interaction.Properties{Code: "PERSONA-CODE"}})
		}
		if len(extra) > 0 {
			if _, err := internal.RecordParsed(context.Background(), extra, now); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, pending{p, customer, len(p.Interactions) + len(extra)})
	}
	for _, pc := range all {
		t.Run(pc.p.Name, func(t *testing.T) {
			var m map[string]any
			eventually(t, 60*time.Second, pc.customer+"'s interactions applied", func() bool {
				r := get(t, "/v1/customers/"+pc.customer)
				if r.Status != 200 {
					return false
				}
				m = nil
				r.json(t, &m)
				h, _ := m["segment_history"].([]any) // written just after the aggregate
				return m["interactions"] == float64(pc.n) && len(h) > 0
			})
			var subs []string
			for _, s := range m["sub_segments"].([]any) {
				subs = append(subs, s.(string))
			}
			want := append([]string{}, pc.p.Expect.SubSegments...)
			slices.Sort(want)
			if m["segment"] != pc.p.Expect.Segment || !slices.Equal(subs, want) || m["program"] != pc.p.Expect.Program {
				t.Errorf("got %v %v %v (reasons %v), want %s %v %s", m["segment"], subs, m["program"], m["reasons"],
					pc.p.Expect.Segment, want, pc.p.Expect.Program)
			}
			sum := 0.0
			for _, v := range m["breakdown"].(map[string]any) {
				sum += v.(float64)
			}
			if diff := sum - m["score"].(float64); diff > 0.05 || diff < -0.05 {
				t.Errorf("breakdown sums to %.2f, score %.2f", sum, m["score"])
			}
			if h, _ := m["segment_history"].([]any); len(h) == 0 {
				t.Errorf("no segment history")
			}
		})
	}
}

// The segment reads agree with the customers' own views: counts, a paginated listing (one
// member a page) and the CSV export.
func TestSegmentReads(t *testing.T) {
	TestPersonasEndToEnd(t) // idempotent: replays are duplicates; makes sure segments are populated
	r := get(t, "/v1/segments")
	var counts struct {
		Segments []struct {
			Segment     string         `json:"segment"`
			Program     string         `json:"program"`
			Customers   int            `json:"customers"`
			SubSegments map[string]int `json:"sub_segments"`
		} `json:"segments"`
	}
	r.json(t, &counts)
	if r.Status != 200 || len(counts.Segments) != 3 {
		t.Fatalf("GET /v1/segments: %d %s", r.Status, r.Body)
	}
	ambassadors := 0
	for _, s := range counts.Segments {
		if s.Segment == "ambassador" {
			ambassadors = s.Customers
			if s.Program != "ambassador" || s.SubSegments["social_follower"] < 1 {
				t.Errorf("ambassador counts %+v", s)
			}
		}
	}
	if ambassadors < 2 {
		t.Fatalf("%d ambassadors, want the two ambassador personas at least: %s", ambassadors, r.Body)
	}
	var ids []string
	cursor := ""
	for page := 0; page < 100; page++ {
		r := get(t, "/v1/segments/ambassador/customers?limit=1&cursor="+cursor)
		var p struct {
			Customers []struct {
				CustomerID string `json:"customer_id"`
			} `json:"customers"`
			Next string `json:"next_cursor"`
		}
		r.json(t, &p)
		if r.Status != 200 || len(p.Customers) > 1 {
			t.Fatalf("page %d: %d %s", page, r.Status, r.Body)
		}
		for _, c := range p.Customers {
			ids = append(ids, c.CustomerID)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(ids) != ambassadors {
		t.Errorf("listed %d ambassadors, counted %d", len(ids), ambassadors)
	}
	req := call(t, "GET", "/v1/segments/future_ambassador/customers?sub_segment=lapsed", nil, stack.APIKey)
	if req.Status != 200 || !strings.Contains(string(req.Body), "lapsed") {
		t.Errorf("lapsed listing: %d %s", req.Status, req.Body)
	}
	if r := get(t, "/v1/segments/vip/customers"); r.Status != 400 {
		t.Errorf("unknown segment: %d", r.Status)
	}
	if r := get(t, "/v1/programs"); r.Status != 200 || !strings.Contains(string(r.Body), "accelerator") {
		t.Errorf("programs: %d %s", r.Status, r.Body)
	}
}

func TestSegmentCSVExport(t *testing.T) {
	TestPersonasEndToEnd(t)
	r, ctype := getCSV(t, "/v1/segments/opportunist/customers?limit=1000")
	lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
	if r.Status != 200 || !strings.HasPrefix(ctype, "text/csv") || lines[0] != "customer_id,segment,sub_segments,program" || len(lines) < 3 {
		t.Fatalf("CSV: %d %s %q", r.Status, ctype, r.Body)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, ",opportunist,") || !strings.HasSuffix(l, ",loyalty") {
			t.Errorf("CSV line %q", l)
		}
	}
}
