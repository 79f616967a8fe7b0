package template

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"
)

// Each check returns one line per problem, sorted, naming the resource and the fix; none means the
// template follows the rule. The tests run every check against template.yaml and, so that no
// check can pass by accident, against the broken snippets in testdata.

// The project's rules (STYLE.md).
const (
	MinMaxReceiveCount      = 3
	MaxMaxReceiveCount      = 5
	DLQRetentionSeconds     = 1209600 // 14 days, the SQS maximum
	VisibilityTimeoutFactor = 6       // queue visibility timeout >= 6x the consumer's timeout
	DefaultVisibilityTime   = 30      // SQS's default VisibilityTimeout
	MaxMemorySize           = 128
)

type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) sorted() []string {
	sort.Strings(p)
	return p
}

// dlqs returns the queues some queue's RedrivePolicy names as its deadLetterTargetArn.
func (t *Template) dlqs() map[string]bool {
	out := map[string]bool{}
	for _, q := range t.Queues() {
		rp, _ := t.Resources[q].Properties["RedrivePolicy"].(map[string]any)
		if id, _, ok := GetAtt(rp["deadLetterTargetArn"]); ok {
			out[id] = true
		}
	}
	return out
}

// DLQs returns the logical ids of the queues used as dead-letter queues, sorted.
func (t *Template) DLQs() []string {
	ids := sortedKeys(t.dlqs())
	return ids
}

// checkQueueRedrive: every queue that is not itself a DLQ sends failures to a DLQ in the template
// after 3..5 receives; every DLQ keeps messages 14 days; a FIFO queue's DLQ is FIFO too.
func checkQueueRedrive(t *Template) []string {
	var p problems
	dlqs := t.dlqs()
	for _, q := range t.Queues() {
		props := t.Resources[q].Properties
		if dlqs[q] {
			if n, ok := t.Int(props["MessageRetentionPeriod"]); !ok || n != DLQRetentionSeconds {
				p.addf("%s: dead-letter queue needs MessageRetentionPeriod: %d (14 days), has %v", q, DLQRetentionSeconds, show(props["MessageRetentionPeriod"]))
			}
			continue
		}
		raw, ok := props["RedrivePolicy"]
		if !ok {
			p.addf("%s: no RedrivePolicy; add a dead-letter queue (deadLetterTargetArn: !GetAtt <DLQ>.Arn, maxReceiveCount: %d..%d)", q, MinMaxReceiveCount, MaxMaxReceiveCount)
			continue
		}
		rp, ok := raw.(map[string]any)
		if !ok {
			p.addf("%s: RedrivePolicy must be a mapping with deadLetterTargetArn and maxReceiveCount, is %v", q, show(raw))
			continue
		}
		dlq, attr, ok := GetAtt(rp["deadLetterTargetArn"])
		switch {
		case !ok:
			p.addf("%s: RedrivePolicy.deadLetterTargetArn must be !GetAtt <DLQ>.Arn of a queue in this template, is %v", q, show(rp["deadLetterTargetArn"]))
		case attr != "Arn" || t.typeOf(dlq) != TypeQueue:
			p.addf("%s: RedrivePolicy.deadLetterTargetArn must be !GetAtt <DLQ>.Arn of a queue in this template, is !GetAtt %s.%s", q, dlq, attr)
		case dlq == q:
			p.addf("%s: RedrivePolicy.deadLetterTargetArn points at the queue itself", q)
		case isTrue(props["FifoQueue"]) != isTrue(t.Resources[dlq].Properties["FifoQueue"]):
			p.addf("%s: the queue and its dead-letter queue %s must both be FIFO or both standard", q, dlq)
		}
		if n, ok := t.Int(rp["maxReceiveCount"]); !ok || n < MinMaxReceiveCount || n > MaxMaxReceiveCount {
			p.addf("%s: RedrivePolicy.maxReceiveCount must be %d..%d, is %v", q, MinMaxReceiveCount, MaxMaxReceiveCount, show(rp["maxReceiveCount"]))
		}
	}
	return p.sorted()
}

