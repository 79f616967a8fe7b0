// Package sqsqueue sends JSON messages to an SQS queue in batches (SendMessageBatch: up to 10
// messages and 256 KiB a call), retrying the entries SQS reports failed.
package sqsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/interaction"
)

// Sender is the one SQS call the publisher needs.
type Sender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Publisher sends to one queue.
type Publisher struct {
	sqs      Sender
	queueURL string
}

const (
	maxEntries   = 10
	maxBatchSize = 240 << 10 // under SQS's 256 KiB, leaving room for the request envelope
	maxAttempts  = 4
)

// New builds a publisher; it rejects a nil client or empty URL at wiring time.
func New(client Sender, queueURL string) (*Publisher, error) {
	if client == nil || queueURL == "" {
		return nil, errors.New("sqsqueue: client and queue URL are required")
	}
	return &Publisher{sqs: client, queueURL: queueURL}, nil
}

// Enqueue implements ingest.Queue.
func (p *Publisher) Enqueue(ctx context.Context, envs []interaction.Envelope) error {
	bodies := make([]string, len(envs))
	for i, e := range envs {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("marshal envelope of %s: %w", e.CustomerID, err)
		}
		bodies[i] = string(b)
	}
	return p.SendJSON(ctx, bodies)
}

// SendJSON sends each body as one message, batching as SQS allows.
func (p *Publisher) SendJSON(ctx context.Context, bodies []string) error {
	var batch []types.SendMessageBatchRequestEntry
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.send(ctx, batch)
		batch, size = nil, 0
		return err
	}
	for i, b := range bodies {
		if len(b) > maxBatchSize {
			return fmt.Errorf("message %d is %d bytes, over the SQS limit", i, len(b))
		}
		if len(batch) == maxEntries || size+len(b) > maxBatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(batch))), MessageBody: aws.String(b)})
		size += len(b)
	}
	return flush()
}

// SendDelayed sends one message that becomes visible after delay (at most SQS's 15 minutes).
func (p *Publisher) SendDelayed(ctx context.Context, body string, delay time.Duration) error {
	secs := min(max(int32(delay/time.Second), 0), 900)
	return p.send(ctx, []types.SendMessageBatchRequestEntry{{Id: aws.String("0"), MessageBody: aws.String(body), DelaySeconds: secs}})
}

func (p *Publisher) send(ctx context.Context, entries []types.SendMessageBatchRequestEntry) error {
	for attempt := 1; ; attempt++ {
		out, err := p.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(p.queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("send message batch: %w", err)
		}
		if len(out.Failed) == 0 {
			return nil
		}
		if attempt == maxAttempts {
			f := out.Failed[0]
			return fmt.Errorf("send message batch: %d entries failed, first: %s %s", len(out.Failed), aws.ToString(f.Code), aws.ToString(f.Message))
		}
		failed := map[string]bool{}
		for _, f := range out.Failed {
			if f.SenderFault {
				return fmt.Errorf("send message batch: entry refused: %s %s", aws.ToString(f.Code), aws.ToString(f.Message))
			}
			failed[aws.ToString(f.Id)] = true
		}
		retry := entries[:0:0]
		for _, e := range entries {
			if failed[aws.ToString(e.Id)] {
				retry = append(retry, e)
			}
		}
		entries = retry
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*50) * time.Millisecond):
		}
	}
}
