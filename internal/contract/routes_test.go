package contract

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/referral-engine/referral-engine/internal/api"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/template"
)

const (
	specPath     = "../../docs/openapi.yaml"
	templatePath = "../../template.yaml"
	eventsDir    = "../../events"
)

func loadSpec(t testing.TB) *Spec {
	t.Helper()
	s, err := Load(context.Background(), specPath)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// routerRoutes lists the routes the API functions' routers register (what their main.go
// registers; internal/api's routes test ties each registration to its template function).
func routerRoutes() []string {
	r := httpapi.NewRouter(nil, nil)
	api.RegisterIngest(r, nil)
	api.RegisterRead(r, api.ReadDeps{})
	api.RegisterReferrals(r, nil)
	api.RegisterMarketing(r, nil, nil, nil)
	api.RegisterVouchers(r, nil, "")
	api.RegisterClicks(r, nil)
	api.RegisterErase(r, nil)
	return r.Routes()
}

// missing lists the elements of want that are not in have.
func missing(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

// Every route the template or a router serves is in the spec, and every route of the spec is
// served by a function of the template and a router.
func TestSpecDescribesEveryRoute(t *testing.T) {
	spec := loadSpec(t)
	tpl, err := template.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for route := range tpl.HTTPRoutes() {
		served = append(served, route)
	}
	slices.Sort(served)
	if len(served) == 0 {
		t.Fatal("the template declares no HTTP routes")
	}
	documented := spec.RouteKeys()
	routers := routerRoutes()
	for _, r := range missing(served, documented) {
		t.Errorf("template.yaml routes %q but docs/openapi.yaml does not describe it", r)
	}
	for _, r := range missing(routers, documented) {
		t.Errorf("a router handles %q but docs/openapi.yaml does not describe it", r)
	}
	for _, r := range missing(documented, served) {
		t.Errorf("docs/openapi.yaml describes %q but no function of template.yaml serves it", r)
	}
	for _, r := range missing(documented, routers) {
		t.Errorf("docs/openapi.yaml describes %q but no router handles it", r)
	}
	t.Logf("%d routes: template %d, routers %d, spec %d", len(served), len(served), len(routers), len(documented))
}

// Every /v1 operation needs the API key and names its scope; the click link is public.
func TestSpecSecurity(t *testing.T) {
	spec := loadSpec(t)
	if spec.Doc.Components.SecuritySchemes["apiKey"] == nil {
		t.Fatal("no apiKey security scheme")
	}
	for path, item := range spec.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			public := op.Security != nil && len(*op.Security) == 0
			scope, _ := op.Extensions["x-scope"].(string)
			switch {
			case path == "/r/{code}":
				if !public {
					t.Errorf("%s %s must be public (security: [])", method, path)
				}
			case public:
				t.Errorf("%s %s is public but needs an API key", method, path)
			case !slices.Contains([]string{"ingest", "read", "admin"}, scope):
				t.Errorf("%s %s: x-scope %q, want ingest, read or admin", method, path, scope)
			}
		}
	}
}

// Each operation's x-scope is the scope its router checks: a key with just that scope gets
// past the key check, a key with only another (non-admin) scope gets a 403, no key a 401.
func TestSpecScopesMatchRouters(t *testing.T) {
	spec := loadSpec(t)
	r := apiRouter(t, customersFake{c: anna(t)})
	scopeKeys := map[string]string{"ingest": "ingest-key", "read": "read-key", "admin": "admin-key"}
	n := 0
	for path, item := range spec.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			scope, _ := op.Extensions["x-scope"].(string)
			if scope == "" {
				continue
			}
			routeKey := method + " " + path
			raw := strings.NewReplacer("{id}", "cust-anna", "{order_id}", "ord-9001", "{segment}", "ambassador", "{code}", "ABC-123").Replace(path)
			status := func(key string) int {
				resp, err := r.Serve(context.Background(), call{routeKey: routeKey, path: raw, key: key}.event())
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode
			}
			if got := status(scopeKeys[scope]); got == 401 || got == 403 {
				t.Errorf("%s: x-scope %s, but a key with that scope gets %d", routeKey, scope, got)
			}
			for other, key := range scopeKeys {
				if other == scope || other == "admin" {
					continue
				}
				if got := status(key); got != 403 {
					t.Errorf("%s: x-scope %s, but a key with only %s gets %d, want 403", routeKey, scope, other, got)
				}
			}
			if got := status(""); got != 401 {
				t.Errorf("%s: no key gets %d, want 401", routeKey, got)
			}
			n++
		}
	}
	t.Logf("%d operations' scopes checked", n)
}
