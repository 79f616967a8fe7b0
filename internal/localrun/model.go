package localrun

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"
)

// model is what the runner takes from the template: tables, queues and functions with their
// triggers, every intrinsic resolved to local names.
type model struct {
	t         *template
	r         *resolver
	prefix    string
	tables    []*tableSpec
	queues    []*queueSpec // dead-letter queues before the queues that use them
	functions []*functionSpec
	warnings  []string

	sqsEndpoint string
	queueURLs   map[string]string // physical name -> URL, filled as queues are created
	naming      map[string]bool   // cycle guard for physical names
}

type tableSpec struct {
	LogicalID, Name string
	Props           map[string]any // resolved
}

type queueSpec struct {
	LogicalID, Name string
	Props           map[string]any // resolved
	dlq             string         // logical id of the dead-letter queue, if in this template
}

type functionSpec struct {
	LogicalID, Name string
	CodeURI         string
	Timeout         time.Duration
	MemorySize      int
	LogFormat       string
	AppLogLevel     string
	props           map[string]any // Globals merged, unresolved

	Routes    []*route
	SQS       []*sqsSource
	Schedules []*scheduleSpec
}

type sqsSource struct {
	Function       *functionSpec
	EventName      string
	QueueLogicalID string
	QueueName      string
	QueueARN       string
	BatchSize      int
	Window         time.Duration
	ReportFailures bool
	MaxConcurrency int // ScalingConfig.MaximumConcurrency, 0 = unset
}

type scheduleSpec struct {
	Function   *functionSpec
	Rule       string // <LogicalId>.<EventName>
	Expression string
	Input      string // JSON given in the template, "" = the scheduled event
	Enabled    bool
	V2         bool
	Location   *time.Location
	sched      schedule
}

func newModel(t *template, prefix string, params map[string]string, sqsEndpoint string) (*model, error) {
	m := &model{t: t, prefix: prefix, sqsEndpoint: sqsEndpoint, queueURLs: map[string]string{}, naming: map[string]bool{}}
	resolved := map[string]string{}
	for name, p := range t.Parameters {
		if v, ok := params[name]; ok {
			resolved[name] = v
		} else if d, ok := p["Default"]; ok {
			resolved[name] = scalarString(d)
		}
	}
	for name := range t.Parameters {
		if _, ok := resolved[name]; !ok {
			return nil, fmt.Errorf("template parameter %s has no Default: set it in Config.Parameters", name)
		}
	}
	m.r = &resolver{t: t, params: resolved, ref: m.ref, getAtt: m.getAtt}

	for _, id := range t.Order {
		res := t.Resources[id]
		if res.Condition != "" {
			ok, err := m.r.condition(res.Condition)
			if err != nil {
				return nil, fmt.Errorf("resource %s: %w", id, err)
			}
			if !ok {
				delete(t.Resources, id)
				continue
			}
		}
	}
	for _, id := range t.Order {
		res := t.Resources[id]
		if res == nil {
			continue
		}
		var err error
		switch res.Type {
		case "AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable":
			err = m.addTable(res)
		case "AWS::SQS::Queue":
			err = m.addQueue(res)
		case "AWS::Serverless::Function":
			err = m.addFunction(res)
		}
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
	}
	m.orderQueues()
	for _, f := range m.functions {
		if err := m.addEvents(f); err != nil {
			return nil, fmt.Errorf("function %s: %w", f.LogicalID, err)
		}
	}
	return m, nil
}

// physicalName is the local name of a table, queue or function: the template's explicit name
// if it sets one, else the logical id; with the configured prefix either way.
func (m *model) physicalName(id string) (string, error) {
	res := m.t.Resources[id]
	if res == nil {
		return "", fmt.Errorf("no resource %s", id)
	}
	prop := map[string]string{
		"AWS::DynamoDB::Table":      "TableName",
		"AWS::SQS::Queue":           "QueueName",
		"AWS::Serverless::Function": "FunctionName",
	}[res.Type]
	name := id
	if v, ok := res.Properties[prop]; ok && prop != "" {
		if m.naming[id] {
			return "", fmt.Errorf("%s.%s refers to itself", id, prop)
		}
		m.naming[id] = true
		rv, err := m.r.resolve(v)
		delete(m.naming, id)
		if err != nil {
			return "", fmt.Errorf("%s.%s: %w", id, prop, err)
		}
		name = scalarString(rv)
	}
	if res.Type == "AWS::SQS::Queue" {
		if fifo, _ := toBool(res.Properties["FifoQueue"]); fifo && !strings.HasSuffix(name, ".fifo") {
			name += ".fifo"
		}
	}
	return m.prefix + name, nil
}

