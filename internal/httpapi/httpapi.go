// Package httpapi turns API Gateway HTTP API (payload v2) requests into domain calls: it
// routes by route key, checks the API key and its scope before anything else, and maps
// domain errors to the JSON error body of SPEC §5.
package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/metrics"
)

// Request and Response are API Gateway's payload v2 types.
type (
	Request  = events.APIGatewayV2HTTPRequest
	Response = events.APIGatewayV2HTTPResponse
)

// HandlerFunc serves one route. Returning an *apperr.Error answers it to the client; any
// other error answers 500 and is logged.
type HandlerFunc func(ctx context.Context, req Request) (Response, error)

// KeyChecker checks API keys (apikey.Checker).
type KeyChecker interface {
	Check(ctx context.Context, key, scope string) (*apikey.Record, error)
}

type route struct {
	scope string // "" for public routes
	h     HandlerFunc
}

// Router dispatches on the request's route key, e.g. "POST /v1/interactions".
type Router struct {
	keys   KeyChecker
	routes map[string]route
	log    *slog.Logger
}

// NewRouter builds a router; keys may be nil only if every route is public.
func NewRouter(keys KeyChecker, log *slog.Logger) *Router {
	if log == nil {
		log = slog.Default()
	}
	return &Router{keys: keys, routes: map[string]route{}, log: log}
}

// Handle registers a route that needs an API key with scope.
func (r *Router) Handle(routeKey, scope string, h HandlerFunc) {
	if scope == "" {
		panic("httpapi: route " + routeKey + " needs a scope; use Public for public routes")
	}
	r.routes[routeKey] = route{scope: scope, h: h}
}

// Public registers a route that needs no API key.
func (r *Router) Public(routeKey string, h HandlerFunc) {
	r.routes[routeKey] = route{h: h}
}

// Routes lists the registered route keys, sorted.
func (r *Router) Routes() []string {
	out := make([]string, 0, len(r.routes))
	for k := range r.routes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Serve is the Lambda handler.
func (r *Router) Serve(ctx context.Context, req Request) (Response, error) {
	span := meter.Start()
	resp, code := r.serve(ctx, req)
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		metrics.Add(metrics.RequestsRefused, 1, "Route", req.RouteKey, "Reason", code)
	}
	r.log.InfoContext(ctx, "request", span.Attrs("route", req.RouteKey, "status", resp.StatusCode)...)
	return resp, nil
}

// serve answers req; code is the error code of an error answer.
func (r *Router) serve(ctx context.Context, req Request) (Response, string) {
	fail := func(err error) (Response, string) {
		code := apperr.CodeInternal
		if e, ok := apperr.As(err); ok {
			code = e.Code
		}
		return Error(ctx, r.log, err), code
	}
	rt, ok := r.routes[req.RouteKey]
	if !ok {
		return fail(&apperr.Error{Status: http.StatusNotFound, Code: apperr.CodeMethodMissing, Message: "no route " + req.RouteKey})
	}
	if rt.scope != "" {
		if err := r.authorize(ctx, req, rt.scope); err != nil {
			return fail(err)
		}
	}
	resp, err := rt.h(ctx, req)
	if err != nil {
		return fail(err)
	}
	return resp, ""
}

func (r *Router) authorize(ctx context.Context, req Request, scope string) error {
	if r.keys == nil {
		return errors.New("httpapi: no key checker for a route that needs a key")
	}
	_, err := r.keys.Check(ctx, Header(req, "x-api-key"), scope)
	switch {
	case errors.Is(err, apikey.ErrMissing):
		return apperr.Unauthorized("an API key is required in the x-api-key header")
	case errors.Is(err, apikey.ErrInvalid):
		return apperr.Unauthorized("the API key is not valid")
	case errors.Is(err, apikey.ErrForbidden):
		return apperr.Forbidden(fmt.Sprintf("the API key lacks the %q scope this route needs", scope))
	case err != nil:
		return fmt.Errorf("check api key: %w", err)
	}
	return nil
}

// Header returns a request header (API Gateway lower-cases names in payload v2).
func Header(req Request, name string) string {
	if v, ok := req.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Body returns the request body, decoded from base64 when API Gateway encoded it, refusing
// bodies over limit bytes with a 413.
func Body(req Request, limit int) ([]byte, error) {
	if len(req.Body) > limit*4/3+4 {
		return nil, apperr.TooLarge("body", "request body is over the limit of %d bytes", limit)
	}
	b := []byte(req.Body)
	if req.IsBase64Encoded {
		var err error
		if b, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, apperr.BadJSON("body", "body is not valid base64")
		}
	}
	if len(b) > limit {
		return nil, apperr.TooLarge("body", "request body is %d bytes; the limit is %d", len(b), limit)
	}
	return b, nil
}

// JSON answers status with v as the JSON body.
func JSON(status int, v any) (Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Response{}, fmt.Errorf("marshal response: %w", err)
	}
	return Response{StatusCode: status, Headers: map[string]string{"content-type": "application/json"}, Body: string(b)}, nil
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error answers err: an *apperr.Error as itself, anything else as a logged 500 or 503.
func Error(ctx context.Context, log *slog.Logger, err error) Response {
	e, ok := apperr.As(err)
	if !ok {
		log.ErrorContext(ctx, "request failed", "error", err.Error())
		e = &apperr.Error{Status: http.StatusInternalServerError, Code: apperr.CodeInternal, Message: "internal error; the request can be retried"}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, apperr.ErrConcurrentUpdate) {
			e = &apperr.Error{Status: http.StatusServiceUnavailable, Code: apperr.CodeUnavailable, Message: "temporarily unavailable; retry"}
		}
	}
	resp, _ := JSON(e.Status, errorBody{Error: errorDetail{Code: e.Code, Field: e.Field, Message: e.Message}})
	return resp
}

// NewKeyedRouter is NewRouter with the API keys of keysTable checked through a cache whose
// lifetime is apikey.CacheTTLFromEnv: the wiring every API function shares.
func NewKeyedRouter(db apikey.Getter, keysTable string, log *slog.Logger) (*Router, error) {
	keys, err := apikey.NewCheckerFromEnv(db, keysTable)
	if err != nil {
		return nil, err
	}
	return NewRouter(keys, log), nil
}
