package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/emulator"
)

// stack is the test stack (testdata/template.yaml) shared by the integration tests; nil when
// the emulators are not installed.
var (
	stack     *Stack
	skipMsg   string
	stackLogs bytes.Buffer
)

func TestMain(m *testing.M) {
	code := func() int {
		repo, err := emulator.RepoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		flag.Parse()
		if err := emulator.Installed(repo); err != nil {
			skipMsg = err.Error()
			return m.Run()
		}
		if testing.Short() {
			skipMsg = "-short: the integration tests start emulators"
			return m.Run()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		began := time.Now()
		stack, err = Start(ctx, testConfig())
		if err != nil {
			fmt.Fprintln(os.Stderr, "start test stack:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "test stack up in %s\n", time.Since(began).Round(time.Millisecond))
		code := m.Run()
		if err := stack.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close test stack:", err)
			code = 1
		}
		if code != 0 {
			// Function output helps explain a failure; it went to log files.
			for _, id := range []string{"EchoFunction", "WorkerFunction", "TickerFunction"} {
				if b, err := os.ReadFile(stack.LogPath(id)); err == nil {
					fmt.Fprintf(os.Stderr, "--- %s log (tail)\n%s\n", id, tail(string(b), 3000))
				}
			}
			fmt.Fprintf(os.Stderr, "--- invocations\n%s\n", tail(stackLogs.String(), 5000))
		}
		return code
	}()
	os.Exit(code)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func testConfig() Config {
	return Config{
		TemplatePath:    filepath.Join("testdata", "template.yaml"),
		ResourcePrefix:  "lrtest-",
		Quiet:           true,
		Out:             &syncWriter{w: &stackLogs},
		ManualSchedules: true,
		MaxInstances:    2,
		ExtraEnv:        map[string]string{"EXTRA": "from-config"},
	}
}

func needStack(t *testing.T) *Stack {
	t.Helper()
	if stack == nil {
		t.Skipf("skipping: %s", skipMsg)
	}
	return stack
}

type echoReply struct {
	Event    events.APIGatewayV2HTTPRequest `json:"event"`
	Env      map[string]string              `json:"env"`
	PID      int                            `json:"pid"`
	Deadline int64                          `json:"deadlineMs"`
	ARN      string                         `json:"arn"`
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestHTTPRoundTrip(t *testing.T) {
	s := needStack(t)
	t.Parallel()
	req, _ := http.NewRequest(http.MethodPost, s.APIURL+"/echo/abc%20def?x=1&x=2&y=z", strings.NewReader(`{"hello":"wörld"}`))
	req.Header.Add("X-Rep", "a")
	req.Header.Add("X-Rep", "b")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", "c1=v1; c2=v2")
	req.Header.Set("User-Agent", "localrun-test")
	before := time.Now()
	resp, body := do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var r echoReply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	ev := r.Event
	checks := []struct{ name, got, want string }{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "POST /echo/{id}"},
		{"rawPath", ev.RawPath, "/echo/abc%20def"},
		{"rawQueryString", ev.RawQueryString, "x=1&x=2&y=z"},
		{"path param", ev.PathParameters["id"], "abc def"},
		{"query x", ev.QueryStringParameters["x"], "1,2"},
		{"query y", ev.QueryStringParameters["y"], "z"},
		{"repeated header", ev.Headers["x-rep"], "a,b"},
		{"content-type", ev.Headers["content-type"], "application/json"},
		{"cookies", strings.Join(ev.Cookies, "|"), "c1=v1|c2=v2"},
		{"cookie header removed", ev.Headers["cookie"], ""},
		{"body", ev.Body, `{"hello":"wörld"}`},
		{"stage", ev.RequestContext.Stage, "$default"},
		{"ctx routeKey", ev.RequestContext.RouteKey, "POST /echo/{id}"},
		{"method", ev.RequestContext.HTTP.Method, "POST"},
		{"ctx path", ev.RequestContext.HTTP.Path, "/echo/abc%20def"},
		{"sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
		{"userAgent", ev.RequestContext.HTTP.UserAgent, "localrun-test"},
		{"accountId", ev.RequestContext.AccountID, AccountID},
		{"arn", r.ARN, functionARN(s.Resources["EchoFunction"])},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if ev.IsBase64Encoded {
		t.Error("UTF-8 body sent base64-encoded")
	}
	if ev.RequestContext.TimeEpoch < before.UnixMilli()-1000 || ev.RequestContext.RequestID == "" || ev.RequestContext.Time == "" {
		t.Errorf("request context time/id: %+v", ev.RequestContext)
	}
	// Deadline: Timeout 2 s from the template.
	if d := time.UnixMilli(r.Deadline).Sub(before); d < time.Second || d > 3*time.Second {
		t.Errorf("deadline %s after the request, want ~2s", d)
	}
	// Environment: Globals merged with the function's own, intrinsics resolved locally.
	prefix := testConfig().ResourcePrefix
	env := map[string]string{
		"STAGE":                           "test",
		"PROCESSED_TABLE":                 prefix + "ProcessedTable",
		"WORK_QUEUE_URL":                  s.Resources["WorkQueue"],
		"WORK_QUEUE_ARN":                  "arn:aws:sqs:us-east-1:000000000000:" + prefix + "WorkQueue",
		"DLQ_NAME":                        prefix + "test-work-dlq",
		"TABLE_ARN":                       "arn:aws:dynamodb:us-east-1:000000000000:table/" + prefix + "ProcessedTable",
		"GREETING":                        "hello test in us-east-1",
		"PROD":                            "no",
		"EXTRA":                           "from-config",
		"AWS_REGION":                      "us-east-1",
		"AWS_LAMBDA_FUNCTION_NAME":        prefix + "EchoFunction",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"AWS_LAMBDA_LOG_LEVEL":            "DEBUG",
		"AWS_ENDPOINT_URL_DYNAMODB":       s.DynamoDBEndpoint,
		"AWS_ENDPOINT_URL_SQS":            s.SQSEndpoint,
		"AWS_ACCESS_KEY_ID":               "local",
		"HOME":                            "",
	}
	for k, want := range env {
		if got := r.Env[k]; got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	if !strings.HasSuffix(s.Resources["WorkQueue"], "/000000000000/"+prefix+"WorkQueue") {
		t.Errorf("queue URL %q not on the SQS endpoint %s", s.Resources["WorkQueue"], s.SQSEndpoint)
	}
	// Response: headers, multi-value headers, cookies.
	if got := resp.Header.Values("X-Multi"); strings.Join(got, ",") != "a,b" {
		t.Errorf("X-Multi = %v", got)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || got[0] != "session=abc; Path=/" {
		t.Errorf("Set-Cookie = %v", got)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestHTTPRoutes(t *testing.T) {
	s := needStack(t)
	t.Parallel()
	get := func(path string) (int, echoReply, []byte) {
		req, _ := http.NewRequest(http.MethodGet, s.APIURL+path, nil)
		resp, body := do(t, req)
		var r echoReply
		_ = json.Unmarshal(body, &r)
		return resp.StatusCode, r, body
	}
	if code, r, _ := get("/echo/literal"); code != 200 || r.Event.RouteKey != "GET /echo/literal" || r.Event.PathParameters != nil {
		t.Errorf("literal route: %d %q %v", code, r.Event.RouteKey, r.Event.PathParameters)
	}
	if code, r, _ := get("/echo/42?status=201"); code != 201 || r.Event.RouteKey != "GET /echo/{id}" {
		t.Errorf("param route: %d %q", code, r.Event.RouteKey)
	}
	for _, p := range []string{"/nope", "/echo", "/echo/a/b", "/files", "/files/"} {
		code, _, body := get(p)
		if code != 404 || strings.TrimSpace(string(body)) != `{"message":"Not Found"}` {
			t.Errorf("GET %s: %d %s, want 404 Not Found", p, code, body)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, s.APIURL+"/echo/1", nil)
	if resp, _ := do(t, req); resp.StatusCode != 404 {
		t.Errorf("DELETE /echo/1 (no such route): %d", resp.StatusCode)
	}

	// Greedy route, any method, binary body both ways.
	bin := []byte{0xff, 0xfe, 0x00, 0x01, 'x'}
	req, _ = http.NewRequest(http.MethodPut, s.APIURL+"/files/a/b/c.bin", bytes.NewReader(bin))
	resp, body := do(t, req)
	if resp.StatusCode != 200 || !bytes.Equal(body, bin) || resp.Header.Get("X-Proxy") != "a/b/c.bin" {
		t.Errorf("binary proxy round trip: %d %v %q", resp.StatusCode, body, resp.Header.Get("X-Proxy"))
	}

	// Function errors are API Gateway's 500.
	for _, p := range []string{"/echo/error", "/echo/panic"} {
		code, _, body := get(p)
		if code != 500 || strings.TrimSpace(string(body)) != `{"message":"Internal Server Error"}` {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
	// A panic kills the process; the next request gets a new one.
	if code, _, body := get("/echo/after-panic"); code != 200 {
		t.Errorf("after panic: %d %s", code, body)
	}

	big := bytes.Repeat([]byte("a"), maxRequestBody+1)
	req, _ = http.NewRequest(http.MethodPost, s.APIURL+"/echo/big", bytes.NewReader(big))
	if resp, _ := do(t, req); resp.StatusCode != 413 {
		t.Errorf("11 MB body: %d, want 413", resp.StatusCode)
	}
}

func TestHTTPTimeoutRestartsProcess(t *testing.T) {
	s := needStack(t)
	if testing.Short() {
		t.Skip("slow: waits for a 2 s function timeout")
	}
	// Not parallel: TestKillFunctionMidInvocation kills every EchoFunction process.
	began := time.Now()
	req, _ := http.NewRequest(http.MethodGet, s.APIURL+"/echo/slow?sleep=5000", nil)
	resp, body := do(t, req)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if d := time.Since(began); d < 1900*time.Millisecond || d > 4*time.Second {
		t.Errorf("timed out after %s, want ~2s (the function's Timeout)", d)
	}
	req, _ = http.NewRequest(http.MethodGet, s.APIURL+"/echo/fast", nil)
	if resp, body := do(t, req); resp.StatusCode != 200 {
		t.Fatalf("after timeout: %d %s", resp.StatusCode, body)
	}
}

func TestKillFunctionMidInvocation(t *testing.T) {
	s := needStack(t)
	// Not parallel: KillFunction kills every EchoFunction process, other tests' invocations too.
	type result struct {
		code int
		body []byte
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.APIURL + "/echo/victim?sleep=1500")
		if err != nil {
			done <- result{0, []byte(err.Error())}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, b}
	}()
	// Wait until the invocation is in a process, then kill the function's processes.
	deadline := time.Now().Add(5 * time.Second)
	for !inFlight(s.runners["EchoFunction"]) {
		if time.Now().After(deadline) {
			t.Fatal("invocation never reached a process")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n, err := s.KillFunction("EchoFunction"); err != nil || n == 0 {
		t.Fatalf("KillFunction: %d %v", n, err)
	}
	r := <-done
	if r.code != 500 || strings.TrimSpace(string(r.body)) != `{"message":"Internal Server Error"}` {
		t.Fatalf("killed mid-invocation: %d %s, want 500", r.code, r.body)
	}
	resp, err := http.Get(s.APIURL + "/echo/next")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after kill: %d", resp.StatusCode)
	}
	if _, err := s.KillFunction("NoSuchFunction"); err == nil {
		t.Error("KillFunction of an unknown function: no error")
	}
}

// inFlight reports whether some process of f is running an invocation.
func inFlight(f *fnRunner) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.all {
		i.mu.Lock()
		busy := i.current != nil
		i.mu.Unlock()
		if busy {
			return true
		}
	}
	return false
}

func TestSQSPartialBatchAndRedrive(t *testing.T) {
	s := needStack(t)
	t.Parallel()
	ctx := context.Background()
	queue := s.Resources["WorkQueue"]
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, body := range []string{"ok-1", "ok-2", "poison", "ok-3", "ok-4"} {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
			Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(body),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{"attr": {DataType: aws.String("String"), StringValue: aws.String("v-" + body)}},
		})
	}
	out, err := s.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queue), Entries: entries})
	if err != nil || len(out.Failed) > 0 {
		t.Fatalf("send: %v %v", err, out)
	}

	// Every good message is processed once and deleted (received once: never redelivered).
	table := s.Resources["ProcessedTable"]
	waitFor(t, 10*time.Second, "4 processed messages", func() bool {
		for _, b := range []string{"ok-1", "ok-2", "ok-3", "ok-4"} {
			if getItem(t, s, table, "msg#"+b) == nil {
				return false
			}
		}
		return true
	})
	item := getItem(t, s, table, "msg#ok-1")
	if got := item["source"].(*ddbtypes.AttributeValueMemberS).Value; got != "aws:sqs arn:aws:sqs:us-east-1:000000000000:"+testConfig().ResourcePrefix+"WorkQueue" {
		t.Errorf("event source %q", got)
	}
	if got := item["attr"].(*ddbtypes.AttributeValueMemberS).Value; got != "v-ok-1" {
		t.Errorf("message attribute %q", got)
	}

	// The poison message fails every time; after maxReceiveCount (2) receives the queue moves
	// it to the DLQ.
	dlq := s.Resources["WorkDLQ"]
	var dlqBody string
	waitFor(t, 15*time.Second, "poison message in the DLQ", func() bool {
		out, err := s.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil || len(out.Messages) == 0 {
			return false
		}
		dlqBody = aws.ToString(out.Messages[0].Body)
		return true
	})
	if dlqBody != "poison" {
		t.Fatalf("DLQ got %q", dlqBody)
	}
	for _, b := range []string{"ok-1", "ok-2", "ok-3", "ok-4"} {
		if got := getItem(t, s, table, "msg#"+b)["receives"].(*ddbtypes.AttributeValueMemberS).Value; got != "1" {
			t.Errorf("%s received %s times, want 1 (deleted after success)", b, got)
		}
	}
	attrs, err := s.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queue),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	if n := attrs.Attributes["ApproximateNumberOfMessages"] + "/" + attrs.Attributes["ApproximateNumberOfMessagesNotVisible"]; n != "0/0" {
		t.Errorf("work queue not empty: visible/in flight = %s", n)
	}
}

func TestSchedules(t *testing.T) {
	s := needStack(t)
	t.Parallel()
	ctx := context.Background()
	fired, err := s.FireSchedules(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(fired) != 2 {
		t.Fatalf("fired %+v, want both rules", fired)
	}
	for _, f := range fired {
		if f.Error != "" || f.Function != "TickerFunction" {
			t.Errorf("fired %+v", f)
		}
	}
	table := s.Resources["ProcessedTable"]
	// ScheduleV2 with Input: the function gets the Input as its event.
	if getItem(t, s, table, "tick#nightly") == nil {
		t.Error("the Nightly rule's Input did not reach the function")
	}
	// Schedule without Input: an EventBridge scheduled event.
	out, err := s.DynamoDB.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(table), IndexName: aws.String("by-kind"),
		KeyConditionExpression:    aws.String("kind = :k"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":k": &ddbtypes.AttributeValueMemberS{Value: "tick"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var scheduled map[string]any
	for _, it := range out.Items {
		var ev map[string]any
		_ = json.Unmarshal([]byte(it["event"].(*ddbtypes.AttributeValueMemberS).Value), &ev)
		if ev["detail-type"] == "Scheduled Event" {
			scheduled = ev
		}
	}
	if scheduled == nil || scheduled["source"] != "aws.events" || scheduled["region"] != Region || scheduled["account"] != AccountID {
		t.Errorf("scheduled event: %v", scheduled)
	}

	// The admin route fires one rule.
	resp, err := http.Post(s.APIURL+"/_local/schedules/fire?rule=TickerFunction.Nightly", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Fired []Fired }
	_ = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(res.Fired) != 1 || res.Fired[0].Rule != "TickerFunction.Nightly" || res.Fired[0].Error != "" {
		t.Errorf("admin fire: %d %+v", resp.StatusCode, res)
	}
	if _, err := s.FireSchedules(ctx, "Nope.Rule"); err == nil {
		t.Error("unknown rule: no error")
	}
	resp, err = http.Post(s.APIURL+"/_local/schedules/fire?rule=Nope", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("admin fire of an unknown rule: %d", resp.StatusCode)
	}
}

func TestStats(t *testing.T) {
	s := needStack(t)
	// Not parallel: it counts its own invocations.
	before := s.Invocations()["EchoFunction"]
	for range 3 {
		resp, err := http.Get(s.APIURL + "/echo/count")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := s.Invocations()["EchoFunction"] - before; got != 3 {
		t.Errorf("invocations grew by %d, want 3", got)
	}
	st := s.Stats()["EchoFunction"]
	if st.ColdStarts < 1 || st.Processes < 1 || st.Processes > 2 {
		t.Errorf("stats %+v (MaxInstances 2)", st)
	}
}

func TestConcurrencyIsCapped(t *testing.T) {
	s := needStack(t)
	t.Parallel()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			resp, err := http.Get(s.APIURL + "/echo/concurrent?sleep=200")
			if err == nil {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if n := s.runners["EchoFunction"].processCount(); n > 2 {
		t.Errorf("%d processes, MaxInstances is 2", n)
	}
}

// A second, separate stack: Close must leave no process or port behind.
func TestCloseLeavesNothingRunning(t *testing.T) {
	needStack(t)
	if testing.Short() {
		t.Skip("slow: starts a second stack")
	}
	t.Parallel()
	cfg := testConfig()
	cfg.ResourcePrefix = "close-"
	s2, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s2.APIURL + "/echo/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var pids []int
	for _, p := range s2.emus {
		pids = append(pids, p.PID())
	}
	for _, f := range s2.runners {
		f.mu.Lock()
		for i := range f.all {
			pids = append(pids, i.cmd.Process.Pid)
		}
		f.mu.Unlock()
	}
	if len(pids) < 3 {
		t.Fatalf("expected 2 emulators and a function process, got pids %v", pids)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(b), ") Z") {
				t.Errorf("process %d still running after Close", pid)
			}
		}
	}
	for _, u := range []string{s2.APIURL, s2.DynamoDBEndpoint, s2.SQSEndpoint} {
		if resp, err := http.Get(u + "/"); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after Close", u)
		}
	}
	if _, err := os.Stat(s2.binDir); !os.IsNotExist(err) {
		t.Errorf("binary dir %s left behind", s2.binDir)
	}
	if err := s2.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func getItem(t *testing.T, s *Stack, table, pk string) map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := s.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
