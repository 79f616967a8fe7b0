package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/httpapi"
)

// Eraser erases a customer's personal data (erase.Eraser).
type Eraser interface {
	Erase(ctx context.Context, customerID string) (*erase.Result, error)
}

// RegisterErase serves DELETE /v1/customers/{id} (scope admin): 200 with what was erased, also
// when an earlier erasure had done it all (already_erased); 404 when nothing was ever known.
func RegisterErase(r *httpapi.Router, e Eraser) {
	r.Handle("DELETE /v1/customers/{id}", apikey.ScopeAdmin, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		id := req.PathParameters["id"]
		if strings.TrimSpace(id) == "" || len(id) > 128 {
			return httpapi.Response{}, apperr.Invalid("id", "a customer id of 1 to 128 characters is required")
		}
		res, err := e.Erase(ctx, id)
		if errors.Is(err, erase.ErrNotFound) {
			return httpapi.Response{}, apperr.NotFound("no data of customer %s", id)
		}
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.JSON(http.StatusOK, res)
	})
}
