package redrive

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/template"
)

// Lookup is the part of the SQS API Resolve uses.
type Lookup interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	ListQueues(ctx context.Context, in *sqs.ListQueuesInput, opts ...func(*sqs.Options)) (*sqs.ListQueuesOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Target names the queues: Queue is a queue's logical id in the template (the source queue or
// its DLQ) or a source queue's URL; To, when set, is the source URL and Queue the DLQ's URL.
type Target struct {
	Queue, To string
	// Prefix is put before logical ids to make local queue names (localrun's ResourcePrefix).
	Prefix string
	// Stack, when set, finds a logical id's queue as CloudFormation names it: <stack>-<id>-<suffix>.
	Stack string
}

// Resolve finds the DLQ and source queue URLs of t.
func Resolve(ctx context.Context, c Lookup, tmpl *template.Template, t Target) (dlq, source string, err error) {
	if t.To != "" {
		if !isURL(t.Queue) || !isURL(t.To) {
			return "", "", fmt.Errorf("with --to, --queue must be the DLQ's URL and --to the source queue's URL")
		}
		return t.Queue, t.To, nil
	}
	if isURL(t.Queue) {
		out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(t.Queue),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
		if err != nil {
			return "", "", fmt.Errorf("read the redrive policy of %s: %w", t.Queue, err)
		}
		var rp struct {
			Target string `json:"deadLetterTargetArn"`
		}
		_ = json.Unmarshal([]byte(out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]), &rp)
		if rp.Target == "" {
			return "", "", fmt.Errorf("%s has no redrive policy: name the source queue, or give the DLQ's URL with --to <source URL>", t.Queue)
		}
		// arn:aws:sqs:<region>:<account>:<name>
		parts := strings.Split(rp.Target, ":")
		if len(parts) != 6 {
			return "", "", fmt.Errorf("%s: dead-letter target %q is not a queue ARN", t.Queue, rp.Target)
		}
		u, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
		if err != nil {
			return "", "", fmt.Errorf("find dead-letter queue %s: %w", parts[5], err)
		}
		return aws.ToString(u.QueueUrl), t.Queue, nil
	}

	if tmpl == nil {
		return "", "", fmt.Errorf("%q is not a URL and there is no template to find it in", t.Queue)
	}
	res := tmpl.Resources[t.Queue]
	if res == nil || res.Type != template.TypeQueue {
		return "", "", fmt.Errorf("%q is neither a queue of the template (%s) nor a URL", t.Queue, strings.Join(tmpl.Queues(), ", "))
	}
	srcID, dlqID := t.Queue, ""
	if rp, ok := res.Properties["RedrivePolicy"].(map[string]any); ok {
		dlqID, _, _ = template.GetAtt(rp["deadLetterTargetArn"])
	} else {
		// A DLQ: its source is the queue whose redrive policy names it.
		dlqID, srcID = t.Queue, ""
		for _, q := range tmpl.Queues() {
			if rp, ok := tmpl.Resources[q].Properties["RedrivePolicy"].(map[string]any); ok {
				if id, _, _ := template.GetAtt(rp["deadLetterTargetArn"]); id == t.Queue {
					srcID = q
				}
			}
		}
	}
	if srcID == "" || dlqID == "" {
		return "", "", fmt.Errorf("%s has no dead-letter queue, and no queue uses it as one", t.Queue)
	}
	if dlq, err = queueURL(ctx, c, t, dlqID); err != nil {
		return "", "", err
	}
	if source, err = queueURL(ctx, c, t, srcID); err != nil {
		return "", "", err
	}
	return dlq, source, nil
}

func queueURL(ctx context.Context, c Lookup, t Target, id string) (string, error) {
	if t.Stack == "" {
		out, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(t.Prefix + id)})
		if err != nil {
			return "", fmt.Errorf("find queue %s%s: %w", t.Prefix, id, err)
		}
		return aws.ToString(out.QueueUrl), nil
	}
	prefix := t.Stack + "-" + id + "-"
	out, err := c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(prefix)})
	if err != nil {
		return "", fmt.Errorf("list queues %s*: %w", prefix, err)
	}
	if len(out.QueueUrls) != 1 {
		return "", fmt.Errorf("%d queues are named %s*; pass the queue's URL (stack outputs) instead", len(out.QueueUrls), prefix)
	}
	return out.QueueUrls[0], nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") }
