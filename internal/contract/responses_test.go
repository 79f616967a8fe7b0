package contract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/apikey/apikeytest"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/click"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/funnel"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/ingest/ingesttest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/issue"
	"github.com/referral-engine/referral-engine/internal/ledger"
	"github.com/referral-engine/referral-engine/internal/referral"
	"github.com/referral-engine/referral-engine/internal/referralstore"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// ---- fakes of the interfaces the routes take

var keys = apikeytest.Checker{
	"admin-key":  apikey.AllScopes,
	"ingest-key": {apikey.ScopeIngest},
	"read-key":   {apikey.ScopeRead},
}

type memQueue struct{}

func (memQueue) Enqueue(context.Context, []interaction.Envelope) error { return nil }

// anna is a customer built from the walk-through's batch, as the rescore consumer builds her.
func anna(t *testing.T) *aggregate.Customer {
	t.Helper()
	b, err := os.ReadFile(eventsDir + "/requests/interactions-batch.json")
	if err != nil {
		t.Fatal(err)
	}
	ins, err := interaction.Parse(b, now)
	if err != nil {
		t.Fatal(err)
	}
	c := aggregate.New("cust-anna")
	for _, in := range ins {
		if in.CustomerID == c.CustomerID {
			c.Apply(in)
		}
	}
	c.Segment = segment.FutureAmbassador // scored once: the read API re-evaluates
	return c
}

type customersFake struct {
	c   *aggregate.Customer
	err error // answered by every call when set
}

func (f customersFake) View(_ context.Context, id string) (*dynamostore.View, error) {
	if f.err != nil {
		return nil, f.err
	}
	switch id {
	case "cust-anna":
		return &dynamostore.View{Customer: f.c, UpdatedAt: now, History: []segment.Change{
			{ID: "chg-2", CustomerID: id, From: segment.FutureAmbassador, To: segment.Ambassador, SubSegments: []string{segment.SocialFollower}, Program: "ambassador", Score: 64.5, Reason: "proven sharer", At: now},
			{ID: "chg-1", CustomerID: id, To: segment.FutureAmbassador, Program: "accelerator", Score: 20, Reason: "first segmentation", At: now.Add(-time.Hour)},
		}}, nil
	case "cust-new": // known, never scored: nil slices and maps everywhere
		return &dynamostore.View{Customer: aggregate.New(id), UpdatedAt: now}, nil
	}
	return nil, apperr.NotFound("no customer %q", id)
}

func (f customersFake) Members(_ context.Context, seg, sub string, shard int, after string, limit int) ([]dynamostore.Member, int, string, error) {
	if f.err != nil {
		return nil, 0, "", f.err
	}
	if shard == 0 {
		return []dynamostore.Member{{CustomerID: "cust-anna", SubSegments: []string{"best_buyer", "social_follower"}, Program: "ambassador"}, {CustomerID: "cust-bo", Program: "ambassador"}}, 3, "cust-bo", nil
	}
	return nil, dynamostore.SegmentShards, "", nil
}

func (f customersFake) SegmentCounts(_ context.Context, segs []string) (map[string]segment.Count, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]segment.Count{}
	for _, seg := range segs {
		out[seg] = segment.Count{Members: 3, SubSegments: map[string]int{"best_buyer": 1}}
	}
	return out, nil
}

type vouchersFake struct{}

func sampleVoucher(customerID string) voucher.Voucher {
	return voucher.Voucher{Code: "ANNA-7KQ2XH", CustomerID: customerID, Program: "ambassador", Status: voucher.StatusActive,
		FriendOffer:    voucher.Offer{Type: "percent_off", Value: 15, Description: "15% off the first order"},
		ReferrerReward: voucher.Offer{Type: "loyalty_points", Value: 500, Description: "500 loyalty points"},
		CreatedAt:      now, ExpiresAt: now.AddDate(0, 3, 0), UseLimit: 10, Uses: 1, Reason: "campaign", CampaignID: "cmp_1"}
}

func (vouchersFake) List(_ context.Context, id string, _ []string) ([]voucher.Voucher, error) {
	if id != "cust-anna" {
		return nil, nil
	}
	return []voucher.Voucher{sampleVoucher(id)}, nil
}

