package api

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/click"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/issue"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

type issuerFake struct {
	asks      []issue.Ask
	campaigns []issue.CampaignRequest
	created   bool
}

func (f *issuerFake) ForCustomer(_ context.Context, a issue.Ask) (voucher.Voucher, bool, error) {
	f.asks = append(f.asks, a)
	return voucher.Voucher{Code: "ABCDEFGH", CustomerID: a.CustomerID, ShareURL: voucher.ShareURL(a.ShareBase, "ABCDEFGH")}, f.created, nil
}

func (f *issuerFake) Launch(_ context.Context, r issue.CampaignRequest) (voucher.Campaign, bool, error) {
	f.campaigns = append(f.campaigns, r)
	return voucher.Campaign{ID: "cmp_1", Segment: r.Segment}, false, nil
}

func voucherRequest(route, id, body, key string, rc events.APIGatewayV2HTTPRequestContext) httpapi.Request {
	rc.RequestID = "req-1"
	return httpapi.Request{RouteKey: route, PathParameters: map[string]string{"id": id}, Body: body,
		Headers: map[string]string{"x-api-key": key, "x-forwarded-proto": "https"}, RequestContext: rc}
}

func TestVoucherRoutes(t *testing.T) {
	f := &issuerFake{created: true}
	r := httpapi.NewRouter(keys, nil)
	RegisterVouchers(r, f, "")
	local := events.APIGatewayV2HTTPRequestContext{DomainName: "127.0.0.1:3000", Stage: "$default"}
	aws := events.APIGatewayV2HTTPRequestContext{DomainName: "abc.execute-api.eu-west-1.amazonaws.com", Stage: "prod"}
	for _, tc := range []struct {
		name, route, id, body, key string
		rc                         events.APIGatewayV2HTTPRequestContext
		status                     int
		field, shareURL            string
	}{
		{"ask", "POST /v1/customers/{id}/vouchers", "anna", ``, "ingest-only", local, 201, "", "https://127.0.0.1:3000/r/ABCDEFGH"},
		{"ask on AWS", "POST /v1/customers/{id}/vouchers", "anna", `{"program":"ambassador","first_name":"Anna"}`, "ingest-only", aws, 201, "", "https://abc.execute-api.eu-west-1.amazonaws.com/prod/r/ABCDEFGH"},
		{"bad id", "POST /v1/customers/{id}/vouchers", "a#b", ``, "ingest-only", local, 400, "id", ""},
		{"unknown field", "POST /v1/customers/{id}/vouchers", "anna", `{"name":"x"}`, "ingest-only", local, 400, "name", ""},
		{"wrong type", "POST /v1/customers/{id}/vouchers", "anna", `{"program":1}`, "ingest-only", local, 400, "program", ""},
		{"two objects", "POST /v1/customers/{id}/vouchers", "anna", `{} {}`, "ingest-only", local, 400, "body", ""},
		{"no key", "POST /v1/customers/{id}/vouchers", "anna", ``, "", local, 401, "x-api-key", ""},
		{"campaign needs admin", "POST /v1/campaigns", "", `{"segment":"ambassador"}`, "ingest-only", local, 403, "x-api-key", ""},
		{"campaign", "POST /v1/campaigns", "", `{"segment":"ambassador"}`, "local-dev-key", local, 202, "", ""},
		{"campaign without segment", "POST /v1/campaigns", "", `{}`, "local-dev-key", local, 400, "segment", ""},
	} {
		resp, _ := r.Serve(context.Background(), voucherRequest(tc.route, tc.id, tc.body, tc.key, tc.rc))
		var body struct {
			ShareURL string `json:"share_url"`
			Error    struct{ Field string }
		}
		_ = json.Unmarshal([]byte(resp.Body), &body)
		if resp.StatusCode != tc.status || body.Error.Field != tc.field || body.ShareURL != tc.shareURL {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, resp.Body)
		}
	}
	if len(f.asks) != 2 || f.asks[1].Program != "ambassador" || f.asks[1].FirstName != "Anna" || len(f.campaigns) != 1 {
		t.Errorf("asks %+v campaigns %+v", f.asks, f.campaigns)
	}
	// An existing voucher answers 200; a configured share base wins over the request's.
	f.created = false
	r = httpapi.NewRouter(keys, nil)
	RegisterVouchers(r, f, "https://r.brand.example")
	resp, _ := r.Serve(context.Background(), voucherRequest("POST /v1/customers/{id}/vouchers", "anna", ``, "ingest-only", local))
	var v VoucherView
	_ = json.Unmarshal([]byte(resp.Body), &v)
	if resp.StatusCode != 200 || v.ShareURL != "https://r.brand.example/r/ABCDEFGH" {
		t.Errorf("existing: %d %s", resp.StatusCode, resp.Body)
	}
}

