// Package apikeytest is an in-memory key checker for handler tests: keys by name, with their
// scopes, answering exactly as apikey.Checker does (missing, invalid, forbidden).
package apikeytest

import (
	"context"

	"github.com/referral-engine/referral-engine/internal/apikey"
)

// Checker maps each known key to its scopes.
type Checker map[string][]string

// Check implements the routers' key checker.
func (c Checker) Check(_ context.Context, key, scope string) (*apikey.Record, error) {
	if key == "" {
		return nil, apikey.ErrMissing
	}
	scopes, ok := c[key]
	if !ok {
		return nil, apikey.ErrInvalid
	}
	r := apikey.Record{KeyHash: apikey.Hash(key), Scopes: scopes}
	if !r.Allows(scope) {
		return nil, apikey.ErrForbidden
	}
	return &r, nil
}
