package erase

import (
	"strings"
	"testing"
	"time"
)

func TestPseudonym(t *testing.T) {
	salt := []byte("a-salt-of-16-bytes-at-least")
	a, b := Pseudonym(salt, "cust-anna"), Pseudonym(salt, "cust-anna")
	if a != b || !strings.HasPrefix(a, "erased-") || len(a) != len("erased-")+24 {
		t.Fatalf("pseudonym %q %q", a, b)
	}
	if Pseudonym(salt, "cust-bob") == a || Pseudonym([]byte("another-salt-of-16-bytes"), "cust-anna") == a {
		t.Fatal("pseudonyms collide across ids or salts")
	}
	if strings.Contains(a, "anna") {
		t.Fatal("pseudonym shows the id")
	}
}

func TestNewRejectsMissingWiring(t *testing.T) {
	all := Tables{Customers: "c", Interactions: "i", Vouchers: "v", Referrals: "r", Ledger: "l", Stats: "s"}
	if _, err := New(nil, all, "0123456789abcdef", time.Now); err == nil {
		t.Error("nil client accepted")
	}
	short := all
	short.Stats = ""
	if _, err := New(fakeClient{}, short, "0123456789abcdef", time.Now); err == nil {
		t.Error("missing table accepted")
	}
	if _, err := New(fakeClient{}, all, "short", time.Now); err == nil {
		t.Error("short salt accepted")
	}
	if _, err := New(fakeClient{}, all, "0123456789abcdef", nil); err != nil {
		t.Error(err)
	}
}

func TestCountsTotal(t *testing.T) {
	c := Counts{Interactions: 3, CustomerItems: 2, VouchersRevoked: 1, VoucherItems: 1, ClickCounters: 1, Guards: 4, Referrals: 2, RewardsVoided: 1, LedgerItems: 2, LeaderboardItems: 1}
	if c.Total() != 18 {
		t.Fatalf("total %d", c.Total())
	}
}

type fakeClient struct{ Client }

func TestIndexOwner(t *testing.T) {
	for _, tc := range []struct {
		kind, pk, sk, owner, code string
		ok                        bool
		referrer                  string
	}{
		{KindVouchers, "OWNER#cust-1#ambassador", "", "cust-1", "", true, ""},
		{KindVouchers, "OWNER#a#b#loyalty", "", "a#b", "", true, ""}, // the program is the last part
		{KindVouchers, "CLICK#ANNA-7KQ2XH#0f1e2d#2026112310", "", "", "ANNA-7KQ2XH", true, ""},
		{KindVouchers, "CODE#ANNA-7KQ2XH", "", "", "", false, ""}, // has customer_id since always
		{KindVouchers, "CAMPAIGN#cmp_1", "", "", "", false, ""},
		{KindVouchers, "OWNER#", "", "", "", false, ""},
		{KindReferrals, "CAP#cust-1#2026-11", "CAP", "cust-1", "", true, ""},
		{KindReferrals, "FP#abc", "C#cust-2", "cust-2", "", true, ""},
		{KindReferrals, "REF#r1", "REF", "cust-3", "", true, "cust-3"}, // under the referrer; friends through FRIEND#
		{KindReferrals, "REF#r2", "REF", "", "", false, ""},
		{KindReferrals, "ORDER#o1", "GUARD", "", "", false, ""},
		{KindReferrals, "FRIEND#cust-1", "GUARD", "", "", false, ""},
		{KindStats, "LB#2026-11-20#3", "cust-1", "cust-1", "", true, ""},
		{KindStats, "FUNNEL#ambassador#clicks#07", "N", "", "", false, ""},
		{KindStats, "SEG#ambassador#03", "N", "", "", false, ""},
	} {
		owner, code, ok := IndexOwner(tc.kind, tc.pk, tc.sk, tc.referrer)
		if owner != tc.owner || code != tc.code || ok != tc.ok {
			t.Errorf("IndexOwner(%s, %s, %s) = %q %q %v, want %q %q %v", tc.kind, tc.pk, tc.sk, owner, code, ok, tc.owner, tc.code, tc.ok)
		}
	}
}
