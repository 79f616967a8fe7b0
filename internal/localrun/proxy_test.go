package localrun

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// StopSQS refuses connections without fauxqs losing a message; StartSQS brings it back.
func TestStopSQSKeepsMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts emulators")
	}
	cfg := testConfig()
	cfg.ResourcePrefix = "lrproxy-"
	cfg.FaultProxies = true
	cfg.Only = []string{"WorkQueue", "WorkDLQ"}
	st, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	url := st.Resources["WorkQueue"]
	send := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// One attempt: the SDK retries a refused connection with backoff, which is not a hang.
		_, err := st.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")},
			func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
		return err
	}
	if err := send(); err != nil {
		t.Fatalf("send through the proxy: %v", err)
	}
	if err := st.StopSQS(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := send(); err == nil {
		t.Fatal("a send succeeded while SQS was stopped")
	}
	if took := time.Since(began); took > 4*time.Second {
		t.Errorf("a refused send took %s: connections should be refused, not hang", took)
	}
	if err := st.StartSQS(); err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil {
		t.Fatalf("send after StartSQS: %v", err)
	}
	out, err := st.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil || out.Attributes["ApproximateNumberOfMessages"] != "2" {
		t.Errorf("messages kept across the stop: %v %v", out, err)
	}
}

// Through the proxy, the pollers keep receiving: idle keep-alive connections that the emulator
// closes, long polls, many short requests.
func TestPollersThroughTheProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts emulators")
	}
	cfg := testConfig()
	cfg.ResourcePrefix = "lrproxy2-"
	cfg.FaultProxies = true
	cfg.Only = []string{"WorkQueue", "WorkDLQ", "WorkerFunction", "ProcessedTable"}
	st, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	url := st.Resources["WorkQueue"]
	ctx := context.Background()
	n := 0
	for round := range 3 {
		for range 10 {
			n++
			if _, err := st.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(fmt.Sprintf("ok-%d", n))}); err != nil {
				t.Fatal(err)
			}
		}
		if round < 2 {
			time.Sleep(6 * time.Second) // past Node's 5 s keep-alive timeout
		}
	}
	waitFor(t, 30*time.Second, "every message processed", func() bool {
		for i := 1; i <= n; i++ {
			if getItem(t, st, st.Resources["ProcessedTable"], fmt.Sprintf("msg#ok-%d", i)) == nil {
				return false
			}
		}
		return true
	})
}