// sqsSources returns, per function, its SQS events.
func (t *Template) sqsSources() map[string][]Event {
	out := map[string][]Event{}
	for _, fn := range t.Functions() {
		for _, ev := range t.Events(fn) {
			if ev.Type == "SQS" {
				out[fn] = append(out[fn], ev)
			}
		}
	}
	return out
}

// sourceQueue returns the queue an SQS event reads, when it is !GetAtt <Queue>.Arn of a queue in
// the template.
func (t *Template) sourceQueue(ev Event) (string, bool) {
	id, attr, ok := GetAtt(ev.Properties["Queue"])
	return id, ok && attr == "Arn" && t.typeOf(id) == TypeQueue
}

// checkSQSEventSources: every SQS event source reports partial batch failures and reads a queue
// declared in the template.
func checkSQSEventSources(t *Template) []string {
	var p problems
	for fn, evs := range t.sqsSources() {
		for _, ev := range evs {
			if !listHas(ev.Properties["FunctionResponseTypes"], "ReportBatchItemFailures") {
				p.addf("%s: SQS event %s needs FunctionResponseTypes: [ReportBatchItemFailures] (one bad message must not redeliver the batch)", fn, ev.Name)
			}
			if _, ok := t.sourceQueue(ev); !ok {
				p.addf("%s: SQS event %s: Queue must be !GetAtt <Queue>.Arn of a queue in this template, is %v", fn, ev.Name, show(ev.Properties["Queue"]))
			}
		}
	}
	return p.sorted()
}

// checkVisibilityTimeouts: a queue's VisibilityTimeout is at least 6x the timeout of every
// function that consumes it, so a message is not redelivered while a slow invocation still runs.
func checkVisibilityTimeouts(t *Template) []string {
	var p problems
	for fn, evs := range t.sqsSources() {
		timeout, err := t.FunctionTimeout(fn)
		if err != nil {
			p.addf("%v", err)
			continue
		}
		for _, ev := range evs {
			q, ok := t.sourceQueue(ev)
			if !ok {
				continue // checkSQSEventSources reports it
			}
			vt := DefaultVisibilityTime
			if v, set := t.Resources[q].Properties["VisibilityTimeout"]; set {
				if vt, ok = t.Int(v); !ok {
					p.addf("%s: VisibilityTimeout %v is not a number", q, show(v))
					continue
				}
			}
			if vt < VisibilityTimeoutFactor*timeout {
				p.addf("%s: VisibilityTimeout %d s is under %dx the %d s timeout of its consumer %s; make it >= %d", q, vt, VisibilityTimeoutFactor, timeout, fn, VisibilityTimeoutFactor*timeout)
			}
		}
	}
	return p.sorted()
}

// checkGlobals: Globals.Function sets the runtime, architecture, handler, tracing and JSON logs
// every function runs with, and no function overrides them with something else.
func checkGlobals(t *Template) []string {
	var p problems
	g := t.GlobalFunction()
	want := []struct {
		name string
		get  func(map[string]any) (any, bool)
		ok   func(any) bool
		show string
	}{
		{"Runtime", field("Runtime"), equals("provided.al2023"), "provided.al2023"},
		{"Architectures", field("Architectures"), func(v any) bool { return listEquals(v, "arm64") }, "[arm64]"},
		{"Handler", field("Handler"), equals("bootstrap"), "bootstrap"},
		{"Tracing", field("Tracing"), equals("Active"), "Active"},
		{"LoggingConfig.LogFormat", fieldPath("LoggingConfig", "LogFormat"), equals("JSON"), "JSON"},
	}
	for _, w := range want {
		if v, ok := w.get(g); !ok || !w.ok(v) {
			p.addf("Globals.Function.%s must be %s, is %v", w.name, w.show, showIf(v, ok))
		}
		for _, fn := range t.Functions() {
			if v, ok := w.get(t.Resources[fn].Properties); ok && !w.ok(v) {
				p.addf("%s: %s must be %s (as in Globals), is %v", fn, w.name, w.show, show(v))
			}
		}
	}
	return p.sorted()
}

