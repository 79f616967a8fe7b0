package contract

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// invalidSamples are the samples that must fail validation, and the field at fault.
var invalidSamples = map[string]string{
	"record-interaction-invalid.json":    "stars",
	"requests/interactions-invalid.json": "stars",
}

// fromEvent is the HTTP request an API Gateway v2 event stands for.
func fromEvent(ev events.APIGatewayV2HTTPRequest) Request {
	method, _, _ := strings.Cut(ev.RouteKey, " ")
	if ev.RequestContext.HTTP.Method != "" {
		method = ev.RequestContext.HTTP.Method
	}
	h := http.Header{}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	body := []byte(ev.Body)
	return Request{Method: method, Path: ev.RawPath, RawQuery: ev.RawQueryString, Header: h, Body: body}
}

// Every API Gateway v2 sample event of events/ and every body of events/requests/ validates
// against the spec (path, query and body), except the deliberately bad ones, which must fail
// on the field they are bad in.
func TestSampleRequests(t *testing.T) {
	spec := loadSpec(t)
	ctx := context.Background()
	validated, httpEvents, routes := 0, 0, map[string]bool{}
	check := func(name string, req Request) {
		err := spec.ValidateRequest(ctx, req)
		if field, bad := invalidSamples[name]; bad {
			if err == nil {
				t.Errorf("%s: a bad sample passed validation", name)
			} else if !strings.Contains(err.Error(), field) {
				t.Errorf("%s: refused, but not for %s: %v", name, field, err)
			}
		} else if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		validated++
	}

	files, _ := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(b, &ev); err != nil || ev.RouteKey == "" {
			continue // an SQS or schedule event
		}
		req := fromEvent(ev)
		route, _, err := spec.Route(req)
		if err != nil {
			t.Errorf("%s: %s %s matches no operation: %v", filepath.Base(f), req.Method, req.Path, err)
			continue
		}
		if got := strings.ToUpper(route.Method) + " " + route.Path; got != ev.RouteKey {
			t.Errorf("%s: routeKey %q, the spec routes it to %q", filepath.Base(f), ev.RouteKey, got)
		}
		routes[ev.RouteKey] = true
		httpEvents++
		check(filepath.Base(f), req)
	}

	// Bodies for POST /v1/interactions and POST /v1/referrals (the curl walk-through's).
	bodies, _ := filepath.Glob(filepath.Join(eventsDir, "requests", "*.json"))
	for _, f := range bodies {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		path := "/v1/interactions"
		if strings.HasPrefix(filepath.Base(f), "referral") {
			path = "/v1/referrals"
		}
		check("requests/"+filepath.Base(f), Request{Method: http.MethodPost, Path: path,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: b})
	}

	// The persona scenarios' interactions, each scenario as one batch (<= 100 at a time).
	scenarios, _ := filepath.Glob(filepath.Join(eventsDir, "scenarios", "*.json"))
	for _, f := range scenarios {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var sc struct {
			Interactions []json.RawMessage `json:"interactions"`
		}
		if err := json.Unmarshal(b, &sc); err != nil || len(sc.Interactions) == 0 {
			t.Errorf("%s: no interactions", f)
			continue
		}
		for start := 0; start < len(sc.Interactions); start += 100 {
			batch, _ := json.Marshal(map[string]any{"interactions": sc.Interactions[start:min(start+100, len(sc.Interactions))]})
			check("scenarios/"+filepath.Base(f), Request{Method: http.MethodPost, Path: "/v1/interactions",
				Header: http.Header{"Content-Type": {"application/json"}}, Body: batch})
		}
	}
	// The interactions the SQS samples carry (rescore and redeem envelopes) came in through the
	// API: as a batch they validate too.
	sqsSamples, _ := filepath.Glob(filepath.Join(eventsDir, "*-sqs.json"))
	for _, f := range sqsSamples {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.SQSEvent
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, rec := range ev.Records {
			var env struct {
				Interactions []json.RawMessage `json:"interactions"`
			}
			if json.Unmarshal([]byte(rec.Body), &env) != nil || len(env.Interactions) == 0 {
				continue // another message, or a poison one
			}
			batch, _ := json.Marshal(map[string]any{"interactions": env.Interactions})
			check("sqs/"+filepath.Base(f), Request{Method: http.MethodPost, Path: "/v1/interactions",
				Header: http.Header{"Content-Type": {"application/json"}}, Body: batch})
		}
	}
	if validated < 10 {
		t.Errorf("only %d samples validated", validated)
	}
	t.Logf("%d sample requests validated (%d API Gateway events over %d routes, %d bodies, %d scenarios, the rest SQS envelopes)",
		validated, httpEvents, len(routes), len(bodies), len(scenarios))
}

// The request schemas refuse what the handlers refuse (the checks above can fail).
func TestRequestSchemasRefuse(t *testing.T) {
	spec := loadSpec(t)
	post := func(path, body string) Request {
		return Request{Method: http.MethodPost, Path: path, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
	}
	const ok = `{"event_id":"e1","customer_id":"c1","type":"purchase","occurred_at":"2026-10-02T09:15:00Z","properties":{"order_id":"o1","total":100,"currency":"EUR"}}`
	if err := spec.ValidateRequest(context.Background(), post("/v1/interactions", ok)); err != nil {
		t.Fatalf("a good purchase: %v", err)
	}
	for name, req := range map[string]Request{
		"purchase without currency": post("/v1/interactions", strings.Replace(ok, `,"currency":"EUR"`, ``, 1)),
		"unknown property":          post("/v1/interactions", strings.Replace(ok, `"total":100`, `"total":100,"stars":5`, 1)),
		"unknown type":              post("/v1/interactions", strings.Replace(ok, `"purchase"`, `"referral_click"`, 1)),
		"unknown top-level field":   post("/v1/interactions", strings.Replace(ok, `{"event_id"`, `{"extra":1,"event_id"`, 1)),
		"fractional total":          post("/v1/interactions", strings.Replace(ok, `100`, `100.5`, 1)),
		"empty batch":               post("/v1/interactions", `{"interactions":[]}`),
		"referral without email":    post("/v1/referrals", `{"code":"ABC-123","order_id":"o1","friend_customer_id":"f1","order_total":1,"currency":"EUR"}`),
		"campaign without segment":  post("/v1/campaigns", `{"program":"ambassador"}`),
		"campaign unknown segment":  post("/v1/campaigns", `{"segment":"vip"}`),
		"voucher unknown field":     post("/v1/customers/c1/vouchers", `{"name":"x"}`),
		"leaderboard days 91":       {Method: http.MethodGet, Path: "/v1/leaderboard", RawQuery: "days=91"},
		"listing limit 0":           {Method: http.MethodGet, Path: "/v1/segments/ambassador/customers", RawQuery: "limit=0"},
		"listing unknown segment":   {Method: http.MethodGet, Path: "/v1/segments/vip/customers"},
		"refund amount without id":  post("/v1/orders/o1/refunds", `{"amount":100}`),
		"refund of nothing":         post("/v1/orders/o1/refunds", `{"refund_id":"r1","amount":0}`),
	} {
		if err := spec.ValidateRequest(context.Background(), req); err == nil {
			t.Errorf("%s: passed validation", name)
		}
	}
}