type ledgerFake struct{}

func (ledgerFake) Account(_ context.Context, id string) (ledger.Account, error) {
	if id != "cust-anna" {
		return ledger.Account{}, nil
	}
	return ledger.Account{Balance: 0, Entries: []ledger.Entry{
		{CustomerID: id, ReferralID: "ref_1", Kind: ledger.KindGrant, Points: 500, Reward: referral.Reward{Type: "loyalty_points", Points: 500}, OrderID: "ord-9001", At: now},
		{CustomerID: id, ReferralID: "ref_1", Kind: ledger.KindReverse, Points: -500, Reward: referral.Reward{Type: "loyalty_points", Points: 500, Detail: map[string]any{"why": "refund"}}, OrderID: "ord-9001", At: now},
	}}, nil
}

type referralsFake struct{}

func (referralsFake) Redeem(_ context.Context, r referral.Redemption) (referral.Answer, error) {
	for _, reason := range referral.Reasons {
		if strings.EqualFold(r.Code, strings.ReplaceAll(reason, "_", "-")) {
			return referral.Answer{}, referral.Refuse(reason, "refused: %s", reason)
		}
	}
	return referral.Answer{ReferralID: "ref_1", Status: referral.Pending, FriendOffer: map[string]any{"type": "percent_off", "value": 15, "description": "15% off"}}, nil
}

func (referralsFake) RefundOrder(_ context.Context, orderID string, _ referral.RefundRequest) (referral.RefundAnswer, error) {
	if orderID != "ord-9001" {
		return referral.RefundAnswer{OrderID: orderID, Status: referral.NoReferral}, nil
	}
	return referral.RefundAnswer{OrderID: orderID, ReferralID: "ref_1", Status: referral.Reversed}, nil
}

type marketingFake struct{ empty bool }

func (f marketingFake) Leaderboard(_ context.Context, days, limit int, _ time.Time) ([]referralstore.Leader, error) {
	if f.empty {
		return nil, nil
	}
	return []referralstore.Leader{{CustomerID: "cust-anna", SuccessfulReferrals: 3}, {CustomerID: "cust-bo", SuccessfulReferrals: 1}}, nil
}

func (f marketingFake) Read(context.Context) (map[string]funnel.Funnel, error) {
	out := map[string]funnel.Funnel{}
	for _, p := range funnel.Programs {
		out[p] = funnel.Funnel{}
		for i, s := range funnel.Stages {
			out[p][s] = int64(10 - i)
		}
	}
	return out, nil
}

type issuerFake struct{}

func (issuerFake) ForCustomer(_ context.Context, a issue.Ask) (voucher.Voucher, bool, error) {
	if a.CustomerID == "nobody" {
		return voucher.Voucher{}, false, apperr.NotFound("no customer %q", a.CustomerID)
	}
	v := sampleVoucher(a.CustomerID)
	v.ShareURL = voucher.ShareURL(a.ShareBase, v.Code)
	v.CampaignID, v.Reason = "", "request"
	return v, a.CustomerID != "cust-anna", nil
}

func (issuerFake) Launch(_ context.Context, r issue.CampaignRequest) (voucher.Campaign, bool, error) {
	return voucher.Campaign{ID: "cmp_1", Segment: r.Segment, SubSegment: r.SubSegment, Program: "accelerator", Count: 2, Status: voucher.CampaignLaunching, CreatedAt: now}, false, nil
}

type eraserFake struct{}

func (eraserFake) Erase(_ context.Context, id string) (*erase.Result, error) {
	switch id {
	case "cust-anna":
		return &erase.Result{CustomerID: id, Pseudonym: "erased-0123456789abcdef01234567", ErasedAt: now,
			Erased: erase.Counts{Interactions: 9, CustomerItems: 3, VouchersRevoked: 1, LedgerItems: 2}}, nil
	case "cust-gone":
		return &erase.Result{CustomerID: id, Pseudonym: "erased-89abcdef0123456789abcdef", AlreadyErased: true, ErasedAt: now}, nil
	}
	return nil, erase.ErrNotFound
}

type clickerFake struct{}

