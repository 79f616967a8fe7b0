package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
)

type memStore map[string]bool

func (m memStore) PutNew(_ context.Context, in interaction.Interaction, _ time.Time) (Found, error) {
	if m[in.EventID] {
		return Found{Stored: DuplicatePending}, nil
	}
	m[in.EventID] = true
	return Found{Stored: Created}, nil
}

func (m memStore) Remove(_ context.Context, in interaction.Interaction) error {
	delete(m, in.EventID)
	return nil
}

type memQueue struct{ envs []interaction.Envelope }

func (q *memQueue) Enqueue(_ context.Context, envs []interaction.Envelope) error {
	q.envs = append(q.envs, envs...)
	return nil
}

// Purchases carrying a referral_code, and refunds, also go to the referral queue, one envelope
// each, replays included; nothing else does.
func TestReferralPurchasesEnqueued(t *testing.T) {
	rescore, redeem := &memQueue{}, &memQueue{}
	svc, err := New(memStore{}, rescore, 400*24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.WithReferrals(redeem)
	body := []byte(`{"interactions":[
	 {"event_id":"p1","customer_id":"marco","type":"purchase","occurred_at":"2026-11-01T10:00:00Z","properties":{"order_id":"o1","total":4900,"currency":"EUR","referral_code":"ANNA-7KQ2XH"}},
	 {"event_id":"p2","customer_id":"marco","type":"purchase","occurred_at":"2026-11-02T10:00:00Z","properties":{"order_id":"o2","total":100,"currency":"EUR"}},
	 {"event_id":"s1","customer_id":"lena","type":"signup","occurred_at":"2026-11-02T10:00:00Z","properties":{"referral_code":"ANNA-7KQ2XH"}},
	 {"event_id":"r1","customer_id":"marco","type":"refund","occurred_at":"2026-11-03T10:00:00Z","properties":{"order_id":"o1","amount":4900}}]}`)
	for range 2 {
		if _, err := svc.Record(context.Background(), body); err != nil {
			t.Fatal(err)
		}
	}
	if len(redeem.envs) != 4 {
		t.Fatalf("%d referral envelopes, want 4 (the purchase, the refund and their replays)", len(redeem.envs))
	}
	types := map[interaction.Type]int{}
	for _, e := range redeem.envs {
		if e.CustomerID != "marco" || len(e.Interactions) != 1 || e.Interactions[0].Properties.OrderID != "o1" || e.Version != interaction.EnvelopeVersion {
			t.Errorf("%+v", e)
		}
		types[e.Interactions[0].Type]++
	}
	if types[interaction.Purchase] != 2 || types[interaction.Refund] != 2 {
		t.Errorf("envelopes by type %v", types)
	}
	if len(rescore.envs) == 0 {
		t.Error("nothing sent for rescoring")
	}
}
