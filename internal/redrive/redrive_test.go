package redrive_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/emulator"
	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/redrive"
	"github.com/referral-engine/referral-engine/internal/template"
)

// Against fauxqs, with RescoreQueue and RescoreDLQ as template.yaml declares them: a dry run
// lists every message and moves none; a real run moves every message exactly once.
func TestRedriveOnEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the SQS emulator")
	}
	repo, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := localrun.Start(ctx, localrun.Config{RepoDir: repo, Quiet: true, ManualSchedules: true, ResourcePrefix: "rd-",
		Only: []string{"RescoreQueue", "RescoreDLQ"}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tmpl, err := template.Load(filepath.Join(repo, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	// Both the source's and the DLQ's logical id, and the source's URL, find the same pair.
	var dlq, source string
	for _, target := range []redrive.Target{{Queue: "RescoreQueue", Prefix: "rd-"}, {Queue: "RescoreDLQ", Prefix: "rd-"}, {Queue: st.Resources["RescoreQueue"]}} {
		d, s, err := redrive.Resolve(ctx, st.SQS, tmpl, target)
		if err != nil {
			t.Fatalf("resolve %+v: %v", target, err)
		}
		if d != st.Resources["RescoreDLQ"] || s != st.Resources["RescoreQueue"] {
			t.Fatalf("resolve %+v: dlq %s source %s, want %s and %s", target, d, s, st.Resources["RescoreDLQ"], st.Resources["RescoreQueue"])
		}
		dlq, source = d, s
	}
	if _, _, err := redrive.Resolve(ctx, st.SQS, tmpl, redrive.Target{Queue: "NoSuchQueue", Prefix: "rd-"}); err == nil {
		t.Error("an unknown logical id resolved")
	}

	const n = 25
	want := map[string]bool{}
	for i := range n {
		body := fmt.Sprintf(`{"v":1,"customer_id":"c-%d","review":true}`, i)
		want[body] = true
		if _, err := st.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(body),
			MessageAttributes: map[string]types.MessageAttributeValue{"origin": {DataType: aws.String("String"), StringValue: aws.String("test")}}}); err != nil {
			t.Fatal(err)
		}
	}

	var out bytes.Buffer
	res, err := redrive.Run(ctx, st.SQS, redrive.Options{DLQ: dlq, Source: source, DryRun: true, Out: &out, BodyChars: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Seen != n || res.Moved != 0 {
		t.Fatalf("dry run: %+v, want %d seen, 0 moved", res, n)
	}
	if lines := strings.Count(out.String(), "\n"); lines != n || !strings.Contains(out.String(), "...") {
		t.Errorf("dry run printed %d lines (want %d, bodies truncated):\n%s", lines, n, out.String())
	}
	if got := drain(t, st.SQS, source, false); len(got) != 0 {
		t.Fatalf("dry run moved %d messages", len(got))
	}

	// --max moves only that many; the rest follows in a second run.
	res, err = redrive.Run(ctx, st.SQS, redrive.Options{DLQ: dlq, Source: source, Max: 7})
	if err != nil || res.Moved != 7 || res.Failed != 0 {
		t.Fatalf("max 7: %+v, %v", res, err)
	}
	res, err = redrive.Run(ctx, st.SQS, redrive.Options{DLQ: dlq, Source: source})
	if err != nil || res.Moved != n-7 || res.Failed != 0 {
		t.Fatalf("the rest: %+v, %v (want %d moved)", res, err, n-7)
	}
	got := drain(t, st.SQS, source, true)
	if len(got) != n {
		t.Fatalf("source received %d messages, want %d", len(got), n)
	}
	for body, count := range got {
		if !want[body] || count != 1 {
			t.Errorf("source got %q %d times", body, count)
		}
	}
	if left := drain(t, st.SQS, dlq, false); len(left) != 0 {
		t.Errorf("%d messages left in the DLQ", len(left))
	}
}

// drain receives every visible message of url (deleting them when del) and counts bodies; it
// checks the attributes were carried over.
func drain(t *testing.T, c *sqs.Client, url string, del bool) map[string]int {
	t.Helper()
	ctx := context.Background()
	got := map[string]int{}
	for {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			VisibilityTimeout: 60, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return got
		}
		for _, m := range out.Messages {
			got[aws.ToString(m.Body)]++
			if a := m.MessageAttributes["origin"]; aws.ToString(a.StringValue) != "test" {
				t.Errorf("message %s lost its attributes: %v", aws.ToString(m.MessageId), m.MessageAttributes)
			}
			if del {
				_, _ = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
			}
		}
	}
}
