package sqsqueue

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/meter"
)

// NewClient builds the SQS client of a function from the environment awsclient read, metered
// and, under meter.AuditOn, audited. It lives here rather than in awsclient so that a function
// that never calls SQS (the read APIs) does not link the SQS package: its package init runs in
// every cold start of a binary that links it (bench-coldstart).
func NewClient(env awsclient.Env) *sqs.Client {
	opts := []func(*sqs.Options){
		func(o *sqs.Options) {
			if env.SQSEndpoint != "" {
				o.BaseEndpoint = aws.String(env.SQSEndpoint)
			}
		},
		Metered,
	}
	if meter.AuditOn() { // local tests only: which calls the template's policies must allow
		opts = append(opts, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, meter.Audit(auditCalls)) })
	}
	return sqs.NewFromConfig(env.Config, opts...)
}

// Metered counts every request of an SQS client (meter.Snapshot).
func Metered(o *sqs.Options) { o.APIOptions = append(o.APIOptions, meter.SQSRequests) }

// auditCalls names the IAM action of an SQS call: the batch APIs are authorised by their
// single-message actions.
func auditCalls(op string, params any) []meter.Call {
	var url *string
	switch p := params.(type) {
	case *sqs.SendMessageInput:
		url = p.QueueUrl
	case *sqs.SendMessageBatchInput:
		url, op = p.QueueUrl, "SendMessage"
	case *sqs.ReceiveMessageInput:
		url = p.QueueUrl
	case *sqs.DeleteMessageInput:
		url = p.QueueUrl
	case *sqs.DeleteMessageBatchInput:
		url, op = p.QueueUrl, "DeleteMessage"
	case *sqs.GetQueueAttributesInput:
		url = p.QueueUrl
	case *sqs.ChangeMessageVisibilityInput:
		url = p.QueueUrl
	}
	r := "*"
	if url != nil {
		r = "queue/" + (*url)[strings.LastIndexByte(*url, '/')+1:]
	}
	return []meter.Call{{Action: "sqs:" + op, Resource: r}}
}