func (m *model) ref(id string) (string, error) {
	res := m.t.Resources[id]
	switch res.Type {
	case "AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable", "AWS::Serverless::Function":
		return m.physicalName(id)
	case "AWS::SQS::Queue":
		name, err := m.physicalName(id)
		if err != nil {
			return "", err
		}
		return m.queueURL(name), nil
	case "AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api":
		return "local", nil
	default:
		// Other resources have no local counterpart; their logical id is a stable stand-in.
		return id, nil
	}
}

func (m *model) queueURL(name string) string {
	if u, ok := m.queueURLs[name]; ok {
		return u
	}
	return strings.TrimRight(m.sqsEndpoint, "/") + "/" + AccountID + "/" + name
}

func (m *model) getAtt(id, attr string) (string, error) {
	res := m.t.Resources[id]
	if res == nil {
		return "", fmt.Errorf("GetAtt %s.%s: no such resource", id, attr)
	}
	name, err := m.physicalName(id)
	if err != nil && (res.Type == "AWS::DynamoDB::Table" || res.Type == "AWS::SQS::Queue" || res.Type == "AWS::Serverless::Function") {
		return "", err
	}
	switch res.Type + "." + attr {
	case "AWS::DynamoDB::Table.Arn", "AWS::Serverless::SimpleTable.Arn":
		return tableARN(name), nil
	case "AWS::DynamoDB::Table.StreamArn":
		return tableARN(name) + "/stream/1970-01-01T00:00:00.000", nil
	case "AWS::SQS::Queue.Arn":
		return queueARN(name), nil
	case "AWS::SQS::Queue.QueueName":
		return name, nil
	case "AWS::SQS::Queue.QueueUrl":
		return m.queueURL(name), nil
	case "AWS::Serverless::Function.Arn":
		return functionARN(name), nil
	}
	return "", fmt.Errorf("GetAtt %s.%s (%s) is not supported by the local runner", id, attr, res.Type)
}

func tableARN(name string) string {
	return "arn:aws:dynamodb:" + Region + ":" + AccountID + ":table/" + name
}

func queueARN(name string) string { return "arn:aws:sqs:" + Region + ":" + AccountID + ":" + name }

func functionARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + AccountID + ":function:" + name
}

func (m *model) resolveProps(res *resource) (map[string]any, error) {
	rv, err := m.r.resolve(res.Properties)
	if err != nil {
		return nil, err
	}
	return rv.(map[string]any), nil
}

func (m *model) addTable(res *resource) error {
	name, err := m.physicalName(res.LogicalID)
	if err != nil {
		return err
	}
	props, err := m.resolveProps(res)
	if err != nil {
		return err
	}
	if res.Type == "AWS::Serverless::SimpleTable" {
		props = simpleTableProps(props)
	}
	m.tables = append(m.tables, &tableSpec{LogicalID: res.LogicalID, Name: name, Props: props})
	return nil
}

// simpleTableProps turns a SAM SimpleTable (one hash key, default "id" of type String) into
// the AWS::DynamoDB::Table properties it stands for.
func simpleTableProps(p map[string]any) map[string]any {
	key, typ := "id", "S"
	if pk, ok := p["PrimaryKey"].(map[string]any); ok {
		if n, ok := pk["Name"].(string); ok {
			key = n
		}
		switch pk["Type"] {
		case "Number":
			typ = "N"
		case "Binary":
			typ = "B"
		}
	}
	return map[string]any{
		"AttributeDefinitions": []any{map[string]any{"AttributeName": key, "AttributeType": typ}},
		"KeySchema":            []any{map[string]any{"AttributeName": key, "KeyType": "HASH"}},
	}
}

func (m *model) addQueue(res *resource) error {
	name, err := m.physicalName(res.LogicalID)
	if err != nil {
		return err
	}
	props, err := m.resolveProps(res)
	if err != nil {
		return err
	}
	q := &queueSpec{LogicalID: res.LogicalID, Name: name, Props: props}
	if rp, ok := props["RedrivePolicy"]; ok {
		var policy map[string]any
		switch x := rp.(type) {
		case map[string]any:
			policy = x
		case string:
			if err := json.Unmarshal([]byte(x), &policy); err != nil {
				return fmt.Errorf("RedrivePolicy: %w", err)
			}
		}
		if arn, ok := policy["deadLetterTargetArn"].(string); ok {
			for _, other := range m.t.Order {
				if o := m.t.Resources[other]; o != nil && o.Type == "AWS::SQS::Queue" {
					if oname, err := m.physicalName(other); err == nil && queueARN(oname) == arn {
						q.dlq = other
					}
				}
			}
		}
	}
	m.queues = append(m.queues, q)
	return nil
}

