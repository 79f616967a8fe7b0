package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
)

func profile(t *testing.T, id string) map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := stack.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(stack.Resources["CustomersTable"]), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{
			"customer_id": &ddbtypes.AttributeValueMemberS{Value: id},
			"sk":          &ddbtypes.AttributeValueMemberS{Value: dynamostore.ProfileSK},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func num(t *testing.T, item map[string]ddbtypes.AttributeValue, name string) int64 {
	t.Helper()
	n, ok := item[name].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v
}

// The scheduled rescoring re-evaluates the customers whose review time has come, and only
// them: a stored result that time has made stale (a "new customer" 40 days after the first
// order) is corrected, and the next review moves forward.
func TestScheduledRescoring(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	ids := []string{"cust-review-due", "cust-review-later"}
	for i, id := range ids {
		body := fmt.Sprintf(`{"event_id":"rv-%d","customer_id":%q,"type":"purchase","occurred_at":%q,"properties":{"order_id":"o-rv-%d","total":4000,"currency":"EUR"}}`,
			i, id, now.Add(-40*24*time.Hour).Format(time.RFC3339), i)
		if r := post(t, "/v1/interactions", []byte(body)); r.Status != 202 {
			t.Fatalf("POST %d %s", r.Status, r.Body)
		}
	}
	for _, id := range ids {
		eventually(t, 30*time.Second, id+" applied", func() bool { return num(t, profile(t, id), "n") == 1 })
	}
	queueIdle(t)
	// Make the stored results stale, as time would: both say "new customer" (written as rescore
	// writes, so that the segment counters count it); one is due now, the other in a day.
	cs, err := dynamostore.NewCustomers(stack.DynamoDB, stack.Resources["CustomersTable"])
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		p, err := cs.Placement(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		place(t, id, p.Segment, p.Program, "new_customer")
		due := now.Add(-time.Hour).Unix()
		if i == 1 {
			due = now.Add(24 * time.Hour).Unix()
		}
		_, err = stack.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(stack.Resources["CustomersTable"]),
			Key: map[string]ddbtypes.AttributeValue{
				"customer_id": &ddbtypes.AttributeValueMemberS{Value: id},
				"sk":          &ddbtypes.AttributeValueMemberS{Value: dynamostore.ProfileSK},
			},
			UpdateExpression: aws.String("SET rv_shard = :shard, rv_at = :due"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
				":shard": &ddbtypes.AttributeValueMemberS{Value: dynamostore.ReviewShard(id)},
				":due":   &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(due, 10)},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	before := profile(t, ids[1])

	fired, err := stack.FireSchedules(ctx, "ScheduleRescoreFunction")
	if err != nil || len(fired) != 1 || fired[0].Error != "" {
		t.Fatalf("fire: %v %+v", err, fired)
	}
	eventually(t, 30*time.Second, "the due customer re-evaluated", func() bool {
		_, stale := profile(t, ids[0])["sub"].(*ddbtypes.AttributeValueMemberSS)
		return !stale
	})
	queueIdle(t)
	due := profile(t, ids[0])
	if at := num(t, due, "rv_at"); at != 0 && at <= now.Unix() {
		t.Errorf("next review %d not moved past now %d", at, now.Unix())
	}
	after := profile(t, ids[1])
	if num(t, after, "v") != num(t, before, "v") {
		t.Errorf("a customer not due was rewritten: version %d -> %d", num(t, before, "v"), num(t, after, "v"))
	}
}
