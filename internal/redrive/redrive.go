// Package redrive moves messages from a dead-letter queue back to its source queue, for when the
// cause of the failures is fixed: receive up to 10, send them in one SendMessageBatch, delete
// from the DLQ only the ones the send accepted. A message whose send failed stays in the DLQ
// (visible again after the visibility timeout); a crash between send and delete leaves a copy
// in both, which the idempotent consumers make harmless.
package redrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Client is the part of the SQS API redrive uses.
type Client interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// Options say what to move.
type Options struct {
	DLQ, Source string // queue URLs
	DryRun      bool   // list what would move, move nothing
	Max         int    // at most this many messages; 0 means all
	// Visibility is how long a received message stays hidden while it is being moved (or, in a
	// dry run, listed); 0 means 60 s.
	Visibility time.Duration
	// Out, if set, gets one line per message: id and body (truncated to BodyChars).
	Out       io.Writer
	BodyChars int // 0 means 120
}

// Result is what a run did.
type Result struct {
	Seen   int // messages received from the DLQ
	Moved  int // sent to the source and deleted from the DLQ
	Failed int // not moved (send or delete refused); still in the DLQ
}

// Run moves (or, in a dry run, lists) the DLQ's messages.
func Run(ctx context.Context, c Client, o Options) (Result, error) {
	if o.DLQ == "" || o.Source == "" {
		return Result{}, errors.New("redrive: DLQ and source queue URLs are required")
	}
	if o.Visibility <= 0 {
		o.Visibility = time.Minute
	}
	if o.BodyChars <= 0 {
		o.BodyChars = 120
	}
	fifo := strings.HasSuffix(o.Source, ".fifo")
	var res Result
	var listed []types.Message // dry run: made visible again at the end
	defer func() {
		if len(listed) > 0 {
			// A fresh context: the caller's may be done, and the messages must not stay hidden.
			release(context.WithoutCancel(ctx), c, o.DLQ, listed)
		}
	}()
	for o.Max == 0 || res.Seen < o.Max {
		n := int32(10)
		if o.Max > 0 && o.Max-res.Seen < 10 {
			n = int32(o.Max - res.Seen)
		}
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(o.DLQ), MaxNumberOfMessages: n, WaitTimeSeconds: 1,
			VisibilityTimeout:           int32(o.Visibility / time.Second),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return res, fmt.Errorf("receive from %s: %w", o.DLQ, err)
		}
		if len(out.Messages) == 0 {
			return res, nil
		}
		res.Seen += len(out.Messages)
		if o.Out != nil {
			for _, m := range out.Messages {
				fmt.Fprintf(o.Out, "%s %s\n", aws.ToString(m.MessageId), truncate(aws.ToString(m.Body), o.BodyChars))
			}
		}
		if o.DryRun {
			listed = append(listed, out.Messages...)
			continue
		}
		moved, err := move(ctx, c, o.Source, o.DLQ, out.Messages, fifo)
		res.Moved += moved
		res.Failed += len(out.Messages) - moved
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// move sends msgs to the source and deletes from the DLQ those the send accepted.
func move(ctx context.Context, c Client, source, dlq string, msgs []types.Message, fifo bool) (int, error) {
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		e := types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body, MessageAttributes: m.MessageAttributes}
		if fifo {
			e.MessageGroupId = aws.String(m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)])
			e.MessageDeduplicationId = m.MessageId
		}
		entries[i] = e
	}
	sent, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(source), Entries: entries})
	if err != nil {
		return 0, fmt.Errorf("send to %s: %w", source, err)
	}
	var dels []types.DeleteMessageBatchRequestEntry
	for _, s := range sent.Successful {
		i, _ := strconv.Atoi(aws.ToString(s.Id))
		dels = append(dels, types.DeleteMessageBatchRequestEntry{Id: s.Id, ReceiptHandle: msgs[i].ReceiptHandle})
	}
	var sendErr error
	if len(sent.Failed) > 0 {
		f := sent.Failed[0]
		sendErr = fmt.Errorf("send to %s: %d of %d refused, e.g. %s: %s", source, len(sent.Failed), len(msgs), aws.ToString(f.Code), aws.ToString(f.Message))
	}
	if len(dels) == 0 {
		return 0, sendErr
	}
	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(dlq), Entries: dels})
	if err != nil {
		// Sent but not deleted: the copies left in the DLQ are duplicates the consumers ignore.
		return 0, errors.Join(sendErr, fmt.Errorf("delete from %s after sending: %w", dlq, err))
	}
	return len(del.Successful), sendErr
}

// release makes listed messages visible again.
func release(ctx context.Context, c Client, dlq string, msgs []types.Message) {
	for start := 0; start < len(msgs); start += 10 {
		end := min(start+10, len(msgs))
		var entries []types.ChangeMessageVisibilityBatchRequestEntry
		for i, m := range msgs[start:end] {
			entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0})
		}
		_, _ = c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(dlq), Entries: entries})
	}
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
