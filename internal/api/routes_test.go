package api

import (
	"slices"
	"sort"
	"testing"

	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/template"
)

// registrations lists, per HTTP function of template.yaml, what its main.go registers.
var registrations = map[string]func(r *httpapi.Router){
	"RecordInteractionFunction": func(r *httpapi.Router) { RegisterIngest(r, nil) },
	"ReadApiFunction":           func(r *httpapi.Router) { RegisterRead(r, ReadDeps{}) },
	"RedeemReferralFunction":    func(r *httpapi.Router) { RegisterReferrals(r, nil) },
	"MarketingApiFunction":      func(r *httpapi.Router) { RegisterMarketing(r, nil, nil, nil) },
	"IssueVoucherFunction":      func(r *httpapi.Router) { RegisterVouchers(r, nil, "") },
	"ClickRedirectFunction":     func(r *httpapi.Router) { RegisterClicks(r, nil) },
	"EraseCustomerFunction":     func(r *httpapi.Router) { RegisterErase(r, nil) },
}

// Every route the template sends to a function has a handler in that function's router, and
// every handler has a route in the template.
func TestTemplateRoutesHaveHandlers(t *testing.T) {
	tpl, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	byFunction := map[string][]string{}
	for route, fn := range tpl.HTTPRoutes() {
		byFunction[fn] = append(byFunction[fn], route)
	}
	if len(byFunction) == 0 {
		t.Fatal("the template declares no HTTP routes")
	}
	for fn, routes := range byFunction {
		register, ok := registrations[fn]
		if !ok {
			t.Errorf("%s serves %v but has no router registration in this test", fn, routes)
			continue
		}
		r := httpapi.NewRouter(nil, nil)
		register(r)
		sort.Strings(routes)
		if got := r.Routes(); !slices.Equal(got, routes) {
			t.Errorf("%s: template routes %v, router handles %v", fn, routes, got)
		}
	}
	for fn := range registrations {
		if _, ok := byFunction[fn]; !ok {
			t.Errorf("%s registers routes but the template sends it none", fn)
		}
	}
}
