package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/localrun"
)

// The real functions on the local stack (DynamoDB Local + fauxqs): every route's answers,
// after real interactions, validate against the spec. Skipped with -short.
func TestLocalStackResponsesMatchSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack")
	}
	spec := loadSpec(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	stack, err := localrun.Start(ctx, localrun.Config{Quiet: true, ManualSchedules: true, ResourcePrefix: "oa-",
		Parameters: map[string]string{"ConsumerVisibilityTimeout": "2"}})
	cancel()
	if err != nil {
		t.Fatal("start the local stack:", err)
	}
	defer func() {
		if t.Failed() {
			for _, f := range []string{"RecordInteractionFunction", "ReadApiFunction", "IssueVoucherFunction", "RedeemReferralFunction", "EraseCustomerFunction"} {
				if b, err := os.ReadFile(stack.LogPath(f)); err == nil && len(b) > 0 {
					t.Logf("---- %s log (tail) ----\n%s", f, b[max(0, len(b)-2000):])
				}
			}
		}
		_ = stack.Close()
	}()

	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	covered := map[string]map[int]bool{}
	// do sends a request, checks its status and validates the answer; it returns the body.
	do := func(method, path, query, body, key string, header map[string]string, want int) []byte {
		t.Helper()
		req := Request{Method: method, Path: path, RawQuery: query, Header: http.Header{}, Body: []byte(body)}
		if body != "" {
			req.Header.Set("content-type", "application/json")
		}
		if key != "" {
			req.Header.Set("x-api-key", key)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		u := stack.APIURL + path
		if query != "" {
			u += "?" + query
		}
		hr, err := http.NewRequest(method, u, bytes.NewReader(req.Body))
		if err != nil {
			t.Fatal(err)
		}
		hr.Header = req.Header.Clone()
		resp, err := client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if os.Getenv("CONTRACT_DUMP") != "" {
			t.Logf("%s %s?%s -> %d %v\n%s", method, path, query, resp.StatusCode, resp.Header, clip(string(b)))
		}
		if resp.StatusCode != want {
			t.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, clip(string(b)))
			return b
		}
		if err := spec.ValidateRequest(context.Background(), req); want < 400 && err != nil {
			t.Errorf("%s %s: the function accepted a request the spec refuses: %v", method, path, err)
		}
		if err := spec.ValidateResponse(context.Background(), req, Response{Status: resp.StatusCode, Header: resp.Header, Body: b}); err != nil {
			t.Errorf("%s %s %s: %d %s\n%v", method, path, query, resp.StatusCode, clip(string(b)), err)
		}
		if route, _, err := spec.Route(req); err == nil {
			k := strings.ToUpper(route.Method) + " " + route.Path
			if covered[k] == nil {
				covered[k] = map[int]bool{}
			}
			covered[k][resp.StatusCode] = true
		}
		return b
	}
	key := stack.APIKey
	batch := sampleBody(t, "requests/interactions-batch.json")

	do("POST", "/v1/interactions", "", batch, key, nil, 202)
	do("POST", "/v1/interactions", "", batch, key, nil, 202) // all duplicates
	do("POST", "/v1/interactions", "", strings.Replace(batch, `"total": 12900`, `"total": 12901`, 1), key, nil, 409)
	do("POST", "/v1/interactions", "", sampleBody(t, "requests/interactions-invalid.json"), key, nil, 400)
	do("POST", "/v1/interactions", "", bigBatch(101), key, nil, 413)
	do("POST", "/v1/interactions", "", batch, "", nil, 401)
	do("POST", "/v1/interactions", "", batch, "not-a-key", nil, 401)

	// The rescore consumer scores anna asynchronously.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _ := rawGet(client, stack.APIURL+"/v1/customers/cust-anna", key)
		if st == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cust-anna never appeared (last status %d)", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	do("GET", "/v1/customers/cust-anna", "", "", key, nil, 200)
	do("GET", "/v1/customers/cust-nobody", "", "", key, nil, 404)
	do("GET", "/v1/customers/"+strings.Repeat("x", 129), "", "", key, nil, 400)

	var v struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(do("POST", "/v1/customers/cust-anna/vouchers", "", `{"first_name":"Anna","email":"anna@example.com"}`, key, nil, 201), &v)
	do("POST", "/v1/customers/cust-anna/vouchers", "", ``, key, nil, 200)
	do("POST", "/v1/customers/cust-anna/vouchers", "", `{"program":"nope"}`, key, nil, 400)
	do("POST", "/v1/customers/cust-nobody/vouchers", "", ``, key, nil, 404)
	if v.Code == "" {
		t.Fatal("no voucher code")
	}

	do("GET", "/v1/programs", "", "", key, nil, 200)
	do("GET", "/v1/segments", "", "", key, nil, 200)
	do("GET", "/v1/segments/future_ambassador/customers", "limit=1", "", key, nil, 200)
	do("GET", "/v1/segments/future_ambassador/customers", "", "", key, map[string]string{"accept": "text/csv"}, 200)
	do("GET", "/v1/segments/ambassador/customers", "sub_segment=best_buyer", "", key, nil, 200)
	do("GET", "/v1/segments/vip/customers", "", "", key, nil, 400)

	do("GET", "/r/"+url.PathEscape(strings.ToLower(v.Code)), "utm_source=whatsapp", "", "", nil, 302)
	do("GET", "/r/NOPE-0000", "", "", "", nil, 302)

	redeem := func(code, order, friend string) string {
		return fmt.Sprintf(`{"code":%q,"order_id":%q,"friend_customer_id":%q,"friend_email":"%s@example.com","order_total":4900,"currency":"EUR"}`, code, order, friend, friend)
	}
	do("POST", "/v1/referrals", "", redeem(v.Code, "ord-oa-1", "cust-oa-friend"), key, nil, 201)
	do("POST", "/v1/referrals", "", redeem("NOPE-0000", "ord-oa-2", "cust-oa-friend2"), key, nil, 422)
	do("POST", "/v1/referrals", "", redeem(v.Code, "ord-oa-3", "cust-anna"), key, nil, 422) // self_referral
	do("POST", "/v1/referrals", "", `{"code":"x"}`, key, nil, 400)
	do("POST", "/v1/orders/ord-oa-1/refunds", "", "", key, nil, 200)
	do("POST", "/v1/orders/ord-oa-unknown/refunds", "", "", key, nil, 200) // no_referral

	do("GET", "/v1/leaderboard", "limit=10&days=30", "", key, nil, 200)
	do("GET", "/v1/leaderboard", "days=0", "", key, nil, 400)
	do("GET", "/v1/stats/funnel", "", "", key, nil, 200)

	do("POST", "/v1/campaigns", "", `{"segment":"future_ambassador","sub_segment":"engaged_non_sharer"}`, key, nil, 202)
	do("POST", "/v1/campaigns", "", `{"segment":"vip"}`, key, nil, 400)

	do("DELETE", "/v1/customers/cust-marco", "", "", key, nil, 200)
	do("DELETE", "/v1/customers/cust-marco", "", "", key, nil, 200) // already erased
	do("DELETE", "/v1/customers/cust-never-seen", "", "", key, nil, 404)

	var summary []string
	pairs := 0
	for _, route := range spec.RouteKeys() {
		var statuses []int
		for s := range covered[route] {
			statuses = append(statuses, s)
		}
		sort.Ints(statuses)
		pairs += len(statuses)
		if len(statuses) == 0 {
			t.Errorf("%s: not called on the local stack", route)
		}
		summary = append(summary, fmt.Sprintf("%s %v", route, statuses))
	}
	t.Logf("local stack: %d routes, %d (route, status) pairs validated:\n%s", len(covered), pairs, strings.Join(summary, "\n"))
}

func rawGet(c *http.Client, u, key string) (int, []byte) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("x-api-key", key)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
