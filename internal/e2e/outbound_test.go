package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// takeOutbound takes the OutboundQueue's events whose id want accepts (deleting them), at most
// limit of them (0: all), until the queue has been empty three polls in a row; every other
// message is put back.
func takeOutbound(t *testing.T, want func(id string) bool, limit int) []map[string]any {
	t.Helper()
	ctx := context.Background()
	url := aws.String(stack.Resources["OutboundQueue"])
	var others []*string
	defer func() {
		for _, h := range others {
			_, _ = stack.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: url, ReceiptHandle: h, VisibilityTimeout: 0})
		}
	}()
	var taken []map[string]any
	for empty := 0; empty < 3; {
		out, err := stack.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for _, m := range out.Messages {
			var ev map[string]any
			_ = json.Unmarshal([]byte(aws.ToString(m.Body)), &ev)
			id, _ := ev["id"].(string)
			if !want(id) || (limit > 0 && len(taken) == limit) {
				others = append(others, m.ReceiptHandle)
				continue
			}
			_, _ = stack.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url, ReceiptHandle: m.ReceiptHandle})
			taken = append(taken, ev)
		}
		if limit > 0 && len(taken) == limit {
			break
		}
	}
	return taken
}

// outboundEvent takes the outbound event with this id off the OutboundQueue (nil if absent);
// every other message is put back.
func outboundEvent(t *testing.T, id string) map[string]any {
	t.Helper()
	if evs := takeOutbound(t, func(got string) bool { return got == id }, 1); len(evs) == 1 {
		return evs[0]
	}
	return nil
}
