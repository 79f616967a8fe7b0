package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/localrun/localruntest"
)

var stack *localrun.Stack

func TestMain(m *testing.M) {
	localruntest.Tables{Name: "apikeycmd", Prefix: "ak-", Tables: []string{"ApiKeysTable"}}.Main(m, &stack, nil)
}

func cmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	full := append([]string{"-endpoint", stack.DynamoDBEndpoint, "-table", stack.Resources["ApiKeysTable"]}, args...)
	err := run(context.Background(), full, &out)
	return out.String(), err
}

// create prints the key once and stores its hash; list never shows a key; revoke takes a key or
// its hash; the checker then refuses the key.
func TestCreateListRevoke(t *testing.T) {
	out, err := cmd(t, "create", "-name", "shopify", "-scope", "ingest", "-scope", "read")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, "rk_") || len(key) != 35 {
		t.Fatalf("create printed %q", out)
	}
	checker, err := apikey.NewChecker(stack.DynamoDB, stack.Resources["ApiKeysTable"], 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := checker.Check(ctx, key, apikey.ScopeRead); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if _, err := checker.Check(ctx, key, apikey.ScopeAdmin); err != apikey.ErrForbidden {
		t.Fatalf("new key as admin: %v", err)
	}

	list, err := cmd(t, "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(list, key) || strings.Contains(list, apikey.Hash(key)) || !strings.Contains(list, apikey.Hash(key)[:12]) ||
		!strings.Contains(list, "ingest,read") || !strings.Contains(list, "shopify") {
		t.Fatalf("list:\n%s", list)
	}

	if _, err := cmd(t, "create", "-name", "x", "-scope", "superuser"); err == nil {
		t.Fatal("unknown scope accepted")
	}
	if _, err := cmd(t, "revoke", "rk_unknown"); err != apikey.ErrNotFound {
		t.Fatalf("revoke unknown: %v", err)
	}
	if out, err := cmd(t, "revoke", apikey.Hash(key)); err != nil || !strings.Contains(out, "revoked \"shopify\"") {
		t.Fatalf("revoke by hash: %q %v", out, err)
	}
	if _, err := checker.Check(ctx, key, apikey.ScopeRead); err != apikey.ErrInvalid {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := cmd(t, "revoke", key); err != nil {
		t.Fatalf("revoke again by key: %v", err)
	}
	list, _ = cmd(t, "list")
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "shopify") && strings.Contains(line, " - ") {
			t.Errorf("revoked key listed as active: %s", line)
		}
	}
}
