package localrun

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The project's own template must load and resolve: the runner and the deployed stack read the
// same file, so a construct the runner cannot handle fails here first.
func TestProjectTemplate(t *testing.T) {
	tpl, err := loadTemplate(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := newModel(tpl, "", nil, "http://127.0.0.1:9324")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.functions) == 0 {
		t.Fatal("no functions")
	}
	// Dead-letter queues are created before the queues that redrive to them.
	created := map[string]bool{}
	for _, q := range m.queues {
		if q.dlq != "" && !created[q.dlq] {
			t.Errorf("queue %s comes before its DLQ %s", q.LogicalID, q.dlq)
		}
		created[q.LogicalID] = true
	}
	// Every function's environment resolves to local names; none is left empty.
	for _, f := range m.functions {
		env, err := m.environment(f)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range env {
			if v == "" {
				t.Errorf("%s: env %s resolved to nothing", f.LogicalID, k)
			}
		}
		if len(f.Routes)+len(f.SQS)+len(f.Schedules) == 0 {
			t.Errorf("%s has no trigger the runner serves", f.LogicalID)
		}
	}
	if len(m.warnings) > 0 {
		t.Logf("warnings: %v", m.warnings)
	}
}

func TestTestTemplateModel(t *testing.T) {
	tpl, err := loadTemplate(filepath.Join("testdata", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := newModel(tpl, "p-", map[string]string{"Stage": "qa"}, "http://q")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.tables) != 1 {
		t.Errorf("tables %d: the IsProd-only table must be left out", len(m.tables))
	}
	if m.queues[0].Name != "p-qa-work-dlq" || m.queues[1].Name != "p-WorkQueue" {
		t.Errorf("queues %s, %s", m.queues[0].Name, m.queues[1].Name)
	}
	rp := m.queues[1].Props["RedrivePolicy"].(map[string]any)
	if rp["deadLetterTargetArn"] != "arn:aws:sqs:us-east-1:000000000000:p-qa-work-dlq" || scalarString(rp["maxReceiveCount"]) != "2" {
		t.Errorf("redrive policy %v", rp)
	}
	byID := map[string]*functionSpec{}
	for _, f := range m.functions {
		byID[f.LogicalID] = f
	}
	echo := byID["EchoFunction"]
	if echo.Timeout != 2*time.Second || echo.MemorySize != 128 || len(echo.Routes) != 4 {
		t.Errorf("echo: timeout %s memory %d routes %d", echo.Timeout, echo.MemorySize, len(echo.Routes))
	}
	env, err := m.environment(echo)
	if err != nil {
		t.Fatal(err)
	}
	if env["GREETING"] != "hello qa in us-east-1" || env["STAGE"] != "qa" || env["PROCESSED_TABLE"] != "p-ProcessedTable" {
		t.Errorf("env %v", env)
	}
	w := byID["WorkerFunction"].SQS[0]
	if w.QueueName != "p-WorkQueue" || w.BatchSize != 10 || !w.ReportFailures || byID["WorkerFunction"].Timeout != 10*time.Second {
		t.Errorf("sqs source %+v", w)
	}
	sch := byID["TickerFunction"].Schedules
	if len(sch) != 2 || sch[0].Rule != "TickerFunction.EveryMinute" || sch[1].Input != `{"job":"nightly"}` {
		t.Errorf("schedules %+v", sch)
	}
}

func TestResolver(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.yaml")
	err := os.WriteFile(p, []byte(`
Parameters:
  Env: {Type: String, Default: dev}
  Zones: {Type: CommaDelimitedList, Default: "a,b,c"}
Mappings:
  Sizes: {dev: {mem: 256}}
Conditions:
  IsDev: !Equals [!Ref Env, dev]
  NotDev: !Not [!Condition IsDev]
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${Env}-t"
  Q:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true}
  X:
    Type: Custom::Thing
    Properties:
      Sub: !Sub "${T}|${T.Arn}|${!Literal}|${AWS::AccountId}"
      SubVars: !Sub ["${a}-${Env}", {a: !Ref Q}]
      Join: !Join ["/", [x, !Ref Env, !GetAtt Q.QueueName]]
      Select: !Select [1, !Ref Zones]
      If: !If [NotDev, prod, !FindInMap [Sizes, !Ref Env, mem]]
      Dropped: !If [IsDev, !Ref AWS::NoValue, kept]
      Long:
        Fn::GetAtt: [T, Arn]
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := loadTemplate(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newModel(tpl, "", nil, "http://sqs")
	if err != nil {
		t.Fatal(err)
	}
	rv, err := m.r.resolve(tpl.Resources["X"].Properties)
	if err != nil {
		t.Fatal(err)
	}
	got := rv.(map[string]any)
	want := map[string]string{
		"Sub":     "dev-t|arn:aws:dynamodb:us-east-1:000000000000:table/dev-t|${Literal}|000000000000",
		"SubVars": "http://sqs/000000000000/Q.fifo-dev",
		"Join":    "x/dev/Q.fifo",
		"Select":  "b",
		"If":      "256",
		"Long":    "arn:aws:dynamodb:us-east-1:000000000000:table/dev-t",
	}
	for k, w := range want {
		if s := scalarString(got[k]); s != w {
			t.Errorf("%s = %q, want %q", k, s, w)
		}
	}
	if _, ok := got["Dropped"]; ok {
		t.Error("AWS::NoValue property kept")
	}
	if _, err := m.r.resolve(map[string]any{"Ref": "Nope"}); err == nil {
		t.Error("Ref to nothing: no error")
	}
}

func TestRoutes(t *testing.T) {
	mk := func(method, path string) *route {
		r, err := newRoute(method, path)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	routes := []*route{
		mk("", ""),
		mk("ANY", "/files/{proxy+}"),
		mk("GET", "/v1/customers/{id}"),
		mk("GET", "/v1/customers/top"),
		mk("ANY", "/v1/customers/{id}"),
		mk("POST", "/v1/interactions"),
		mk("GET", "/"),
	}
	sortRoutes(routes)
	pick := func(method, path string) (string, map[string]string) {
		for _, r := range routes {
			if p, ok := r.match(method, path); ok {
				return r.Key, p
			}
		}
		return "", nil
	}
	cases := []struct{ method, path, key, params string }{
		{"GET", "/v1/customers/top", "GET /v1/customers/top", ""},
		{"GET", "/v1/customers/42", "GET /v1/customers/{id}", "id=42"},
		{"DELETE", "/v1/customers/42", "ANY /v1/customers/{id}", "id=42"},
		{"POST", "/v1/interactions", "POST /v1/interactions", ""},
		{"GET", "/v1/interactions", "$default", ""},
		{"PUT", "/files/a/b", "ANY /files/{proxy+}", "proxy=a/b"},
		{"GET", "/files", "$default", ""},
		{"GET", "/", "GET /", ""},
	}
	for _, c := range cases {
		key, params := pick(c.method, c.path)
		var ps []string
		for k, v := range params {
			ps = append(ps, k+"="+v)
		}
		if key != c.key || strings.Join(ps, ",") != c.params {
			t.Errorf("%s %s -> %q %v, want %q %s", c.method, c.path, key, params, c.key, c.params)
		}
	}
	if _, err := newRoute("GET", "/a/{p+}/b"); err == nil {
		t.Error("greedy segment not last: no error")
	}
}

func TestSchedules_Parse(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	cases := []struct{ expr, from, want string }{
		{"rate(5 minutes)", "2025-01-01T10:00:30Z", "2025-01-01T10:05:30Z"},
		{"rate(1 hour)", "2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z"},
		{"cron(0 3 * * ? *)", "2025-01-01T10:00:00Z", "2025-01-02T03:00:00Z"},
		{"cron(0/15 * * * ? *)", "2025-01-01T10:07:00Z", "2025-01-01T10:15:00Z"},
		{"cron(30 9 ? * MON-FRI *)", "2025-01-03T10:00:00Z", "2025-01-06T09:30:00Z"}, // Fri -> Mon
		{"cron(0 0 1 JAN,JUL ? *)", "2025-02-01T00:00:00Z", "2025-07-01T00:00:00Z"},
		{"cron(5,10 12 15 * ? 2026)", "2025-01-01T00:00:00Z", "2026-01-15T12:05:00Z"},
		{"cron(0 18 ? * 1 *)", "2025-01-01T00:00:00Z", "2025-01-05T18:00:00Z"}, // 1 = Sunday
	}
	for _, c := range cases {
		s, err := parseSchedule(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got := s.next(at(c.from)); !got.Equal(at(c.want)) {
			t.Errorf("%s after %s = %s, want %s", c.expr, c.from, got.Format(time.RFC3339), c.want)
		}
	}
	for _, bad := range []string{"rate(0 minutes)", "rate(5 weeks)", "cron(0 3 * * *)", "cron(0 3 L * ? *)", "cron(0 3 * * 2#1 *)", "cron(61 * * * ? *)", "every 5 minutes"} {
		if _, err := parseSchedule(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// Payload 2.0 response inference: a result without statusCode is a 200 JSON body.
func TestWriteResponse(t *testing.T) {
	a := &httpAPI{}
	cases := []struct {
		out         string
		status      int
		body, ctype string
	}{
		{`{"statusCode":201,"headers":{"Content-Type":"text/plain"},"body":"hi"}`, 201, "hi", "text/plain"},
		{`{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`, 200, "hi", "application/json"},
		{`{"hello":"world"}`, 200, `{"hello":"world"}`, "application/json"},
		{`"just a string"`, 200, `"just a string"`, "application/json"},
		{`{"statusCode":99}`, 500, `{"message":"Internal Server Error"}` + "\n", "application/json"},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		if got := a.writeResponse(w, []byte(c.out)); got != c.status || w.Code != c.status {
			t.Errorf("%s: status %d/%d, want %d", c.out, got, w.Code, c.status)
		}
		if w.Body.String() != c.body || w.Header().Get("Content-Type") != c.ctype {
			t.Errorf("%s: body %q type %q", c.out, w.Body.String(), w.Header().Get("Content-Type"))
		}
	}
}