// checkMemorySize: every function fits in 128 MB (SAM's default when MemorySize is not set).
func checkMemorySize(t *Template) []string {
	var p problems
	check := func(where string, props map[string]any) {
		v, ok := props["MemorySize"]
		if !ok {
			return
		}
		if n, ok := t.Int(v); !ok || n > MaxMemorySize {
			p.addf("%s: MemorySize must be <= %d, is %v", where, MaxMemorySize, show(v))
		}
	}
	check("Globals.Function", t.GlobalFunction())
	for _, fn := range t.Functions() {
		check(fn, t.Resources[fn].Properties)
	}
	return p.sorted()
}

// checkTables: tables are on-demand and have point-in-time recovery.
func checkTables(t *Template) []string {
	var p problems
	for _, id := range t.OfType("AWS::Serverless::SimpleTable") {
		p.addf("%s: AWS::Serverless::SimpleTable cannot enable point-in-time recovery; use AWS::DynamoDB::Table", id)
	}
	for _, id := range t.Tables() {
		props := t.Resources[id].Properties
		if v := props["BillingMode"]; v != "PAY_PER_REQUEST" {
			p.addf("%s: BillingMode must be PAY_PER_REQUEST, is %v", id, show(v))
		}
		if v, ok := fieldPath("PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")(props); !ok || !isTrue(v) {
			p.addf("%s: needs PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}", id)
		}
	}
	return p.sorted()
}

// broadManagedPolicy matches AWS managed policies that grant whole services or accounts.
var broadManagedPolicy = regexp.MustCompile(`(?i)(FullAccess|AdministratorAccess|PowerUserAccess)`)

// checkPolicies: function policies name actions and resources; no "*", "dynamodb:*" or
// "dynamodb:Get*", no Resource "*" (ARN suffixes /index/* and /stream/* on a table are fine), no
// NotAction or NotResource, no full-access managed policies.
func checkPolicies(t *Template) []string {
	var p problems
	for _, fn := range t.Functions() {
		raw, ok := t.Resources[fn].Properties["Policies"]
		if !ok {
			continue
		}
		for i, pol := range asList(raw) {
			where := fmt.Sprintf("%s: Policies[%d]", fn, i)
			switch x := pol.(type) {
			case string:
				if broadManagedPolicy.MatchString(x) {
					p.addf("%s: managed policy %s grants too much; use a SAM policy template or an inline statement", where, x)
				}
			case map[string]any:
				if st, ok := x["Statement"]; ok {
					for j, s := range asList(st) {
						checkStatement(&p, fmt.Sprintf("%s.Statement[%d]", where, j), s)
					}
					continue
				}
				// A SAM policy template, e.g. {DynamoDBReadPolicy: {TableName: !Ref T}}.
				for _, name := range sortedKeys(x) {
					params, _ := x[name].(map[string]any)
					for _, k := range sortedKeys(params) {
						if s, ok := params[k].(string); ok && strings.Contains(s, "*") {
							p.addf("%s: %s.%s is a wildcard (%q); name the resource", where, name, k, s)
						}
					}
				}
			default:
				p.addf("%s: unexpected policy %v", where, show(pol))
			}
		}
	}
	return p.sorted()
}

func checkStatement(p *problems, where string, s any) {
	st, ok := s.(map[string]any)
	if !ok {
		p.addf("%s: statement is not a mapping: %v", where, show(s))
		return
	}
	if st["Effect"] == "Deny" {
		return
	}
	for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
		if _, ok := st[k]; ok {
			p.addf("%s: %s grants everything else; list what is allowed", where, k)
		}
	}
	actions := asList(st["Action"])
	if len(actions) == 0 {
		p.addf("%s: no Action", where)
	}
	for _, a := range actions {
		if s, ok := a.(string); !ok || strings.Contains(s, "*") {
			p.addf("%s: Action %v is a wildcard; name each action", where, show(a))
		}
	}
	resources := asList(st["Resource"])
	if len(resources) == 0 {
		p.addf("%s: no Resource", where)
	}
	for _, r := range resources {
		if wildcardResource(r) {
			p.addf("%s: Resource %v is a wildcard; name the table or queue (!GetAtt X.Arn)", where, show(r))
		}
	}
}

