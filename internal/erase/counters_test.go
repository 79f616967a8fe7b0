package erase_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/scoring"
)

// Erasing a segmented customer takes them out of the segment counters once: a retried erasure
// finds no PROFILE and takes nothing out again.
func TestEraseTakesTheCustomerOutOfTheSegmentCounters(t *testing.T) {
	if testing.Short() {
		t.Skip("needs DynamoDB Local")
	}
	ctx := context.Background()
	cs, err := dynamostore.NewCustomers(stack.DynamoDB, stack.Resources["CustomersTable"])
	if err == nil {
		cs, err = cs.WithCounters(stack.Resources["StatsTable"])
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"er-anna", "er-bo"} {
		c, rev, err := cs.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c.Result = scoring.Result{Segment: "future_ambassador", SubSegments: []string{"lapsed"}, At: time.Now()}
		if err := cs.Put(ctx, c, rev, rev, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	counts := func() map[string]int {
		all, err := cs.SegmentCounts(ctx, []string{"future_ambassador"})
		if err != nil {
			t.Fatal(err)
		}
		c := all["future_ambassador"]
		return map[string]int{"members": c.Members, "lapsed": c.SubSegments["lapsed"]}
	}
	if got := counts(); !maps.Equal(got, map[string]int{"members": 2, "lapsed": 2}) {
		t.Fatalf("before: %v", got)
	}
	phys := map[string]string{}
	for _, id := range tables {
		phys[id] = stack.Resources[id]
	}
	e, err := erase.New(stack.DynamoDB, erase.Tables{Customers: phys["CustomersTable"], Interactions: phys["InteractionsTable"], Vouchers: phys["VouchersTable"],
		Referrals: phys["ReferralsTable"], Ledger: phys["LedgerTable"], Stats: phys["StatsTable"]}, "a-salt-of-16-bytes-at-least", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		res, err := e.Erase(ctx, "er-anna")
		if err != nil {
			t.Fatalf("erase %d: %v", i, err)
		}
		if i == 1 && !res.AlreadyErased {
			t.Errorf("the second erasure: %+v", res)
		}
		if got := counts(); !maps.Equal(got, map[string]int{"members": 1, "lapsed": 1}) {
			t.Fatalf("after erasure %d: %v", i+1, got)
		}
	}
}
