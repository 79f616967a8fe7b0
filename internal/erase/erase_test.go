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
