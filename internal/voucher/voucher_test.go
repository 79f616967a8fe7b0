package voucher

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/scoring"
)

func TestDefaultRules(t *testing.T) {
	r := DefaultRules()
	for _, tc := range []struct {
		program, segment string
		days, limit      int
		friend, referrer string
	}{
		{"ambassador", "ambassador", 90, 10, "percent_off", "loyalty_points"},
		{"accelerator", "future_ambassador", 60, 5, "percent_off", "free_product"},
		{"loyalty", "opportunist", 30, 3, "percent_off", "percent_off"},
	} {
		tm, ok := r.Terms(tc.program)
		if !ok {
			t.Fatalf("no terms for %s", tc.program)
		}
		if tm.ValidFor != time.Duration(tc.days)*24*time.Hour || tm.UseLimit != tc.limit || tm.Prefix != "" {
			t.Errorf("%s: %+v", tc.program, tm)
		}
		if tm.FriendOffer.Type != tc.friend || tm.ReferrerReward.Type != tc.referrer || tm.FriendOffer.Description == "" {
			t.Errorf("%s offers: %+v / %+v", tc.program, tm.FriendOffer, tm.ReferrerReward)
		}
		if got := r.ProgramForSegment(tc.segment); got != tc.program {
			t.Errorf("ProgramForSegment(%s) = %s", tc.segment, got)
		}
	}
	if tm, _ := r.Terms("ambassador"); tm.FriendOffer.Value != 15 || tm.ReferrerReward.Value != 500 {
		t.Errorf("ambassador offers %+v", tm)
	}
	if got := r.Programs(); strings.Join(got, ",") != "accelerator,ambassador,loyalty" {
		t.Errorf("Programs() = %v", got)
	}
}

func TestCustomerProgram(t *testing.T) {
	r := DefaultRules()
	for _, tc := range []struct{ program, segment, want string }{
		{"ambassador", "", "ambassador"},
		{"", "opportunist", "loyalty"},
		{"", "ambassador", "ambassador"},
		{"", "", "accelerator"},
		{"nonsense", "nonsense", "accelerator"},
		{"loyalty", "ambassador", "loyalty"},
	} {
		if got := r.CustomerProgram(tc.program, tc.segment); got != tc.want {
			t.Errorf("CustomerProgram(%q, %q) = %q, want %q", tc.program, tc.segment, got, tc.want)
		}
	}
}

func TestRulesOverride(t *testing.T) {
	cfg := scoring.Default()
	r, err := NewRules(cfg, `{"ambassador":{"valid_days":120},"loyalty":{"prefix":"vip"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if tm, _ := r.Terms("ambassador"); tm.ValidFor != 120*24*time.Hour || tm.UseLimit != 10 {
		t.Errorf("ambassador %+v", tm)
	}
	if tm, _ := r.Terms("loyalty"); tm.Prefix != "VIP" {
		t.Errorf("loyalty %+v", tm)
	}
	for _, bad := range []string{
		`{`, `[]`, `{"ambassador":{"valid_days":0}}`, `{"ambassador":{"use_limit":-1}}`,
		`{"ambassador":{"days":3}}`, `{"gold":{"valid_days":3,"use_limit":1}}`, `{"loyalty":{"prefix":"V1P"}}`,
	} {
		if _, err := NewRules(cfg, bad); err == nil {
			t.Errorf("override %s accepted", bad)
		}
	}
	if _, err := NewRules(nil, ""); err == nil {
		t.Error("nil config accepted")
	}
}

func TestNewVoucher(t *testing.T) {
	r := DefaultRules()
	tm, _ := r.Terms("ambassador")
	now := time.Date(2026, 11, 23, 10, 0, 0, 500, time.UTC)
	v, err := New(Request{CustomerID: "cust-anna", Terms: tm, Reason: ReasonRequest, Prefix: PrefixFrom("Anna")}, "https://api.example.com/prod/", now)
	if err != nil {
		t.Fatal(err)
	}
	if v.Code.Prefix() != "ANNA" || v.ShareURL != "https://api.example.com/prod/r/"+string(v.Code) {
		t.Errorf("code %s url %s", v.Code, v.ShareURL)
	}
	if !v.ExpiresAt.Equal(now.Truncate(time.Second).Add(90*24*time.Hour)) || v.UseLimit != 10 || v.Uses != 0 || v.Status != StatusActive {
		t.Errorf("voucher %+v", v)
	}
	if !v.Usable(now) || !v.Current(now) || v.Usable(v.ExpiresAt) || v.Current(v.ExpiresAt) {
		t.Error("usable/current wrong around expiry")
	}
	v.Uses = v.UseLimit
	if v.Usable(now) || !v.Current(now) {
		t.Error("a voucher at its limit is current but not usable")
	}
	v2, _ := New(Request{CustomerID: "cust-anna", Terms: tm, Reason: ReasonCampaign}, "https://x", now)
	if v2.Code.Prefix() != "" || v2.Code == v.Code {
		t.Errorf("second code %s", v2.Code)
	}
	for _, bad := range []Request{
		{CustomerID: "", Terms: tm, Reason: ReasonRequest},
		{CustomerID: "a#b", Terms: tm, Reason: ReasonRequest},
		{CustomerID: strings.Repeat("x", 129), Terms: tm, Reason: ReasonRequest},
		{CustomerID: "c", Terms: Terms{}, Reason: ReasonRequest},
		{CustomerID: "c", Terms: tm, Reason: "because"},
		{CustomerID: "c", Terms: tm, Reason: ReasonRequest, Prefix: "X"},
	} {
		if _, err := New(bad, "https://x", now); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}

func TestCampaignID(t *testing.T) {
	a := CampaignID("ambassador", "", "ambassador", "")
	if a != CampaignID("ambassador", "", "ambassador", "") || !strings.HasPrefix(a, "cmp_") || len(a) != 24 {
		t.Errorf("campaign id %s", a)
	}
	others := []string{
		CampaignID("ambassador", "best_buyer", "ambassador", ""),
		CampaignID("ambassador", "", "accelerator", ""),
		CampaignID("ambassador", "", "ambassador", "spring"),
		CampaignID("ambassadorx", "", "mbassador", ""),
	}
	for _, o := range others {
		if o == a {
			t.Errorf("distinct campaigns share id %s", a)
		}
	}
}

func TestRedirectURL(t *testing.T) {
	q := url.Values{"utm_source": {"whatsapp"}, "ref": {"EVIL"}, "REF": {"EVIL"}, "lang": {"fr"}, strings.Repeat("k", 65): {"x"}}
	for _, tc := range []struct {
		storefront string
		code       Code
		query      url.Values
		want       string
	}{
		{"https://shop.example.com", "ANNA-7KQ2XHM4", nil, "https://shop.example.com?ref=ANNA-7KQ2XHM4"},
		{"https://shop.example.com/", "", nil, "https://shop.example.com/"},
		{"https://shop.example.com/?lang=de", "ABCDEFGH", q, "https://shop.example.com/?lang=de&ref=ABCDEFGH&utm_source=whatsapp"},
		{"https://shop.example.com/?ref=OLD", "", q, "https://shop.example.com/?lang=fr&utm_source=whatsapp"},
	} {
		if got := RedirectURL(tc.storefront, tc.code, tc.query); got != tc.want {
			t.Errorf("RedirectURL(%s, %s) = %s, want %s", tc.storefront, tc.code, got, tc.want)
		}
	}
}