// orderQueues puts every dead-letter queue before the queues that redrive to it: SQS refuses a
// RedrivePolicy naming a queue that does not exist.
func (m *model) orderQueues() {
	byID := map[string]*queueSpec{}
	for _, q := range m.queues {
		byID[q.LogicalID] = q
	}
	var out []*queueSpec
	done := map[string]bool{}
	var visit func(q *queueSpec, depth int)
	visit = func(q *queueSpec, depth int) {
		if done[q.LogicalID] || depth > len(m.queues) {
			return
		}
		if d := byID[q.dlq]; d != nil && d != q {
			visit(d, depth+1)
		}
		if !done[q.LogicalID] {
			done[q.LogicalID] = true
			out = append(out, q)
		}
	}
	for _, q := range m.queues {
		visit(q, 0)
	}
	m.queues = out
}

func (m *model) addFunction(res *resource) error {
	var global map[string]any
	if g, ok := m.t.Globals["Function"].(map[string]any); ok {
		global = g
	}
	merged, _ := mergeGlobals(global, res.Properties).(map[string]any)
	name, err := m.physicalName(res.LogicalID)
	if err != nil {
		return err
	}
	f := &functionSpec{LogicalID: res.LogicalID, Name: name, props: merged, CodeURI: ".", Timeout: 3 * time.Second, MemorySize: 128}
	if bm, _ := res.Metadata["BuildMethod"].(string); bm != "makefile" {
		return fmt.Errorf("Metadata.BuildMethod is %q: the local runner builds functions like `sam build` with BuildMethod: makefile only", bm)
	}
	if pt, _ := merged["PackageType"].(string); pt == "Image" {
		return fmt.Errorf("PackageType Image is not supported by the local runner")
	}
	if rt, _ := m.resolveString(merged["Runtime"]); rt != "" && !strings.HasPrefix(rt, "provided") {
		return fmt.Errorf("runtime %s is not supported by the local runner (only provided.* with a bootstrap binary)", rt)
	}
	if v, ok := merged["CodeUri"]; ok {
		s, err := m.resolveString(v)
		if err != nil {
			return fmt.Errorf("CodeUri: %w", err)
		}
		if s != "" {
			f.CodeURI = s
		}
	}
	if v, ok := merged["Timeout"]; ok {
		s, err := m.resolveString(v)
		if err == nil {
			var n int
			n, err = toInt(s)
			f.Timeout = time.Duration(n) * time.Second
		}
		if err != nil {
			return fmt.Errorf("Timeout: %w", err)
		}
	}
	if v, ok := merged["MemorySize"]; ok {
		s, err := m.resolveString(v)
		if err == nil {
			f.MemorySize, err = toInt(s)
		}
		if err != nil {
			return fmt.Errorf("MemorySize: %w", err)
		}
	}
	f.LogFormat = "JSON" // what the brief's Globals use; Text only if the template says so
	if lc, ok := merged["LoggingConfig"].(map[string]any); ok {
		rv, err := m.r.resolve(lc)
		if err != nil {
			return fmt.Errorf("LoggingConfig: %w", err)
		}
		lcm := rv.(map[string]any)
		if s, ok := lcm["LogFormat"].(string); ok && s != "" {
			f.LogFormat = s
		}
		if s, ok := lcm["ApplicationLogLevel"].(string); ok {
			f.AppLogLevel = s
		}
	}
	m.functions = append(m.functions, f)
	return nil
}

func (m *model) resolveString(v any) (string, error) {
	rv, err := m.r.resolve(v)
	if err != nil {
		return "", err
	}
	return scalarString(rv), nil
}

