package sqsqueue

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/meter"
)

func TestNewClientEndpointAndRegion(t *testing.T) {
	for _, endpoint := range []string{"", "http://127.0.0.1:9324"} {
		c := NewClient(awsclient.Env{Config: aws.Config{Region: "eu-west-1"}, SQSEndpoint: endpoint})
		o := c.Options()
		if got := aws.ToString(o.BaseEndpoint); got != endpoint {
			t.Errorf("endpoint %q, want %q", got, endpoint)
		}
		if o.Region != "eu-west-1" {
			t.Errorf("region %q", o.Region)
		}
	}
}

// Every request counts, failed ones included (SQS bills them).
func TestNewClientIsMetered(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"__type":"com.amazonaws.sqs#InternalError"}`, http.StatusBadRequest)
	}))
	defer srv.Close()
	c := NewClient(awsclient.Env{
		Config:      aws.Config{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1},
		SQSEndpoint: srv.URL,
	})
	before := meter.Snapshot()
	for range 3 {
		_, _ = c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(srv.URL + "/1/q"), MessageBody: aws.String("x")})
	}
	if got := meter.Snapshot().Sub(before).SQSRequests; got != 3 {
		t.Errorf("metered %d requests, want 3", got)
	}
}

func TestAuditCalls(t *testing.T) {
	url := aws.String("http://127.0.0.1:9324/000000000000/app-RescoreQueue")
	for _, tt := range []struct {
		op     string
		params any
		want   meter.Call
	}{
		{"SendMessage", &sqs.SendMessageInput{QueueUrl: url}, meter.Call{Action: "sqs:SendMessage", Resource: "queue/app-RescoreQueue"}},
		{"SendMessageBatch", &sqs.SendMessageBatchInput{QueueUrl: url}, meter.Call{Action: "sqs:SendMessage", Resource: "queue/app-RescoreQueue"}},
		{"DeleteMessageBatch", &sqs.DeleteMessageBatchInput{QueueUrl: url}, meter.Call{Action: "sqs:DeleteMessage", Resource: "queue/app-RescoreQueue"}},
		{"ReceiveMessage", &sqs.ReceiveMessageInput{QueueUrl: url}, meter.Call{Action: "sqs:ReceiveMessage", Resource: "queue/app-RescoreQueue"}},
		{"GetQueueAttributes", &sqs.GetQueueAttributesInput{QueueUrl: url}, meter.Call{Action: "sqs:GetQueueAttributes", Resource: "queue/app-RescoreQueue"}},
		{"ListQueues", &sqs.ListQueuesInput{}, meter.Call{Action: "sqs:ListQueues", Resource: "*"}},
	} {
		got := auditCalls(tt.op, tt.params)
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.op, got, tt.want)
		}
	}
}