type clickerFake struct{ got []click.Click }

func (f *clickerFake) Handle(_ context.Context, cl click.Click) (string, click.Outcome) {
	f.got = append(f.got, cl)
	return "https://shop.example.com?ref=ABCDEFGH", click.Counted
}

func TestClickRoute(t *testing.T) {
	f := &clickerFake{}
	r := httpapi.NewRouter(nil, nil) // public: no key checker needed
	RegisterClicks(r, f)
	req := httpapi.Request{RouteKey: "GET /r/{code}", PathParameters: map[string]string{"code": "abcdefgh"},
		RawQueryString: "utm_source=mail&ref=X",
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "rid",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "1.2.3.4", UserAgent: "Mozilla"}}}
	resp, _ := r.Serve(context.Background(), req)
	h := resp.Headers
	if resp.StatusCode != 302 || h["location"] != "https://shop.example.com?ref=ABCDEFGH" || h["cache-control"] != "no-store" || resp.Body != "" {
		t.Errorf("response %+v", resp)
	}
	want := click.Click{Code: "abcdefgh", ClientIP: "1.2.3.4", UserAgent: "Mozilla", RequestID: "rid",
		Query: url.Values{"utm_source": {"mail"}, "ref": {"X"}}}
	if len(f.got) != 1 || f.got[0].Code != want.Code || f.got[0].ClientIP != want.ClientIP || f.got[0].RequestID != "rid" ||
		f.got[0].Query.Get("utm_source") != "mail" {
		t.Errorf("click %+v", f.got)
	}
}

// The sample events (sam local invoke -e events/<file> <Function>) go through the routers the
// functions use.
func TestVoucherSampleEvents(t *testing.T) {
	f := &issuerFake{created: true}
	vr := httpapi.NewRouter(keys, nil)
	RegisterVouchers(vr, f, "")
	c := &clickerFake{}
	cr := httpapi.NewRouter(nil, nil)
	RegisterClicks(cr, c)
	for _, tc := range []struct {
		file   string
		router *httpapi.Router
		status int
	}{
		{"issue-voucher.json", vr, 201},
		{"launch-campaign.json", vr, 202},
		{"click-redirect.json", cr, 302},
	} {
		var req httpapi.Request
		b, err := os.ReadFile("../../events/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		resp, _ := tc.router.Serve(context.Background(), req)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s", tc.file, resp.StatusCode, resp.Body)
		}
	}
	if len(f.asks) != 1 || f.asks[0].CustomerID != "cust-marco" || f.asks[0].FirstName != "Marco" || f.asks[0].ShareBase != "http://127.0.0.1:3000" {
		t.Errorf("asks %+v", f.asks)
	}
	if len(f.campaigns) != 1 || f.campaigns[0].SubSegment != "engaged_non_sharer" {
		t.Errorf("campaigns %+v", f.campaigns)
	}
	if len(c.got) != 1 || c.got[0].Code != "marco-puyxmrws" || c.got[0].ClientIP != "203.0.113.7" || c.got[0].Query.Get("utm_source") != "whatsapp" {
		t.Errorf("clicks %+v", c.got)
	}
}
