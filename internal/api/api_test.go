package api

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/apikey/apikeytest"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/ingest/ingesttest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/referral"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// keys accepts "local-dev-key" with every scope and "ingest-only" with ingest.
var keys = apikeytest.Checker{"local-dev-key": apikey.AllScopes, "ingest-only": {apikey.ScopeIngest}}

type memQueue struct{ envs []interaction.Envelope }

func (q *memQueue) Enqueue(_ context.Context, envs []interaction.Envelope) error {
	q.envs = append(q.envs, envs...)
	return nil
}

func sample(t *testing.T, name string) httpapi.Request {
	t.Helper()
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var req httpapi.Request
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	return req
}

type errBody struct {
	Error struct{ Code, Field, Message string } `json:"error"`
}

func TestIngestRoute(t *testing.T) {
	store, queue := &ingesttest.Store{}, &memQueue{}
	svc, _ := ingest.New(store, queue, 400*24*time.Hour, func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) })
	r := httpapi.NewRouter(keys, nil)
	RegisterIngest(r, svc)

	cases := []struct {
		name       string
		event      string
		key        *string
		wantStatus int
		wantField  string
		wantBody   *ingest.Result
	}{
		{"no key: 401, nothing stored", "record-interaction-batch.json", ptr(""), 401, "x-api-key", nil},
		{"unknown key", "record-interaction-batch.json", ptr("nope"), 401, "x-api-key", nil},
		{"bad item: 400 naming it, nothing stored", "record-interaction-invalid.json", nil, 400, "interactions[1].properties.stars", nil},
		{"batch accepted", "record-interaction-batch.json", nil, 202, "", &ingest.Result{Accepted: 10}},
		{"replay: all duplicates", "record-interaction-batch.json", ptr("ingest-only"), 202, "", &ingest.Result{Duplicates: 10}},
		{"single", "record-interaction-single.json", nil, 202, "", &ingest.Result{Accepted: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := sample(t, tc.event)
			if tc.key != nil {
				req.Headers["x-api-key"] = *tc.key
			}
			before := store.Len()
			resp, err := r.Serve(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d body %s", resp.StatusCode, resp.Body)
			}
			if tc.wantField != "" {
				var eb errBody
				if err := json.Unmarshal([]byte(resp.Body), &eb); err != nil || eb.Error.Field != tc.wantField {
					t.Errorf("error body %s, want field %s", resp.Body, tc.wantField)
				}
				if store.Len() != before {
					t.Errorf("a refused request stored %d interactions", store.Len()-before)
				}
			}
			if tc.wantBody != nil {
				var got ingest.Result
				_ = json.Unmarshal([]byte(resp.Body), &got)
				if got != *tc.wantBody {
					t.Errorf("body %+v, want %+v", got, *tc.wantBody)
				}
			}
		})
	}
	// The batch's two customers went out as two messages, one per customer.
	if len(queue.envs) != 3 || len(queue.envs[0].Interactions)+len(queue.envs[1].Interactions) != 10 {
		t.Errorf("enqueued %d envelopes", len(queue.envs))
	}
}

type fakeCustomers struct{}

func (fakeCustomers) View(_ context.Context, id string) (*dynamostore.View, error) {
	if id != "cust-anna" {
		return nil, apperr.NotFound("no customer %q", id)
	}
	c := aggregate.New(id)
	c.Orders = 2
	c.Spend = map[string]aggregate.Money{"EUR": {Total: 3000, Orders: 2}}
	return &dynamostore.View{Customer: c, UpdatedAt: time.Now()}, nil
}

func (fakeCustomers) Members(_ context.Context, seg, sub string, shard int, after string, limit int) ([]dynamostore.Member, int, string, error) {
	if shard == 0 {
		return []dynamostore.Member{{CustomerID: "a", SubSegments: []string{"best_buyer"}, Program: "ambassador"}}, 3, "a", nil
	}
	return []dynamostore.Member{{CustomerID: "z", Program: "ambassador"}}, dynamostore.SegmentShards, "", nil
}

func (fakeCustomers) SegmentCounts(_ context.Context, segs []string) (map[string]segment.Count, error) {
	out := map[string]segment.Count{}
	for _, seg := range segs {
		out[seg] = segment.Count{Members: len(seg), SubSegments: map[string]int{"x": 1}}
	}
	return out, nil
}