var subVar = regexp.MustCompile(`\$\{[^}]*\}`)

// wildcardResource reports a Resource that is or contains "*", apart from a table's
// /index/* or /stream/* suffix. Ref and GetAtt name one resource.
func wildcardResource(r any) bool {
	literal := func(s string) bool {
		s = subVar.ReplaceAllString(s, "")
		s = strings.TrimSuffix(strings.TrimSuffix(s, "/index/*"), "/stream/*")
		return strings.Contains(s, "*")
	}
	switch x := r.(type) {
	case string:
		return literal(x)
	case map[string]any:
		if _, ok := Ref(x); ok {
			return false
		}
		if _, _, ok := GetAtt(x); ok {
			return false
		}
		if sub, ok := x["Fn::Sub"]; ok {
			if l, ok := sub.([]any); ok && len(l) > 0 {
				sub = l[0]
			}
			s, ok := sub.(string)
			return !ok || literal(s)
		}
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			for _, part := range asList(j[1]) {
				if s, ok := part.(string); ok && strings.Contains(s, "*") {
					return true
				}
			}
			return false
		}
	}
	return true // something the check cannot read: treat as broad so a human looks at it
}

// checkHTTPRoutes: every HttpApi event names the template's HttpApi (ApiId: !Ref <HttpApi>) and
// no two events claim the same route.
func checkHTTPRoutes(t *Template) []string {
	var p problems
	claimed := map[string]string{}
	for _, fn := range t.Functions() {
		for _, ev := range t.Events(fn) {
			switch ev.Type {
			case "HttpApi":
			case "Api":
				p.addf("%s: event %s is a REST API (Type: Api) event; this stack serves an HTTP API (Type: HttpApi)", fn, ev.Name)
				continue
			default:
				continue
			}
			if api, ok := Ref(ev.Properties["ApiId"]); !ok || t.typeOf(api) != TypeHTTPAPI {
				p.addf("%s: HttpApi event %s needs ApiId: !Ref <an AWS::Serverless::HttpApi in this template>, has %v", fn, ev.Name, show(ev.Properties["ApiId"]))
			}
			key := RouteKey(ev.Properties)
			if path, _ := ev.Properties["Path"].(string); key != "$default" && !strings.HasPrefix(path, "/") {
				p.addf("%s: HttpApi event %s: Path must start with /, is %q", fn, ev.Name, path)
			}
			if other, ok := claimed[key]; ok {
				p.addf("route %q is claimed twice: by %s and by %s (event %s)", key, other, fn, ev.Name)
				continue
			}
			claimed[key] = fn + " (event " + ev.Name + ")"
		}
	}
	return p.sorted()
}

// checkBuild: every function is built by `sam build` through the root Makefile: Metadata
// BuildMethod makefile, CodeUri ".", a build-<LogicalId> target that builds ./functions/<dir>
// into $(ARTIFACTS_DIR)/bootstrap, and that folder has a main.go. root is the repo root.
func checkBuild(t *Template, makefile []byte, root string) []string {
	var p problems
	targets := parseBuildTargets(makefile)
	for _, fn := range t.Functions() {
		r := t.Resources[fn]
		if v, _ := r.Metadata["BuildMethod"].(string); v != "makefile" {
			p.addf("%s: needs Metadata: {BuildMethod: makefile}, has BuildMethod %v", fn, show(r.Metadata["BuildMethod"]))
		}
		if v, ok := t.functionProp(fn, "CodeUri"); !ok || v != "." {
			p.addf("%s: CodeUri must be . (the repo root, where the Makefile is), is %v", fn, showIf(v, ok))
		}
		bt, ok := targets[fn]
		if !ok {
			p.addf("%s: the Makefile has no build-%s target", fn, fn)
			continue
		}
		switch {
		case bt.Dirs == 0:
			p.addf("%s: Makefile target build-%s builds no ./functions/<dir>", fn, fn)
			continue
		case bt.Dirs > 1:
			p.addf("%s: Makefile target build-%s names %d ./functions/<dir> folders; build one", fn, fn, bt.Dirs)
		}
		if !strings.Contains(bt.Recipe, "$(ARTIFACTS_DIR)/bootstrap") {
			p.addf("%s: Makefile target build-%s must write $(ARTIFACTS_DIR)/bootstrap", fn, fn)
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(bt.Dir), "main.go")); err != nil {
			p.addf("%s: %s/main.go does not exist (Makefile target build-%s builds ./%s)", fn, bt.Dir, fn, bt.Dir)
		}
	}
	return p.sorted()
}

