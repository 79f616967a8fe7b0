package referral

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/apperr"
)

const good = `{"code":"anna-7kq2xh","order_id":"ord-1","friend_customer_id":"cust-marco","friend_email":" Marco@Example.com ","order_total":4900,"currency":"EUR","fingerprints":{"payment":"pm_5f2a9c1e7b","device":"dev-0a1b2c3d4e"}}`

func TestDecodeRedemption(t *testing.T) {
	r, err := DecodeRedemption([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := EmailHash("marco@example.com")
	if r.Code != "ANNA-7KQ2XH" || r.OrderID != "ord-1" || r.FriendCustomerID != "cust-marco" || r.OrderTotal != 4900 ||
		r.Currency != "EUR" || r.FriendEmailHash != want || len(want) != 64 || r.Fingerprints.Payment != "pm_5f2a9c1e7b" {
		t.Fatalf("%+v", r)
	}
	if strings.Contains(r.FriendEmailHash, "marco") {
		t.Fatal("email in clear")
	}
}

func TestDecodeRedemptionErrors(t *testing.T) {
	set := func(k string, v any) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(good), &m)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, tc := range []struct{ body, field, code string }{
		{`{`, "body", apperr.CodeInvalidJSON},
		{`[]`, "body", apperr.CodeInvalidJSON},
		{good + good, "body", apperr.CodeInvalidJSON},
		{set("code", nil), "code", apperr.CodeInvalidField},
		{set("code", "a b"), "code", apperr.CodeInvalidField},
		{set("order_id", nil), "order_id", apperr.CodeInvalidField},
		{set("order_id", ""), "order_id", apperr.CodeInvalidField},
		{set("friend_customer_id", 12), "friend_customer_id", apperr.CodeInvalidField},
		{set("friend_email", nil), "friend_email", apperr.CodeInvalidField},
		{set("friend_email", "not-an-email"), "friend_email", apperr.CodeInvalidField},
		{set("friend_email", "Marco <m@example.com>"), "friend_email", apperr.CodeInvalidField},
		{set("order_total", nil), "order_total", apperr.CodeInvalidField},
		{set("order_total", -1), "order_total", apperr.CodeInvalidField},
		{set("order_total", 1.5), "order_total", apperr.CodeInvalidField},
		{set("order_total", "12"), "order_total", apperr.CodeInvalidField},
		{set("currency", "eur"), "currency", apperr.CodeInvalidField},
		{set("currency", nil), "currency", apperr.CodeInvalidField},
		{set("fingerprints", "x"), "fingerprints", apperr.CodeInvalidField},
		{set("fingerprints", map[string]any{"iban": "DE12345678"}), "fingerprints.iban", apperr.CodeInvalidField},
		{set("fingerprints", map[string]any{"payment": "4111 1111"}), "fingerprints.payment", apperr.CodeInvalidField},
		{set("fingerprints", map[string]any{"device": 3}), "fingerprints.device", apperr.CodeInvalidField},
		{set("extra", 1), "extra", apperr.CodeInvalidField},
	} {
		_, err := DecodeRedemption([]byte(tc.body))
		e, ok := apperr.As(err)
		if !ok || e.Status != 400 || e.Field != tc.field || e.Code != tc.code {
			t.Errorf("%s: got %v, want %s on %s", tc.body, err, tc.code, tc.field)
		}
	}
}

func TestEmailAliasesHashAlike(t *testing.T) {
	h := func(e string) string {
		t.Helper()
		v, err := EmailHash(e)
		if err != nil {
			t.Fatal(e, err)
		}
		return v
	}
	for _, same := range [][2]string{
		{"Anna@Example.com", "anna@example.com"},
		{"anna+friends@example.com", "anna@example.com"},
		{"a.n.na+x@googlemail.com", "anna@gmail.com"},
	} {
		if h(same[0]) != h(same[1]) {
			t.Errorf("%s and %s hash apart", same[0], same[1])
		}
	}
	if h("a.nna@example.com") == h("anna@example.com") {
		t.Error("dots matter outside Gmail")
	}
}

func TestFingerprintsHashedWithSalt(t *testing.T) {
	fp := Fingerprints{Payment: "pm_5f2a9c1e7b", Device: "dev-0a1b2c3d4e"}
	a, b := fp.Hashed([]byte("salt-a")), fp.Hashed([]byte("salt-b"))
	if len(a) != 2 || a[Payment] == b[Payment] || a[Payment] == fp.Payment || a[Address] != "" {
		t.Fatalf("%v %v", a, b)
	}
	if a[Payment] != fp.Hashed([]byte("salt-a"))[Payment] {
		t.Fatal("not deterministic")
	}
}

func TestRules(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	code := func(f func(c *Code)) *Code {
		c := &Code{Code: "ANNA-7KQ2XH", CustomerID: "cust-anna", Program: "ambassador", Status: "active", ExpiresAt: now.Add(time.Hour), UseLimit: 5, Uses: 1}
		if f != nil {
			f(c)
		}
		return c
	}
	red := Redemption{Code: "ANNA-7KQ2XH", OrderID: "o1", FriendCustomerID: "cust-marco", FriendEmailHash: "h-marco"}
	for _, tc := range []struct {
		name   string
		c      *Code
		f      Friend
		r      Redemption
		reason string
	}{
		{"ok", code(nil), Friend{}, red, ""},
		{"ok: this order already applied", code(nil), Friend{Orders: 1, ThisOrderCounted: true}, red, ""},
		{"unknown", nil, Friend{}, red, UnknownCode},
		{"expired", code(func(c *Code) { c.ExpiresAt = now }), Friend{}, red, CodeExpired},
		{"revoked", code(func(c *Code) { c.Status = "revoked" }), Friend{}, red, CodeExpired},
		{"limit", code(func(c *Code) { c.Uses = 5 }), Friend{}, red, CodeLimitReached},
		{"no limit", code(func(c *Code) { c.UseLimit = 0; c.Uses = 100 }), Friend{}, red, ""},
		{"self by id", code(nil), Friend{}, Redemption{FriendCustomerID: "cust-anna"}, SelfReferral},
		{"self by email", code(func(c *Code) { c.ReferrerEmailHash = "h-marco" }), Friend{}, red, SelfReferral},
		{"not first", code(nil), Friend{Orders: 1}, red, NotFirstPurchase},
		{"not first, this counted", code(nil), Friend{Orders: 2, ThisOrderCounted: true}, red, NotFirstPurchase},
	} {
		err := CheckCode(tc.c, now)
		if err == nil {
			err = CheckParties(tc.r, tc.c, tc.f)
		}
		got := ""
		if r, ok := AsRefusal(err); ok {
			got = r.Reason
			if e, _ := apperr.As(HTTP(err)); e.Status != 422 || e.Code != r.Reason {
				t.Errorf("%s: HTTP %v", tc.name, e)
			}
		}
		if got != tc.reason {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.reason)
		}
	}
}

