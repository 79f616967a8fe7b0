package api

import (
	"context"
	"strings"
	"testing"

	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/httpapi"
)

type eraseFunc func(ctx context.Context, id string) (*erase.Result, error)

func (f eraseFunc) Erase(ctx context.Context, id string) (*erase.Result, error) { return f(ctx, id) }

func TestEraseRoute(t *testing.T) {
	r := httpapi.NewRouter(keys, nil)
	RegisterErase(r, eraseFunc(func(_ context.Context, id string) (*erase.Result, error) {
		if id == "nobody" {
			return nil, erase.ErrNotFound
		}
		return &erase.Result{CustomerID: id, Pseudonym: "erased-x", Erased: erase.Counts{Interactions: 3}}, nil
	}))
	for _, tc := range []struct {
		id, key string
		status  int
		body    string
	}{
		{"cust-anna", "local-dev-key", 200, `"interactions_deleted":3`},
		{"cust-anna", "ingest-only", 403, "admin"},
		{"cust-anna", "", 401, ""},
		{"nobody", "local-dev-key", 404, "not_found"},
		{strings.Repeat("x", 129), "local-dev-key", 400, "id"},
	} {
		req := httpapi.Request{RouteKey: "DELETE /v1/customers/{id}", PathParameters: map[string]string{"id": tc.id},
			Headers: map[string]string{"x-api-key": tc.key}}
		resp, _ := r.Serve(context.Background(), req)
		if resp.StatusCode != tc.status || !strings.Contains(resp.Body, tc.body) {
			t.Errorf("%s with %q: %d %s, want %d containing %q", tc.id[:min(len(tc.id), 12)], tc.key, resp.StatusCode, resp.Body, tc.status, tc.body)
		}
	}
}
