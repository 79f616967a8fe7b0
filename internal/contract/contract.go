// Package contract checks the HTTP API against its OpenAPI description, docs/openapi.yaml:
// every route the template and the routers serve is described and nothing else is, the sample
// requests of events/ match the request schemas, and the handlers' real answers (in-process with
// fakes, and from the local stack) match the response schemas, statuses and content types.
//
// The package holds only this loader and a validator; the checks are its tests.
package contract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	// The CSV export of GET /v1/segments/{segment}/customers is described as a string.
	openapi3filter.RegisterBodyDecoder("text/csv", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
}

// Spec is a loaded, validated OpenAPI document with a router over its paths.
type Spec struct {
	Doc    *openapi3.T
	router routers.Router
}

// Load reads and validates the OpenAPI document at path.
func Load(ctx context.Context, path string) (*Spec, error) {
	loader := &openapi3.Loader{Context: ctx}
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("validate %s: %w", path, err)
	}
	// Route on paths alone: requests are matched whatever server they were sent to.
	bare := *doc
	bare.Servers = nil
	r, err := legacy.NewRouter(&bare)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	return &Spec{Doc: doc, router: r}, nil
}

// RouteKeys lists the document's operations as API Gateway route keys ("GET /v1/programs"),
// sorted.
func (s *Spec) RouteKeys() []string {
	var out []string
	for path, item := range s.Doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// Request is an HTTP request to check, as API Gateway would pass it on.
type Request struct {
	Method   string
	Path     string // raw path, e.g. /v1/customers/cust-anna
	RawQuery string
	Header   http.Header
	Body     []byte
}

// Response is an HTTP answer to check.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Route finds the operation serving req and its path parameters.
func (s *Spec) Route(req Request) (*routers.Route, map[string]string, error) {
	hr, err := req.http()
	if err != nil {
		return nil, nil, err
	}
	return s.router.FindRoute(hr)
}

func (req Request) http() (*http.Request, error) {
	u := &url.URL{Scheme: "http", Host: "127.0.0.1:3000", Path: req.Path, RawQuery: req.RawQuery}
	hr, err := http.NewRequest(req.Method, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	return hr, nil
}

// ValidateRequest checks req (path and query parameters, body) against its operation. The
// API key is not checked here: the routers' own tests do.
func (s *Spec) ValidateRequest(ctx context.Context, req Request) error {
	hr, err := req.http()
	if err != nil {
		return err
	}
	route, params, err := s.router.FindRoute(hr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	return openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
		Request: hr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	})
}

// ValidateResponse checks resp, the answer to req, against the operation's responses: the
// status must be documented, the content type listed, the body valid, required headers
// present; and every object member the body carries must be named by the schema (objects
// stay open to clients, SPEC allowing new optional fields, but an undocumented field here is
// documentation drift).
func (s *Spec) ValidateResponse(ctx context.Context, req Request, resp Response) error {
	hr, err := req.http()
	if err != nil {
		return err
	}
	route, params, err := s.router.FindRoute(hr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route},
		Status:                 resp.Status,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return err
	}
	ref := route.Operation.Responses.Status(resp.Status)
	if ref == nil || ref.Value == nil {
		return nil
	}
	mt := ref.Value.Content.Get(resp.Header.Get("content-type"))
	if mt == nil || mt.Schema == nil || !strings.Contains(resp.Header.Get("content-type"), "json") {
		return nil
	}
	v, err := decodeJSON(resp.Body)
	if err != nil {
		return err
	}
	if extra := Undocumented(mt.Schema, v, ""); len(extra) > 0 {
		return fmt.Errorf("response %d carries fields the spec does not name: %s", resp.Status, strings.Join(extra, ", "))
	}
	return nil
}
