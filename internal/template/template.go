// Package template loads template.yaml, the SAM template, for tests, and checks it against the
// project's rules (docs in STYLE.md): a dead-letter queue behind every queue, partial batch
// responses on every SQS event source, visibility timeouts that cover the consumers, makefile
// builds, Globals, on-demand tables with point-in-time recovery, least-privilege policies and one
// function per HTTP route. The checks run in this package's tests; other packages use Load and
// the accessors (Functions, HTTPRoutes, FunctionDirs) to test against the same template.
//
// The template is read by samfile, as the local runner reads it: the YAML short forms (!Ref,
// !GetAtt, !Sub...) in the long forms CloudFormation uses ({"Ref": "X"}, {"Fn::GetAtt": [...]}).
// goformation's typed model is used for the schema check only: it cannot load this template
// whole (it types HttpApi.RouteSettings as one struct where SAM takes a map keyed by route) and
// it resolves Ref and GetAtt of resources to empty values, which the checks need.
package template

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/referral-engine/referral-engine/internal/samfile"
)

// Resource types the checks look at.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeHTTPAPI  = "AWS::Serverless::HttpApi"
	TypeQueue    = "AWS::SQS::Queue"
	TypeTable    = "AWS::DynamoDB::Table"
)

// DefaultFunctionTimeout is Lambda's timeout, in seconds, when neither the function nor
// Globals.Function set one.
const DefaultFunctionTimeout = 3

// Template is a parsed SAM template. Values are the YAML's (numbers int or float64), with
// intrinsic functions in their long form: {"Ref": "X"}, {"Fn::GetAtt": ["X", "Arn"]}.
type Template struct {
	Path       string                    // the file it was loaded from; "" after Parse
	Parameters map[string]map[string]any // parameter name -> its declaration (Type, Default...)
	Globals    map[string]any            // the Globals section (Function, HttpApi...)
	Resources  map[string]*Resource      // by logical id
}

// Resource is one entry of the Resources section.
type Resource struct {
	LogicalID  string
	Type       string
	Properties map[string]any
	Metadata   map[string]any

	raw map[string]any // the whole entry, for the schema check
}

// Event is one entry of a function's Events.
type Event struct {
	Name       string
	Type       string // SQS, HttpApi, Schedule...
	Properties map[string]any
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// Parse parses a template from YAML (or JSON, which is YAML), read as the local runner reads it
// (samfile).
func Parse(data []byte) (*Template, error) {
	f, err := samfile.Parse(data)
	if err != nil {
		return nil, err
	}
	t := &Template{Parameters: f.Parameters, Globals: f.Globals, Resources: map[string]*Resource{}}
	for id, r := range f.Resources {
		if r.Type == "" {
			return nil, fmt.Errorf("resource %s has no Type", id)
		}
		t.Resources[id] = &Resource{LogicalID: id, Type: r.Type, Properties: r.Properties, Metadata: r.Metadata, raw: r.Raw}
	}
	return t, nil
}

// OfType returns the logical ids of the resources of type typ, sorted.
func (t *Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Functions returns the logical ids of the AWS::Serverless::Function resources, sorted.
func (t *Template) Functions() []string { return t.OfType(TypeFunction) }

// Queues returns the logical ids of the AWS::SQS::Queue resources, sorted.
func (t *Template) Queues() []string { return t.OfType(TypeQueue) }

// Tables returns the logical ids of the AWS::DynamoDB::Table resources, sorted.
func (t *Template) Tables() []string { return t.OfType(TypeTable) }

// GlobalFunction returns Globals.Function (an empty map when absent).
func (t *Template) GlobalFunction() map[string]any {
	if g, ok := t.Globals["Function"].(map[string]any); ok {
		return g
	}
	return map[string]any{}
}

// Events returns a function's events sorted by name (nil if id is not a function).
func (t *Template) Events(id string) []Event {
	r := t.Resources[id]
	if r == nil || r.Type != TypeFunction {
		return nil
	}
	evs, _ := r.Properties["Events"].(map[string]any)
	var out []Event
	for _, name := range sortedKeys(evs) {
		e, _ := evs[name].(map[string]any)
		ev := Event{Name: name}
		ev.Type, _ = e["Type"].(string)
		ev.Properties, _ = e["Properties"].(map[string]any)
		if ev.Properties == nil {
			ev.Properties = map[string]any{}
		}
		out = append(out, ev)
	}
	return out
}

// HTTPRoutes maps each HttpApi event's route key ("POST /v1/interactions", "ANY /x", "$default")
// to the logical id of the function that handles it. When two functions claim a route, one of
// them is kept; the template tests report the clash.
func (t *Template) HTTPRoutes() map[string]string {
	routes := map[string]string{}
	for _, fn := range t.Functions() {
		for _, ev := range t.Events(fn) {
			if ev.Type == "HttpApi" {
				routes[RouteKey(ev.Properties)] = fn
			}
		}
	}
	return routes
}

// RouteKey returns the API Gateway route key of an HttpApi event's properties: "METHOD /path", or
// "$default" when neither Method nor Path is given (SAM's catch-all route).
func RouteKey(props map[string]any) string {
	method, _ := props["Method"].(string)
	path, _ := props["Path"].(string)
	if method == "" && path == "" {
		return "$default"
	}
	method = strings.ToUpper(method)
	if method == "" || method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
		method = "ANY"
	}
	return method + " " + path
}

// FunctionTimeout returns a function's timeout in seconds: its own Timeout, else
// Globals.Function.Timeout, else Lambda's default of 3 s.
func (t *Template) FunctionTimeout(id string) (int, error) {
	r := t.Resources[id]
	if r == nil {
		return 0, fmt.Errorf("no resource %s", id)
	}
	v, ok := r.Properties["Timeout"]
	if !ok {
		if v, ok = t.GlobalFunction()["Timeout"]; !ok {
			return DefaultFunctionTimeout, nil
		}
	}
	n, ok := t.Int(v)
	if !ok {
		return 0, fmt.Errorf("%s: Timeout %v is not a number", id, v)
	}
	return n, nil
}

// functionProp returns a function's property, falling back to Globals.Function.
func (t *Template) functionProp(id, name string) (any, bool) {
	if r := t.Resources[id]; r != nil {
		if v, ok := r.Properties[name]; ok {
			return v, true
		}
	}
	v, ok := t.GlobalFunction()[name]
	return v, ok
}

// Int evaluates v as a whole number: a number, a numeric string, or a Ref to a parameter whose
// Default is one.
func (t *Template) Int(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case int:
		return x, true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	case map[string]any:
		if name, ok := Ref(x); ok {
			if p, ok := t.Parameters[name]; ok {
				return t.Int(p["Default"])
			}
		}
	}
	return 0, false
}

