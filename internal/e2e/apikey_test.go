package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/apikey"
)

// A key made as scripts/apikey makes it: an ingest key records interactions but may not read;
// once revoked it is refused (401) within the functions' key cache TTL (1 s in this stack).
func TestCreatedIngestKeyAndRevocation(t *testing.T) {
	ctx := context.Background()
	table := stack.Resources["ApiKeysTable"]
	key, err := apikey.Create(ctx, stack.DynamoDB, table, "shopify-e2e", []string{apikey.ScopeIngest})
	if err != nil {
		t.Fatal(err)
	}
	body := func(n int) []byte {
		return fmt.Appendf(nil, `{"event_id":"ak-%d","customer_id":"ak-cust","type":"visit","occurred_at":"2026-11-01T10:00:00Z","properties":{"duration_seconds":30}}`, n)
	}
	if r := call(t, "POST", "/v1/interactions", body(1), key); r.Status != 202 {
		t.Fatalf("ingest key POST /v1/interactions: %d %s", r.Status, r.Body)
	}
	for _, path := range []string{"/v1/customers/ak-cust", "/v1/segments", "/v1/leaderboard", "/v1/stats/funnel"} {
		if r := call(t, "GET", path, nil, key); r.Status != 403 {
			t.Errorf("ingest key GET %s: %d %s, want 403", path, r.Status, r.Body)
		}
	}
	if r := call(t, "DELETE", "/v1/customers/ak-cust", nil, key); r.Status != 403 {
		t.Errorf("ingest key DELETE customer: %d %s, want 403", r.Status, r.Body)
	}

	recs, err := apikey.List(ctx, stack.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r.KeyHash == apikey.Hash(key) {
			found = r.Name == "shopify-e2e" && r.RevokedAt == "" && len(r.Scopes) == 1
		}
	}
	if !found {
		t.Fatalf("list: the new key is missing or wrong: %+v", recs)
	}

	rec, err := apikey.Revoke(ctx, stack.DynamoDB, table, key, time.Now())
	if err != nil || rec.RevokedAt == "" {
		t.Fatalf("revoke: %+v %v", rec, err)
	}
	// By hash, again: the first revocation time stays.
	if again, err := apikey.Revoke(ctx, stack.DynamoDB, table, apikey.Hash(key), time.Now().Add(time.Hour)); err != nil || again.RevokedAt != rec.RevokedAt {
		t.Fatalf("revoke again: %+v %v", again, err)
	}
	if _, err := apikey.Revoke(ctx, stack.DynamoDB, table, "rk_nosuchkey", time.Now()); err != apikey.ErrNotFound {
		t.Fatalf("revoke unknown: %v", err)
	}
	n := 2
	eventually(t, 10*time.Second, "the revoked key to be refused", func() bool {
		n++
		r := call(t, "POST", "/v1/interactions", body(n), key)
		return r.Status == 401
	})
}
