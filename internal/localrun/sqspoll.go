package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// pollWait is the long-poll wait of each ReceiveMessage. Short enough that Close does not wait
// on it (the call is cancelled anyway), long enough to keep an idle poller cheap.
const pollWait = 5

// faultPollWait is the long-poll wait when the stack runs fault proxies: a long poll cut by
// StopSQS stays open on fauxqs's side, which still hands it a message (a receive nobody sees),
// until its wait ends; a short wait bounds such lost receives to one per message and outage.
const faultPollWait = 1

// poller is one of the event source mapping's pollers for a queue: receive a batch, invoke,
// delete what succeeded. Messages that failed stay in flight until the queue's visibility
// timeout passes, and the queue redrives them to its DLQ after maxReceiveCount receives.
type poller struct {
	s        *Stack
	src      *sqsSource
	queueURL string
	fn       *fnRunner
	noWait   bool // the emulator rejected WaitTimeSeconds: poll with short sleeps instead
}

func (p *poller) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		msgs, err := p.receiveBatch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.s.logger.Warn("sqs poll failed", "queue", p.src.QueueName, "err", err)
			sleep(ctx, backoff)
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if len(msgs) == 0 {
			if p.noWait {
				sleep(ctx, 200*time.Millisecond)
			}
			continue
		}
		p.handle(ctx, msgs)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// receiveBatch long-polls for the first messages, then keeps receiving until the batch is
// full or the batching window has passed, like Lambda's MaximumBatchingWindowInSeconds.
func (p *poller) receiveBatch(ctx context.Context) ([]sqstypes.Message, error) {
	wait := int32(pollWait)
	if p.s.sqsProxy != nil {
		wait = faultPollWait
	}
	msgs, err := p.receive(ctx, min(p.src.BatchSize, 10), wait)
	if err != nil || len(msgs) == 0 || p.src.Window == 0 {
		return msgs, err
	}
	deadline := time.Now().Add(p.src.Window)
	for len(msgs) < p.src.BatchSize {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		wait := int32(left / time.Second)
		more, err := p.receive(ctx, min(p.src.BatchSize-len(msgs), 10), wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			break // invoke with what we have; the next poll reports the error
		}
		if len(more) == 0 && wait == 0 {
			sleep(ctx, min(left, 50*time.Millisecond))
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

func (p *poller) receive(ctx context.Context, n int, wait int32) ([]sqstypes.Message, error) {
	in := &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.queueURL),
		MaxNumberOfMessages:         int32(n),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	}
	if !p.noWait && wait > 0 {
		in.WaitTimeSeconds = wait
	}
	out, err := p.s.SQS.ReceiveMessage(ctx, in)
	if err != nil && !p.noWait && in.WaitTimeSeconds > 0 && ctx.Err() == nil {
		// Fall back to short polling once if the emulator does not take WaitTimeSeconds.
		in.WaitTimeSeconds = 0
		if out2, err2 := p.s.SQS.ReceiveMessage(ctx, in); err2 == nil {
			p.noWait = true
			p.s.logger.Warn("sqs long polling unsupported, short polling instead", "queue", p.src.QueueName, "err", err)
			return out2.Messages, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

func (p *poller) handle(ctx context.Context, msgs []sqstypes.Message) {
	began := time.Now()
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = sqsRecord(m, p.src.QueueARN)
	}
	payload, _ := json.Marshal(ev)
	trigger := fmt.Sprintf("sqs %s (%d msgs)", p.src.QueueName, len(msgs))
	if p.s.dups != nil {
		p.deliverCopy(ctx, payload, len(msgs))
		sleep(ctx, p.s.dups.delay())
	}
	out, err := p.fn.invoke(ctx, payload)
	if err != nil {
		if ctx.Err() == nil {
			p.s.logInvocation(p.src.Function.LogicalID, trigger, began, "error: "+err.Error()+"; batch returns to the queue")
		}
		return // nothing deleted: every message comes back after the visibility timeout
	}
	failed := map[string]bool{}
	outcome := "ok"
	if p.src.ReportFailures {
		var resp events.SQSEventResponse
		if len(out) > 0 && string(out) != "null" {
			if err := json.Unmarshal(out, &resp); err != nil {
				// Lambda treats an unparsable partial-batch response as a failure of the batch.
				p.s.logInvocation(p.src.Function.LogicalID, trigger, began, "invalid batch response; batch returns to the queue")
				return
			}
		}
		inBatch := map[string]bool{}
		for _, m := range msgs {
			inBatch[aws.ToString(m.MessageId)] = true
		}
		for _, f := range resp.BatchItemFailures {
			if f.ItemIdentifier == "" || !inBatch[f.ItemIdentifier] {
				// As on Lambda: an empty or unknown id fails the whole batch.
				p.s.logInvocation(p.src.Function.LogicalID, trigger, began, fmt.Sprintf("batch item failure %q not in batch; batch returns to the queue", f.ItemIdentifier))
				return
			}
			failed[f.ItemIdentifier] = true
		}
		if len(failed) > 0 {
			outcome = strconv.Itoa(len(failed)) + " failed"
		}
	}
	var del []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if failed[aws.ToString(m.MessageId)] {
			continue
		}
		del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	// Delete even if Close has begun: the function ran, its effects are done.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for start := 0; start < len(del); start += 10 {
		out, err := p.s.SQS.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: del[start:min(start+10, len(del))]})
		if err == nil && len(out.Failed) > 0 {
			err = errors.New(aws.ToString(out.Failed[0].Message))
		}
		if err != nil {
			p.s.logger.Warn("sqs delete failed", "queue", p.src.QueueName, "err", err)
		}
	}
	p.s.logInvocation(p.src.Function.LogicalID, trigger, began, outcome)
}

func sqsRecord(m sqstypes.Message, queueARN string) events.SQSMessage {
	r := events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   aws.ToString(m.Body),
		Md5OfBody:              aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             map[string]string{},
		MessageAttributes:      map[string]events.SQSMessageAttribute{},
		EventSource:            "aws:sqs",
		EventSourceARN:         queueARN,
		AWSRegion:              Region,
	}
	for k, v := range m.Attributes {
		r.Attributes[k] = v
	}
	for k, v := range m.MessageAttributes {
		a := events.SQSMessageAttribute{DataType: aws.ToString(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
		a.StringListValues = v.StringListValues
		a.BinaryListValues = v.BinaryListValues
		r.MessageAttributes[k] = a
	}
	return r
}
