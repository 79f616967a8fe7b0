package loadgen

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
)

// PutItem stores body as one item: the bare write an interaction's storage is compared with.
func PutItem(ctx context.Context, db *dynamodb.Client, table string, body map[string]any) error {
	item, err := attributevalue.MarshalMap(body)
	if err != nil {
		return err
	}
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	return err
}

// QueueDepth is the queue's visible plus in-flight messages.
func QueueDepth(ctx context.Context, q *sqs.Client, url string) (int, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"} {
		v, err := strconv.Atoi(out.Attributes[a])
		if err != nil {
			return 0, fmt.Errorf("%s of %s: %w", a, url, err)
		}
		n += v
	}
	return n, nil
}

// WaitIdle waits until the queue holds no message, visible or in flight, or limit passes; it
// says whether the queue went idle.
func WaitIdle(ctx context.Context, q *sqs.Client, url string, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(200 * time.Millisecond) {
		if n, err := QueueDepth(ctx, q, url); err == nil && n == 0 {
			return true
		}
	}
	return false
}

// WaitApplied scans the customers table until the interactions counted in the aggregates of the
// customers whose id starts with prefix add up to want, or limit passes; it returns the last
// sum. The scan is bookkeeping: pass an unmetered client.
func WaitApplied(ctx context.Context, db *dynamodb.Client, table, prefix string, want int, limit time.Duration) int {
	got := 0
	for deadline := time.Now().Add(limit); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(250 * time.Millisecond) {
		got = 0
		ForEachCustomer(ctx, db, table, prefix, func(item map[string]any) {
			if v, ok := item["n"].(float64); ok {
				got += int(v)
			}
		})
		if got >= want {
			return got
		}
	}
	return got
}

// CountPending counts the applied-marks the aggregates of prefix's customers still hold.
func CountPending(ctx context.Context, db *dynamodb.Client, table, prefix string) int {
	n := 0
	ForEachCustomer(ctx, db, table, prefix, func(item map[string]any) {
		if p, ok := item["pend"].([]string); ok {
			n += len(p)
		}
	})
	return n
}

// ForEachCustomer calls f with the aggregate item of every customer whose id starts with
// prefix (the customer's other items, its segment history, are skipped).
func ForEachCustomer(ctx context.Context, db *dynamodb.Client, table, prefix string, f func(map[string]any)) {
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		for _, it := range page.Items {
			var m map[string]any
			if attributevalue.UnmarshalMap(it, &m) != nil {
				continue
			}
			if id, _ := m["customer_id"].(string); strings.HasPrefix(id, prefix) && m["sk"] == dynamostore.ProfileSK {
				f(m)
			}
		}
	}
}
