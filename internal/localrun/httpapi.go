package localrun

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// maxRequestBody is API Gateway's payload limit.
const maxRequestBody = 10 << 20

// httpAPI serves the template's HttpApi routes as API Gateway (HTTP API, payload 2.0) would.
type httpAPI struct {
	s      *Stack
	routes []*route
}

func (a *httpAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_local/schedules/fire" {
		a.fireSchedules(w, r)
		return
	}
	if r.URL.Path == "/_local/health" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
		return
	}
	began := time.Now()
	var rt *route
	var params map[string]string
	for _, c := range a.routes {
		if p, ok := c.match(r.Method, r.URL.Path); ok {
			rt, params = c, p
			break
		}
	}
	if rt == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Bad Request"})
		return
	}
	trigger := "http " + rt.Key
	if len(body) > maxRequestBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Entity Too Large"})
		a.s.logInvocation(rt.Function.LogicalID, trigger, began, "413 (not invoked)")
		return
	}
	ev := a.event(r, rt, params, body, began)
	payload, _ := json.Marshal(ev)
	f := a.s.runners[rt.Function.LogicalID]
	// The invocation outlives a client that hangs up, as on AWS; only Close cancels it.
	out, err := f.invoke(a.s.ctx, payload)
	if err != nil {
		status := http.StatusInternalServerError
		var fe *FunctionError
		if errors.As(err, &fe) && fe.Type == "RequestEntityTooLargeException" {
			status = http.StatusRequestEntityTooLarge
			writeJSON(w, status, map[string]string{"message": "Request Entity Too Large"})
		} else {
			writeJSON(w, status, map[string]string{"message": "Internal Server Error"})
		}
		a.s.logInvocation(rt.Function.LogicalID, trigger, began, fmt.Sprintf("%d error: %v", status, err))
		return
	}
	status := a.writeResponse(w, out)
	a.s.logInvocation(rt.Function.LogicalID, trigger, began, strconv.Itoa(status))
}

// event builds the API Gateway HTTP API payload 2.0 request.
func (a *httpAPI) event(r *http.Request, rt *route, params map[string]string, body []byte, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	host := r.Host
	headers["host"] = host
	if len(body) > 0 || r.ContentLength > 0 {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	sourceIP, port, _ := net.SplitHostPort(r.RemoteAddr)
	_, localPort, _ := net.SplitHostPort(host)
	if localPort == "" {
		localPort = strconv.Itoa(a.s.apiPort)
	}
	if xff := headers["x-forwarded-for"]; xff != "" {
		headers["x-forwarded-for"] = xff + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	_ = port
	headers["x-forwarded-port"] = localPort
	headers["x-forwarded-proto"] = "http"
	headers["x-amzn-trace-id"] = "Root=1-" + strconv.FormatInt(now.Unix(), 16) + "-" + strings.ReplaceAll(newID(), "-", "")[:24]

	var qsp map[string]string
	if r.URL.RawQuery != "" {
		qsp = map[string]string{}
		q := r.URL.Query()
		for k, vs := range q {
			qsp[k] = strings.Join(vs, ",")
		}
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.Key,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: qsp,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rt.Key,
			AccountID:    AccountID,
			Stage:        "$default",
			RequestID:    strings.ReplaceAll(newID(), "-", "")[:16] + "=",
			APIID:        "local",
			DomainName:   host,
			DomainPrefix: strings.Split(host, ".")[0],
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.EscapedPath(),
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// writeResponse turns the function's result into the HTTP response, as API Gateway does for
// payload 2.0: a JSON object with statusCode is a structured response; anything else is a 200
// with the result as a JSON body.
func (a *httpAPI) writeResponse(w http.ResponseWriter, out []byte) int {
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
		return http.StatusOK
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		return http.StatusInternalServerError
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
			return http.StatusInternalServerError
		}
		body = b
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return resp.StatusCode
}

func (a *httpAPI) fireSchedules(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "use POST"})
		return
	}
	fired, err := a.s.FireSchedules(r.Context(), r.URL.Query().Get("rule"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": err.Error(), "rules": a.s.ScheduleRules()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"fired": fired})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func sortedRouteKeys(rs []*route) []string {
	var keys []string
	for _, r := range rs {
		keys = append(keys, r.Key+" -> "+r.Function.LogicalID)
	}
	sort.Strings(keys)
	return keys
}