func (clickerFake) Handle(_ context.Context, cl click.Click) (string, click.Outcome) {
	if strings.EqualFold(cl.Code, "ANNA-7KQ2XH") {
		return "https://shop.example/?ref=ANNA-7KQ2XH", "redirected"
	}
	return "https://shop.example/", "unknown"
}

// ---- driving the routers

// apiRouter builds one router with every API function's routes on fakes.
func apiRouter(t *testing.T, c customersFake) *httpapi.Router {
	t.Helper()
	ev, err := segment.NewEvaluator(scoring.Default())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ingest.New(&ingesttest.Store{}, memQueue{}, 400*24*time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	r := httpapi.NewRouter(keys, slog.New(slog.DiscardHandler))
	api.RegisterIngest(r, svc)
	vrules, err := voucher.NewRules(scoring.Default(), "")
	if err != nil {
		t.Fatal(err)
	}
	api.RegisterRead(r, api.ReadDeps{Customers: c, Evaluator: ev, Vouchers: vouchersFake{}, Ledger: ledgerFake{}, DefaultCurrency: "EUR",
		Rules: api.RulesOf(vrules, referral.DefaultTerms()), Now: func() time.Time { return now }})
	api.RegisterReferrals(r, referralsFake{})
	api.RegisterMarketing(r, marketingFake{}, marketingFake{}, func() time.Time { return now })
	api.RegisterVouchers(r, issuerFake{}, "")
	api.RegisterClicks(r, clickerFake{})
	api.RegisterErase(r, eraserFake{})
	return r
}

type call struct {
	name       string
	routeKey   string
	path       string // raw path; its parameters are matched against routeKey's
	query      string
	header     map[string]string
	body       string
	key        string // "" for none
	wantStatus int
}

// event is the API Gateway v2 event of c.
func (c call) event() httpapi.Request {
	method, _, _ := strings.Cut(c.routeKey, " ")
	h := map[string]string{"content-type": "application/json", "host": "127.0.0.1:3000", "x-forwarded-proto": "http"}
	if c.key != "" {
		h["x-api-key"] = c.key
	}
	for k, v := range c.header {
		h[k] = v
	}
	q, _ := url.ParseQuery(c.query)
	qs := map[string]string{}
	for k := range q {
		qs[k] = q.Get(k)
	}
	return httpapi.Request{Version: "2.0", RouteKey: c.routeKey, RawPath: c.path, RawQueryString: c.query, Headers: h,
		QueryStringParameters: qs, PathParameters: pathParams(c.routeKey, c.path), Body: c.body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{DomainName: "127.0.0.1:3000", Stage: "$default", RequestID: "req-1",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: c.path, SourceIP: "203.0.113.9", UserAgent: "test"}}}
}

func pathParams(routeKey, path string) map[string]string {
	_, tpl, _ := strings.Cut(routeKey, " ")
	ts, ps := strings.Split(tpl, "/"), strings.Split(path, "/")
	out := map[string]string{}
	for i, seg := range ts {
		if strings.HasPrefix(seg, "{") && i < len(ps) {
			out[strings.Trim(seg, "{}")], _ = url.PathUnescape(ps[i])
		}
	}
	return out
}

func toResponse(r httpapi.Response) Response {
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return Response{Status: r.StatusCode, Header: h, Body: []byte(r.Body)}
}

