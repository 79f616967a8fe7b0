package localrun

import (
	"fmt"
	"sort"
	"strings"
)

// route is one HTTP API route: "POST /v1/interactions", "GET /v1/customers/{id}",
// "ANY /files/{proxy+}" or "$default".
type route struct {
	Function *functionSpec
	Method   string // upper case; "ANY" matches every method
	Path     string // "" for $default
	Key      string // the routeKey API Gateway reports
	segs     []string
}

func newRoute(method, p string) (*route, error) {
	if method == "" && p == "" {
		return &route{Method: "ANY", Key: "$default"}, nil
	}
	if method == "" {
		method = "ANY"
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("route path %q must start with /", p)
	}
	r := &route{Method: method, Path: p, Key: method + " " + p}
	if p != "/" {
		r.segs = strings.Split(strings.TrimPrefix(p, "/"), "/")
	}
	for i, s := range r.segs {
		if strings.HasSuffix(s, "+}") && i != len(r.segs)-1 {
			return nil, fmt.Errorf("route %s: a greedy {param+} must be the last segment", r.Key)
		}
	}
	return r, nil
}

func (r *route) isDefault() bool { return r.Key == "$default" }

// match reports whether the request's method and (decoded) path select this route, and the path
// parameters it binds.
func (r *route) match(method, p string) (map[string]string, bool) {
	if r.Method != "ANY" && r.Method != method {
		return nil, false
	}
	if r.isDefault() {
		return nil, true
	}
	var segs []string
	if t := strings.TrimPrefix(p, "/"); t != "" {
		segs = strings.Split(t, "/")
	}
	var params map[string]string
	for i, s := range r.segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}") {
			rest := segs[min(i, len(segs)):]
			if len(rest) == 0 || strings.Join(rest, "") == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s[1:len(s)-2]] = strings.Join(rest, "/")
			return params, true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s[1:len(s)-1]] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	if len(segs) != len(r.segs) {
		return nil, false
	}
	return params, true
}

// sortRoutes orders routes most specific first, as API Gateway picks them: full literal
// matches before parameters, parameters before greedy paths, a named method before ANY, and
// $default last.
func sortRoutes(rs []*route) {
	score := func(r *route) (int, int, int, int, int) {
		def, greedy, literals := 0, 0, 0
		if r.isDefault() {
			def = 1
		}
		for _, s := range r.segs {
			switch {
			case strings.HasSuffix(s, "+}"):
				greedy = 1
			case !strings.HasPrefix(s, "{"):
				literals++
			}
		}
		anyMethod := 0
		if r.Method == "ANY" {
			anyMethod = 1
		}
		return def, greedy, -literals, -len(r.segs), anyMethod
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a1, a2, a3, a4, a5 := score(rs[i])
		b1, b2, b3, b4, b5 := score(rs[j])
		for _, c := range [][2]int{{a1, b1}, {a2, b2}, {a3, b3}, {a4, b4}, {a5, b5}} {
			if c[0] != c[1] {
				return c[0] < c[1]
			}
		}
		return false
	})
}