// checkOrphanTargets: every build-<LogicalId> target in the Makefile builds a function of the
// template (a renamed function leaves its old target behind).
func checkOrphanTargets(t *Template, makefile []byte) []string {
	var p problems
	fns := t.Functions()
	for id := range parseBuildTargets(makefile) {
		if !slices.Contains(fns, id) {
			p.addf("Makefile target build-%s builds a function that is not in the template", id)
		}
	}
	return p.sorted()
}

// checkSchema decodes every resource into goformation's CloudFormation/SAM types, which reject
// unknown property names (a typo such as VisibiltyTimeout) and wrongly typed literals.
// Intrinsic functions decode as empty values. Known gaps in goformation's SAM schema are skipped:
// HttpApi RouteSettings (a map keyed by route in SAM) and SAM resource types it does not know.
func checkSchema(t *Template) []string {
	var p problems
	known := cloudformation.AllResources()
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		if _, ok := known[r.Type]; !ok {
			if !strings.HasPrefix(r.Type, "Custom::") && !strings.HasPrefix(r.Type, "AWS::Serverless::") {
				p.addf("%s: unknown resource type %s", id, r.Type)
			}
			continue
		}
		raw := dropIntrinsics(r.raw).(map[string]any)
		if r.Type == TypeHTTPAPI {
			if props, ok := raw["Properties"].(map[string]any); ok {
				delete(props, "RouteSettings")
			}
		}
		js, err := json.Marshal(raw)
		if err != nil {
			p.addf("%s: %v", id, err)
			continue
		}
		typed := cloudformation.AllResources()[r.Type] // a fresh value per resource
		if err := json.Unmarshal(js, typed); err != nil {
			p.addf("%s (%s): %v", id, r.Type, err)
		}
	}
	return p.sorted()
}

// dropIntrinsics returns a copy of v with every intrinsic function ({"Ref": ...}, {"Fn::...": ...})
// replaced by null, which decodes into any Go type.
func dropIntrinsics(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") || k == "Condition" {
					return nil
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = dropIntrinsics(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = dropIntrinsics(e)
		}
		return out
	}
	return v
}

// ---------------------------------------------------------------- small helpers

func (t *Template) typeOf(id string) string {
	if r := t.Resources[id]; r != nil {
		return r.Type
	}
	return ""
}

func field(name string) func(map[string]any) (any, bool) {
	return func(m map[string]any) (any, bool) { v, ok := m[name]; return v, ok }
}

func fieldPath(names ...string) func(map[string]any) (any, bool) {
	return func(m map[string]any) (any, bool) {
		var cur any = m
		for _, n := range names {
			mm, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = mm[n]; !ok {
				return nil, false
			}
		}
		return cur, true
	}
}

func equals(want string) func(any) bool { return func(v any) bool { return v == want } }

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

func listHas(v any, want string) bool {
	for _, e := range asList(v) {
		if e == want {
			return true
		}
	}
	return false
}

func listEquals(v any, want ...string) bool {
	l, ok := v.([]any)
	if !ok || len(l) != len(want) {
		return false
	}
	for i := range l {
		if l[i] != want[i] {
			return false
		}
	}
	return true
}

func isTrue(v any) bool { return v == true || v == "true" || v == "True" }

func show(v any) string {
	if v == nil {
		return "nothing"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func showIf(v any, ok bool) string {
	if !ok {
		return "nothing"
	}
	return show(v)
}