func bigBatch(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"event_id":"big-%d","customer_id":"c1","type":"comment","occurred_at":"2026-10-02T09:15:00Z"}`, i)
	}
	return `{"interactions":[` + strings.Join(items, ",") + `]}`
}

func sampleBody(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(eventsDir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every route's answers, success and error, validate against the spec: status documented,
// content type listed, body valid, required headers present, no undocumented field.
func TestResponsesMatchSpec(t *testing.T) {
	spec := loadSpec(t)
	ctx := context.Background()
	r := apiRouter(t, customersFake{c: anna(t)})
	redeem := func(code string) string {
		return fmt.Sprintf(`{"code":%q,"order_id":"ord-9001","friend_customer_id":"cust-marco","friend_email":"marco@example.com","order_total":4900,"currency":"EUR"}`, code)
	}
	calls := []call{
		{"batch", "POST /v1/interactions", "/v1/interactions", "", nil, sampleBody(t, "requests/interactions-batch.json"), "ingest-key", 202},
		{"replayed single", "POST /v1/interactions", "/v1/interactions", "", nil, sampleBody(t, "requests/interaction-single.json"), "admin-key", 202},
		{"event id reused", "POST /v1/interactions", "/v1/interactions", "", nil, `{"event_id": "evt-anna-0009", "customer_id": "cust-anna", "type": "loyalty_join", "occurred_at": "2026-10-20T11:00:00Z", "properties": {"program_id": "gold"}}`, "ingest-key", 409},
		{"bad item", "POST /v1/interactions", "/v1/interactions", "", nil, sampleBody(t, "requests/interactions-invalid.json"), "ingest-key", 400},
		{"not JSON", "POST /v1/interactions", "/v1/interactions", "", nil, `{`, "ingest-key", 400},
		{"101 interactions", "POST /v1/interactions", "/v1/interactions", "", nil, bigBatch(101), "ingest-key", 413},
		{"no key", "POST /v1/interactions", "/v1/interactions", "", nil, `{}`, "", 401},
		{"unknown key", "POST /v1/interactions", "/v1/interactions", "", nil, `{}`, "nope", 401},
		{"read key on ingest", "POST /v1/interactions", "/v1/interactions", "", nil, `{}`, "read-key", 403},

		{"customer", "GET /v1/customers/{id}", "/v1/customers/cust-anna", "", nil, "", "read-key", 200},
		{"never-scored customer", "GET /v1/customers/{id}", "/v1/customers/cust-new", "", nil, "", "read-key", 200},
		{"unknown customer", "GET /v1/customers/{id}", "/v1/customers/nobody", "", nil, "", "read-key", 404},
		{"id too long", "GET /v1/customers/{id}", "/v1/customers/" + strings.Repeat("x", 129), "", nil, "", "read-key", 400},
		{"ingest key on read", "GET /v1/customers/{id}", "/v1/customers/cust-anna", "", nil, "", "ingest-key", 403},

		{"erase", "DELETE /v1/customers/{id}", "/v1/customers/cust-anna", "", nil, "", "admin-key", 200},
		{"erase again", "DELETE /v1/customers/{id}", "/v1/customers/cust-gone", "", nil, "", "admin-key", 200},
		{"erase unknown", "DELETE /v1/customers/{id}", "/v1/customers/nobody", "", nil, "", "admin-key", 404},
		{"erase with read key", "DELETE /v1/customers/{id}", "/v1/customers/cust-anna", "", nil, "", "read-key", 403},

		{"programs", "GET /v1/programs", "/v1/programs", "", nil, "", "read-key", 200},
		{"segments", "GET /v1/segments", "/v1/segments", "", nil, "", "read-key", 200},
		{"members", "GET /v1/segments/{segment}/customers", "/v1/segments/ambassador/customers", "limit=2&sub_segment=best_buyer", nil, "", "read-key", 200},
		{"members csv", "GET /v1/segments/{segment}/customers", "/v1/segments/ambassador/customers", "limit=2", map[string]string{"accept": "text/csv"}, "", "read-key", 200},
		{"members last page", "GET /v1/segments/{segment}/customers", "/v1/segments/ambassador/customers", "cursor=Mzo", nil, "", "read-key", 200},
		{"members bad limit", "GET /v1/segments/{segment}/customers", "/v1/segments/ambassador/customers", "limit=0", nil, "", "read-key", 400},

		{"leaderboard", "GET /v1/leaderboard", "/v1/leaderboard", "limit=10&days=30", nil, "", "read-key", 200},
		{"leaderboard bad days", "GET /v1/leaderboard", "/v1/leaderboard", "days=365", nil, "", "read-key", 400},
		{"funnel", "GET /v1/stats/funnel", "/v1/stats/funnel", "", nil, "", "read-key", 200},

		{"voucher issued", "POST /v1/customers/{id}/vouchers", "/v1/customers/cust-marco/vouchers", "", nil, `{"first_name":"Marco"}`, "ingest-key", 201},
		{"voucher existing", "POST /v1/customers/{id}/vouchers", "/v1/customers/cust-anna/vouchers", "", nil, ``, "ingest-key", 200},
		{"voucher unknown customer", "POST /v1/customers/{id}/vouchers", "/v1/customers/nobody/vouchers", "", nil, ``, "ingest-key", 404},
		{"voucher bad field", "POST /v1/customers/{id}/vouchers", "/v1/customers/cust-anna/vouchers", "", nil, `{"name":"x"}`, "ingest-key", 400},
		{"voucher body too large", "POST /v1/customers/{id}/vouchers", "/v1/customers/cust-anna/vouchers", "", nil, `{"first_name":"` + strings.Repeat("x", 5000) + `"}`, "ingest-key", 413},
		{"campaign", "POST /v1/campaigns", "/v1/campaigns", "", nil, `{"segment":"future_ambassador","sub_segment":"engaged_non_sharer"}`, "admin-key", 202},
		{"campaign without segment", "POST /v1/campaigns", "/v1/campaigns", "", nil, `{}`, "admin-key", 400},
		{"campaign with ingest key", "POST /v1/campaigns", "/v1/campaigns", "", nil, `{"segment":"ambassador"}`, "ingest-key", 403},

		{"redeem", "POST /v1/referrals", "/v1/referrals", "", nil, redeem("ANNA-7KQ2XH"), "ingest-key", 201},
		{"redeem bad body", "POST /v1/referrals", "/v1/referrals", "", nil, `{"code":"x"}`, "ingest-key", 400},
		{"redeem too large", "POST /v1/referrals", "/v1/referrals", "", nil, strings.Repeat(" ", 17<<10), "ingest-key", 413},
		{"refund", "POST /v1/orders/{order_id}/refunds", "/v1/orders/ord-9001/refunds", "", nil, "", "ingest-key", 200},
		{"refund of an order without referral", "POST /v1/orders/{order_id}/refunds", "/v1/orders/ord-0/refunds", "", nil, "", "ingest-key", 200},
		{"partial refund", "POST /v1/orders/{order_id}/refunds", "/v1/orders/ord-9001/refunds", "", nil, `{"refund_id":"rf-1","amount":1200}`, "ingest-key", 200},
		{"partial refund without amount", "POST /v1/orders/{order_id}/refunds", "/v1/orders/ord-9001/refunds", "", nil, `{"refund_id":"rf-1"}`, "ingest-key", 400},

		{"click", "GET /r/{code}", "/r/anna-7kq2xh", "utm_source=whatsapp", nil, "", "", 302},
		{"click unknown code", "GET /r/{code}", "/r/nope", "", nil, "", "", 302},
	}
	for _, reason := range referral.Reasons {
		calls = append(calls, call{"refused " + reason, "POST /v1/referrals", "/v1/referrals", "", nil, redeem(strings.ReplaceAll(reason, "_", "-")), "ingest-key", 422})
	}

	// Failures: a store error answers 500, a timeout 503.
	broken := apiRouter(t, customersFake{err: errors.New("dynamodb: boom")})
	slow := apiRouter(t, customersFake{err: fmt.Errorf("read: %w", context.DeadlineExceeded)})
	failures := []struct {
		r *httpapi.Router
		c call
	}{
		{broken, call{"store error", "GET /v1/customers/{id}", "/v1/customers/cust-anna", "", nil, "", "read-key", 500}},
		{slow, call{"timeout", "GET /v1/segments", "/v1/segments", "", nil, "", "read-key", 503}},
	}

	covered := map[string]map[int]bool{}
	run := func(r *httpapi.Router, c call) {
		t.Run(c.name, func(t *testing.T) {
			ev := c.event()
			resp, err := r.Serve(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.wantStatus, resp.Body)
			}
			req := fromEvent(ev)
			// The schemas accept what the handlers accept and refuse what they call bad input.
			reqErr := spec.ValidateRequest(ctx, req)
			switch {
			case resp.StatusCode < 400 && reqErr != nil:
				t.Errorf("the handler accepted a request the spec refuses: %v", reqErr)
			case resp.StatusCode == 400 && reqErr == nil:
				t.Errorf("the handler refused a request (400) the spec accepts: %s", resp.Body)
			}
			if err := spec.ValidateResponse(ctx, req, toResponse(resp)); err != nil {
				t.Errorf("%d %s\n%v", resp.StatusCode, clip(resp.Body), err)
			}
			if covered[c.routeKey] == nil {
				covered[c.routeKey] = map[int]bool{}
			}
			covered[c.routeKey][resp.StatusCode] = true
		})
	}
	for _, c := range calls {
		run(r, c)
	}
	for _, f := range failures {
		run(f.r, f.c)
	}

	// Every route served by this router had a success answer validated.
	var summary []string
	pairs := 0
	for _, route := range r.Routes() {
		ok := false
		var statuses []int
		for s := range covered[route] {
			statuses = append(statuses, s)
			ok = ok || s < 400
		}
		sort.Ints(statuses)
		pairs += len(statuses)
		if !ok {
			t.Errorf("%s: no success answer validated", route)
		}
		summary = append(summary, fmt.Sprintf("%s %v", route, statuses))
	}
	t.Logf("%d calls, %d routes, %d (route, status) pairs validated:\n%s", len(calls)+len(failures), len(r.Routes()), pairs, strings.Join(summary, "\n"))
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// The validation fails on what it should: a missing required field, a wrong type, an
// undocumented field, an undocumented status, an unlisted content type, a missing Location.
func TestResponseValidationCanFail(t *testing.T) {
	spec := loadSpec(t)
	ctx := context.Background()
	jsonH := http.Header{"Content-Type": {"application/json"}}
	ingestReq := Request{Method: http.MethodPost, Path: "/v1/interactions", Header: jsonH}
	customerReq := Request{Method: http.MethodGet, Path: "/v1/customers/cust-anna"}
	if err := spec.ValidateResponse(ctx, ingestReq, Response{Status: 202, Header: jsonH, Body: []byte(`{"accepted":1,"duplicates":0}`)}); err != nil {
		t.Fatalf("a good answer failed: %v", err)
	}
	for name, tc := range map[string]struct {
		req  Request
		resp Response
	}{
		"202 without duplicates":   {ingestReq, Response{202, jsonH, []byte(`{"accepted":1}`)}},
		"202 with a string count":  {ingestReq, Response{202, jsonH, []byte(`{"accepted":"1","duplicates":0}`)}},
		"202 with an extra field":  {ingestReq, Response{202, jsonH, []byte(`{"accepted":1,"duplicates":0,"rejected":0}`)}},
		"undocumented status 200":  {ingestReq, Response{200, jsonH, []byte(`{"accepted":1,"duplicates":0}`)}},
		"text/plain body":          {ingestReq, Response{202, http.Header{"Content-Type": {"text/plain"}}, []byte(`ok`)}},
		"error without message":    {ingestReq, Response{400, jsonH, []byte(`{"error":{"code":"invalid_field"}}`)}},
		"bare error string":        {ingestReq, Response{400, jsonH, []byte(`{"error":"bad"}`)}},
		"422 with an unknown code": {Request{Method: http.MethodPost, Path: "/v1/referrals", Header: jsonH}, Response{422, jsonH, []byte(`{"error":{"code":"nope","message":"x"}}`)}},
		"customer without vouchers": {customerReq, Response{200, jsonH, func() []byte {
			r := apiRouter(t, customersFake{c: anna(t)})
			resp, _ := r.Serve(ctx, call{routeKey: "GET /v1/customers/{id}", path: "/v1/customers/cust-anna", key: "read-key"}.event())
			var m map[string]any
			_ = json.Unmarshal([]byte(resp.Body), &m)
			if _, ok := m["vouchers"]; !ok {
				t.Fatalf("the customer view has no vouchers: %s", resp.Body)
			}
			delete(m, "vouchers")
			b, _ := json.Marshal(m)
			return b
		}()}},
		"302 without location": {Request{Method: http.MethodGet, Path: "/r/ABC"}, Response{302, http.Header{"Cache-Control": {"no-store"}}, nil}},
	} {
		if err := spec.ValidateResponse(ctx, tc.req, tc.resp); err == nil {
			t.Errorf("%s: passed validation", name)
		}
	}
}
