// Package api registers the HTTP routes of each API function on an httpapi.Router. The same
// registration serves the Lambda and the template test that checks every route has a handler.
package api

import (
	"context"
	"net/http"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
)

// Recorder records interactions (ingest.Service).
type Recorder interface {
	Record(ctx context.Context, body []byte) (ingest.Result, error)
}

// RegisterIngest adds the record-interaction function's routes.
func RegisterIngest(r *httpapi.Router, rec Recorder) {
	r.Handle("POST /v1/interactions", apikey.ScopeIngest, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		body, err := httpapi.Body(req, interaction.MaxBody)
		if err != nil {
			return httpapi.Response{}, err
		}
		res, err := rec.Record(ctx, body)
		if err != nil {
			return httpapi.Response{}, err
		}
		return httpapi.JSON(http.StatusAccepted, res)
	})
}

// CustomerFinder reads customer aggregates (dynamostore.Customers).
type CustomerFinder interface {
	Find(ctx context.Context, customerID string) (*aggregate.Customer, time.Time, error)
}

// CustomerView is the body of GET /v1/customers/{id}.
type CustomerView struct {
	*aggregate.Customer
	AverageBasket   int64     `json:"average_basket"`
	BasketCurrency  string    `json:"basket_currency"`
	BasketTrend     float64   `json:"basket_trend"`
	FiveStarReviews int       `json:"five_star_reviews"`
	Reviews         int       `json:"reviews"`
	SharesTotal     int       `json:"shares"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// RegisterRead adds the read API function's routes.
func RegisterRead(r *httpapi.Router, customers CustomerFinder, defaultCurrency string) {
	r.Handle("GET /v1/customers/{id}", apikey.ScopeRead, func(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
		id := req.PathParameters["id"]
		if id == "" || len(id) > 128 {
			return httpapi.Response{}, apperr.Invalid("id", "customer id must be 1-128 characters")
		}
		c, updated, err := customers.Find(ctx, id)
		if err != nil {
			return httpapi.Response{}, err
		}
		cur := c.PrimaryCurrency(defaultCurrency)
		return httpapi.JSON(http.StatusOK, CustomerView{
			Customer: c, AverageBasket: c.AverageBasket(cur), BasketCurrency: cur,
			BasketTrend: c.BasketTrend(cur), FiveStarReviews: c.FiveStarReviews(), Reviews: c.Reviews(),
			SharesTotal: c.SharesTotal(), UpdatedAt: updated,
		})
	})
}