func TestTermsAndIDs(t *testing.T) {
	terms := DefaultTerms()
	if err := terms.Validate(); err != nil {
		t.Fatal(err)
	}
	c := &Code{Program: "ambassador"}
	if r := terms.RewardFor(c); r.Type != PointsType || r.Points != 500 {
		t.Errorf("%+v", r)
	}
	c.ReferrerReward = map[string]any{"type": "loyalty_points", "value": 750.0}
	if r := terms.RewardFor(c); r.Points != 750 {
		t.Errorf("%+v", r)
	}
	c.ReferrerReward = map[string]any{"type": "event_invitation", "event": "launch"}
	if r := terms.RewardFor(c); r.Type != "event_invitation" || r.Points != 0 || r.Detail["event"] != "launch" {
		t.Errorf("%+v", r)
	}
	if ReferralID("o1") != ReferralID("o1") || ReferralID("o1") == ReferralID("o2") {
		t.Error("referral ids")
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	terms.ReturnWindow = 0
	ref := terms.New(Redemption{OrderID: "o1"}, c, now)
	if !ref.Due(now) || ref.Status != Pending {
		t.Error("0-day window is due at once")
	}
	if p, err := ParsePoints("ambassador=5, loyalty=1"); err != nil || p["ambassador"] != 5 || p["loyalty"] != 1 {
		t.Error(p, err)
	}
	if _, err := ParsePoints("x"); err == nil {
		t.Error("bad points accepted")
	}
	if Month(now) != "2026-11" || Day(now) != "2026-11-23" {
		t.Error("periods")
	}
	for i := range 100 {
		if s := Shard(string(rune(i)), 16); s < 0 || s >= 16 {
			t.Fatal(s)
		}
	}
}

// FuzzDecodeRedemption: the decoder never panics; what it accepts is valid and normalised,
// re-encodes to a body it accepts again identically, and never keeps the email in clear; what
// it refuses is a 400 naming a field.
func FuzzDecodeRedemption(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"code":"ab","order_id":"o","friend_customer_id":"c","friend_email":"a@b.co","order_total":0,"currency":"EUR"}`))
	f.Add([]byte(`{"fingerprints":null}`))
	f.Add([]byte(`{"code":"ANNA-1","order_id":"o","friend_customer_id":"c","friend_email":"a@b.co","order_total":1e3,"currency":"EUR","fingerprints":{"payment":null}}`))
	f.Add([]byte(`{"order_total":99999999999999999999}`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRedemption(body)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Status != 400 || e.Field == "" || e.Message == "" {
				t.Fatalf("refusal is not a 400 naming a field: %#v", err)
			}
			return
		}
		if r.Code == "" || r.Code != strings.ToUpper(r.Code) || r.OrderID == "" || r.FriendCustomerID == "" ||
			len(r.FriendEmailHash) != 64 || len(r.Currency) != 3 || r.OrderTotal < 0 {
			t.Fatalf("accepted an invalid request: %+v", r)
		}
		if strings.Contains(string(body), r.FriendEmailHash) {
			t.Fatalf("hash appears in the body: %q", body)
		}
		// Re-encode with a stand-in email of the same hash class: fields survive a round trip.
		again, err := json.Marshal(map[string]any{"code": r.Code, "order_id": r.OrderID, "friend_customer_id": r.FriendCustomerID,
			"friend_email": "x@example.com", "order_total": r.OrderTotal, "currency": r.Currency, "fingerprints": r.Fingerprints})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeRedemption(again)
		if err != nil {
			t.Fatalf("re-encoded request refused: %v (%s)", err, again)
		}
		r2.FriendEmailHash = r.FriendEmailHash
		if r2 != r {
			t.Fatalf("round trip: %+v != %+v", r2, r)
		}
	})
}