// environment resolves the function's variables (Globals merged). Call it after the queues
// exist, so queue URLs are the ones the emulator returned.
func (m *model) environment(f *functionSpec) (map[string]string, error) {
	env, _ := f.props["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	rv, err := m.r.resolve(vars)
	if err != nil {
		return nil, fmt.Errorf("function %s: Environment: %w", f.LogicalID, err)
	}
	out := map[string]string{}
	for k, v := range rv.(map[string]any) {
		out[k] = scalarString(v)
	}
	return out, nil
}

func (m *model) addEvents(f *functionSpec) error {
	events, _ := f.props["Events"].(map[string]any)
	for _, name := range sortedKeys(events) {
		ev, _ := events[name].(map[string]any)
		typ, _ := ev["Type"].(string)
		var props map[string]any
		if p, ok := ev["Properties"]; ok {
			rv, err := m.r.resolve(p)
			if err != nil {
				return fmt.Errorf("event %s: %w", name, err)
			}
			props, _ = rv.(map[string]any)
		}
		if props == nil {
			props = map[string]any{}
		}
		switch typ {
		case "HttpApi":
			if v, ok := props["PayloadFormatVersion"]; ok && scalarString(v) != "2.0" {
				m.warnings = append(m.warnings, fmt.Sprintf("%s.%s: PayloadFormatVersion %v is served as 2.0 locally", f.LogicalID, name, v))
			}
			method := strings.ToUpper(scalarString(props["Method"]))
			p := scalarString(props["Path"])
			rt, err := newRoute(method, p)
			if err != nil {
				return fmt.Errorf("event %s: %w", name, err)
			}
			rt.Function = f
			f.Routes = append(f.Routes, rt)
		case "SQS":
			s, err := m.sqsSource(f, name, props)
			if err != nil {
				return fmt.Errorf("event %s: %w", name, err)
			}
			if s != nil {
				f.SQS = append(f.SQS, s)
			}
		case "Schedule", "ScheduleV2":
			s, err := m.scheduleSource(f, name, typ, props)
			if err != nil {
				return fmt.Errorf("event %s: %w", name, err)
			}
			f.Schedules = append(f.Schedules, s)
		default:
			m.warnings = append(m.warnings, fmt.Sprintf("%s.%s: event type %s is not run locally", f.LogicalID, name, typ))
		}
	}
	return nil
}

func (m *model) sqsSource(f *functionSpec, name string, p map[string]any) (*sqsSource, error) {
	if v, ok := p["Enabled"]; ok {
		if b, err := toBool(v); err == nil && !b {
			return nil, nil
		}
	}
	arn := scalarString(p["Queue"])
	s := &sqsSource{Function: f, EventName: name, QueueARN: arn, BatchSize: 10}
	for _, q := range m.queues {
		if queueARN(q.Name) == arn {
			s.QueueLogicalID, s.QueueName = q.LogicalID, q.Name
		}
	}
	if s.QueueName == "" {
		return nil, fmt.Errorf("queue %q is not a queue of this template", arn)
	}
	if v, ok := p["BatchSize"]; ok {
		n, err := toInt(v)
		if err != nil || n < 1 || n > 10000 {
			return nil, fmt.Errorf("BatchSize %v: must be 1-10000", v)
		}
		s.BatchSize = n
	}
	if v, ok := p["MaximumBatchingWindowInSeconds"]; ok {
		n, err := toInt(v)
		if err != nil || n < 0 || n > 300 {
			return nil, fmt.Errorf("MaximumBatchingWindowInSeconds %v: must be 0-300", v)
		}
		s.Window = time.Duration(n) * time.Second
	}
	if s.BatchSize > 10 && s.Window == 0 {
		return nil, fmt.Errorf("BatchSize %d > 10 needs MaximumBatchingWindowInSeconds >= 1 (as on AWS)", s.BatchSize)
	}
	if l, ok := p["FunctionResponseTypes"].([]any); ok {
		for _, v := range l {
			if v == "ReportBatchItemFailures" {
				s.ReportFailures = true
			}
		}
	}
	if sc, ok := p["ScalingConfig"].(map[string]any); ok {
		if n, err := toInt(sc["MaximumConcurrency"]); err == nil {
			s.MaxConcurrency = n
		}
	}
	if _, ok := p["FilterCriteria"]; ok {
		m.warnings = append(m.warnings, fmt.Sprintf("%s.%s: FilterCriteria is ignored locally", f.LogicalID, name))
	}
	return s, nil
}

func (m *model) scheduleSource(f *functionSpec, name, typ string, p map[string]any) (*scheduleSpec, error) {
	s := &scheduleSpec{Function: f, Rule: f.LogicalID + "." + name, Enabled: true, V2: typ == "ScheduleV2", Location: time.UTC}
	if s.V2 {
		s.Expression = scalarString(p["ScheduleExpression"])
		if tz := scalarString(p["ScheduleExpressionTimezone"]); tz != "" {
			loc, err := time.LoadLocation(tz)
			if err != nil {
				return nil, fmt.Errorf("ScheduleExpressionTimezone: %w", err)
			}
			s.Location = loc
		}
	} else {
		s.Expression = scalarString(p["Schedule"])
	}
	if v, ok := p["Enabled"]; ok {
		if b, err := toBool(v); err == nil {
			s.Enabled = b
		}
	}
	if st := scalarString(p["State"]); st == "DISABLED" {
		s.Enabled = false
	}
	if in, ok := p["Input"]; ok {
		s.Input = scalarString(in)
		if !json.Valid([]byte(s.Input)) {
			return nil, fmt.Errorf("Input is not valid JSON: %s", s.Input)
		}
	}
	sched, err := parseSchedule(s.Expression)
	if err != nil {
		return nil, err
	}
	s.sched = sched
	return s, nil
}

// routePath normalises a template path the way API Gateway matches it.
func routePath(p string) string {
	if p == "" {
		return ""
	}
	p = path.Clean("/" + p)
	return p
}