func TestReadRoute(t *testing.T) {
	ev, err := segment.NewEvaluator(scoring.Default())
	if err != nil {
		t.Fatal(err)
	}
	r := httpapi.NewRouter(keys, nil)
	RegisterRead(r, ReadDeps{Customers: fakeCustomers{}, Evaluator: ev, DefaultCurrency: "EUR"})
	req := sample(t, "get-customer.json")
	resp, _ := r.Serve(context.Background(), req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Body)
	}
	var v map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &v)
	if v["average_basket"] != 1500.0 || v["orders"] != 2.0 {
		t.Errorf("body %s", resp.Body)
	}
	req.PathParameters["id"] = "nobody"
	if resp, _ := r.Serve(context.Background(), req); resp.StatusCode != 404 {
		t.Errorf("unknown customer: %d", resp.StatusCode)
	}

	list := func(path string, params map[string]string, accept string) httpapi.Response {
		q := sample(t, "get-customer.json")
		q.RouteKey, q.RawPath, q.PathParameters, q.QueryStringParameters = "GET /v1/segments/{segment}/customers", path, map[string]string{"segment": "ambassador"}, params
		if accept != "" {
			q.Headers["accept"] = accept
		}
		resp, _ := r.Serve(context.Background(), q)
		return resp
	}
	resp = list("/v1/segments/ambassador/customers", nil, "")
	var page struct {
		Customers []dynamostore.Member `json:"customers"`
		Next      string               `json:"next_cursor"`
	}
	_ = json.Unmarshal([]byte(resp.Body), &page)
	if resp.StatusCode != 200 || len(page.Customers) != 1 || page.Next == "" {
		t.Fatalf("page 1: %d %s", resp.StatusCode, resp.Body)
	}
	resp = list("/v1/segments/ambassador/customers", map[string]string{"cursor": page.Next}, "text/csv")
	if resp.StatusCode != 200 || resp.Headers["content-type"] != "text/csv; charset=utf-8" ||
		resp.Body != "customer_id,segment,sub_segments,program\nz,ambassador,,ambassador\n" || resp.Headers["x-next-cursor"] != "" {
		t.Errorf("csv page 2: %d %v %q", resp.StatusCode, resp.Headers, resp.Body)
	}
	for _, bad := range []map[string]string{{"limit": "0"}, {"limit": "x"}, {"cursor": "@@"}, {"sub_segment": "vip"}} {
		if resp := list("/v1/segments/ambassador/customers", bad, ""); resp.StatusCode != 400 {
			t.Errorf("%v: %d", bad, resp.StatusCode)
		}
	}

	req = sample(t, "get-customer.json")
	req.Headers["x-api-key"] = "ingest-only"
	if resp, _ := r.Serve(context.Background(), req); resp.StatusCode != 403 {
		t.Errorf("ingest key on a read route: %d", resp.StatusCode)
	}
	req.RouteKey = "GET /v1/nothing"
	if resp, _ := r.Serve(context.Background(), req); resp.StatusCode != 404 {
		t.Errorf("unknown route: %d", resp.StatusCode)
	}
}

func ptr(s string) *string { return &s }

// GET /v1/programs gives each program's rules as configured for the stack.
func TestProgramRules(t *testing.T) {
	ev, err := segment.NewEvaluator(scoring.Default())
	if err != nil {
		t.Fatal(err)
	}
	terms := referral.DefaultTerms()
	terms.ReturnWindow, terms.MonthlyCap = 7*24*time.Hour, 4
	r := httpapi.NewRouter(keys, nil)
	RegisterRead(r, ReadDeps{Customers: fakeCustomers{}, Evaluator: ev, Rules: RulesOf(voucher.DefaultRules(), terms)})
	req := sample(t, "get-customer.json")
	req.RouteKey, req.RawPath, req.PathParameters = "GET /v1/programs", "/v1/programs", nil
	resp, _ := r.Serve(context.Background(), req)
	var body struct {
		Programs []struct {
			ID    string       `json:"id"`
			Rules ProgramRules `json:"rules"`
		} `json:"programs"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != 200 || len(body.Programs) != 3 {
		t.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
	}
	want := ProgramRules{VoucherValidDays: 90, VoucherUseLimit: 10, ReturnWindowDays: 7, ReferrerMonthlyCap: 4, ReferrerPoints: 500}
	if p := body.Programs[0]; p.ID != "ambassador" || p.Rules != want {
		t.Errorf("ambassador rules %+v, want %+v", p.Rules, want)
	}
}