// Ref returns X for {"Ref": "X"}.
func Ref(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	s, ok := m["Ref"].(string)
	return s, ok
}

// GetAtt returns (X, Attr) for {"Fn::GetAtt": "X.Attr"} and {"Fn::GetAtt": ["X", "Attr"]}.
func GetAtt(v any) (id, attr string, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", "", false
	}
	switch a := m["Fn::GetAtt"].(type) {
	case string:
		id, attr, ok = strings.Cut(a, ".")
		return id, attr, ok && id != "" && attr != ""
	case []any:
		if len(a) == 2 {
			id, _ = a[0].(string)
			attr, _ = a[1].(string)
			return id, attr, id != "" && attr != ""
		}
	}
	return "", "", false
}

// FunctionDirs reads a Makefile and maps each build-<LogicalId> target to the function's source
// folder relative to the repo root ("functions/read-api"), or "" when its recipe names none.
func FunctionDirs(makefile string) (map[string]string, error) {
	data, err := os.ReadFile(makefile)
	if err != nil {
		return nil, err
	}
	dirs := map[string]string{}
	for id, bt := range parseBuildTargets(data) {
		dirs[id] = bt.Dir
	}
	return dirs, nil
}

type buildTarget struct {
	Dir    string // "functions/<name>", "" when the recipe names no ./functions/<name>
	Dirs   int    // how many distinct ./functions/<name> folders the recipe names
	Recipe string
}

var (
	buildTargetRe = regexp.MustCompile(`^build-([A-Za-z0-9]+)\s*:([^=].*)?$`)
	functionDirRe = regexp.MustCompile(`\./functions/([A-Za-z0-9._-]+)`)
)

// parseBuildTargets finds the build-<LogicalId> rules of a Makefile with their recipes (after
// ';' on the rule line and on the tab-indented lines that follow).
func parseBuildTargets(makefile []byte) map[string]buildTarget {
	out := map[string]buildTarget{}
	lines := strings.Split(string(makefile), "\n")
	for i := 0; i < len(lines); i++ {
		m := buildTargetRe.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		var recipe []string
		if _, r, ok := strings.Cut(m[2], ";"); ok {
			recipe = append(recipe, r)
		}
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			i++
			recipe = append(recipe, lines[i])
		}
		bt := buildTarget{Recipe: strings.Join(recipe, "\n")}
		seen := map[string]bool{}
		for _, d := range functionDirRe.FindAllStringSubmatch(bt.Recipe, -1) {
			if !seen[d[1]] {
				seen[d[1]] = true
				bt.Dirs++
				bt.Dir = filepath.ToSlash(filepath.Join("functions", d[1]))
			}
		}
		out[m[1]] = bt
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
