package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

type accepted struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

type errorBody struct {
	Error struct{ Code, Field, Message string } `json:"error"`
}

// customer fetches GET /v1/customers/{id} as a generic map, without the fields that change on
// every write.
func customer(t *testing.T, id string) (int, map[string]any) {
	t.Helper()
	r := get(t, "/v1/customers/"+id)
	if r.Status != 200 {
		return r.Status, nil
	}
	var m map[string]any
	r.json(t, &m)
	// Evaluated at read time: the score decays by the second.
	// Vouchers are issued asynchronously (the 5-star review link).
	for _, k := range []string{"updated_at", "computed_at", "score", "breakdown", "next_review_at", "vouchers"} {
		delete(m, k)
	}
	return r.Status, m
}

// queueIdle waits until the rescore queue has no visible or in-flight messages.
func queueIdle(t *testing.T) {
	t.Helper()
	url := stack.Resources["RescoreQueue"]
	eventually(t, 30*time.Second, "the rescore queue to drain", func() bool {
		out, err := stack.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
}

func TestInteractionsFlowToAggregates(t *testing.T) {
	body := readFile(t, "../../events/requests/interactions-batch.json")
	r := post(t, "/v1/interactions", body)
	if r.Status != 202 {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	var a accepted
	r.json(t, &a)
	if a != (accepted{Accepted: 10}) {
		t.Fatalf("POST answered %+v", a)
	}

	var anna map[string]any
	eventually(t, 30*time.Second, "cust-anna's aggregates", func() bool {
		status, m := customer(t, "cust-anna")
		anna = m
		// The segment history is written just after the aggregate: wait for both.
		h, _ := m["segment_history"].([]any)
		return status == 200 && m["interactions"] == 8.0 && len(h) > 0
	})
	want := map[string]any{
		"orders": 1.0, "five_star_reviews": 1.0, "reviews": 1.0, "email_opens": 1.0, "visits": 1.0,
		"visit_seconds": 420.0, "visit_pages": 6.0, "nps_last": 10.0, "nps_promoter_answers": 1.0,
		"shares": 1.0, "average_basket": 12900.0, "basket_currency": "EUR",
		"profile_fields": []any{"birthday", "preferences"}, "social_follows": []any{"instagram"},
		"spend": map[string]any{"EUR": map[string]any{"total": 12900.0, "orders": 1.0}},
	}
	for k, v := range want {
		if !reflect.DeepEqual(anna[k], v) {
			t.Errorf("cust-anna %s = %#v, want %#v", k, anna[k], v)
		}
	}
	var marco map[string]any
	eventually(t, 30*time.Second, "cust-marco's aggregates", func() bool {
		status, m := customer(t, "cust-marco")
		marco = m
		return status == 200 && m["interactions"] == 2.0
	})
	if marco["referred_by"] != "ANNA-7KQ2XH" || marco["discount_orders"] != 1.0 || marco["signups"] != 1.0 {
		t.Errorf("cust-marco: %v", marco)
	}

	scoreOf := func() float64 {
		var v struct {
			Score float64 `json:"score"`
		}
		get(t, "/v1/customers/cust-anna").json(t, &v)
		return v.Score
	}
	scoreBefore := scoreOf()
	// A replay answers duplicates and changes nothing, even once the rescore queue is drained.
	r = post(t, "/v1/interactions", body)
	r.json(t, &a)
	if r.Status != 202 || a != (accepted{Duplicates: 10}) {
		t.Fatalf("replay: %d %+v", r.Status, a)
	}
	queueIdle(t)
	_, again := customer(t, "cust-anna")
	if !reflect.DeepEqual(again, anna) {
		t.Errorf("replay changed cust-anna:\nbefore %v\nafter  %v", anna, again)
	}
	// The score is evaluated when read and decays by the second: equal to its last decimal.
	if after := scoreOf(); scoreBefore == 0 || after < scoreBefore-0.1 || after > scoreBefore+0.1 {
		t.Errorf("replay changed the score: %.1f -> %.1f", scoreBefore, after)
	}
}

func TestBadInputStoresNothing(t *testing.T) {
	r := post(t, "/v1/interactions", readFile(t, "../../events/requests/interactions-invalid.json"))
	if r.Status != 400 {
		t.Fatalf("status %d %s", r.Status, r.Body)
	}
	var e errorBody
	r.json(t, &e)
	if e.Error.Code != "invalid_field" || e.Error.Field != "interactions[1].properties.stars" || e.Error.Message == "" {
		t.Errorf("error body %s", r.Body)
	}
	out, err := stack.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(stack.Resources["InteractionsTable"]),
		KeyConditionExpression:    aws.String("customer_id = :c"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":c": &ddbtypes.AttributeValueMemberS{Value: "cust-bad"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Count != 0 {
		t.Errorf("a refused batch stored %d interactions", out.Count)
	}
	queueIdle(t)
	if status, _ := customer(t, "cust-bad"); status != 404 {
		t.Errorf("GET cust-bad: %d, want 404", status)
	}
	for _, tc := range []struct {
		body, field string
		status      int
	}{
		{`{`, "body", 400},
		{`{"event_id":"x","customer_id":"c","type":"nps","occurred_at":"2026-01-01T00:00:00Z","properties":{"score":11}}`, "properties.score", 400},
		{`{"interactions":[]}`, "interactions", 400},
	} {
		r := post(t, "/v1/interactions", []byte(tc.body))
		r.json(t, &e)
		if r.Status != tc.status || e.Error.Field != tc.field {
			t.Errorf("%s: %d %s", tc.body, r.Status, r.Body)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	body := readFile(t, "../../events/requests/interaction-single.json")
	for _, key := range []string{"", "not-a-key"} {
		r := call(t, "POST", "/v1/interactions", body, key)
		var e errorBody
		r.json(t, &e)
		if r.Status != 401 || e.Error.Code != "unauthorized" || e.Error.Field != "x-api-key" {
			t.Errorf("key %q: %d %s", key, r.Status, r.Body)
		}
		if r := call(t, "GET", "/v1/customers/cust-anna", nil, key); r.Status != 401 {
			t.Errorf("GET with key %q: %d", key, r.Status)
		}
	}
	if r := get(t, "/v1/customers/nobody-at-all"); r.Status != 404 {
		t.Errorf("unknown customer: %d %s", r.Status, r.Body)
	}
}

// Many storefront requests for one customer, each sent twice at once, across several consumer
// instances: every interaction counts exactly once.
func TestConcurrentRequestsAndReplays(t *testing.T) {
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		body := []byte(fmt.Sprintf(`{"event_id":"conc-%d","customer_id":"cust-busy","type":"visit","occurred_at":"2026-11-01T10:00:00Z","properties":{"duration_seconds":%d}}`, i, i+1))
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := post(t, "/v1/interactions", body); r.Status != 202 {
					t.Errorf("POST: %d %s", r.Status, r.Body)
				}
			}()
		}
	}
	wg.Wait()
	eventually(t, 60*time.Second, "40 visits", func() bool {
		_, m := customer(t, "cust-busy")
		return m != nil && m["visits"] == float64(n)
	})
	queueIdle(t)
	_, m := customer(t, "cust-busy")
	if m["visits"] != float64(n) || m["visit_seconds"] != float64(n*(n+1)/2) {
		t.Errorf("visits %v seconds %v", m["visits"], m["visit_seconds"])
	}
}

// A message that can never be processed is retried maxReceiveCount times, then moved to the
// DLQ, while the good messages around it are processed.
func TestPoisonMessageEndsInDLQ(t *testing.T) {
	ctx := context.Background()
	q, dlq := stack.Resources["RescoreQueue"], stack.Resources["RescoreDLQ"]
	good := `{"v":1,"customer_id":"cust-poison-neighbour","interactions":[{"event_id":"pn-1","customer_id":"cust-poison-neighbour","type":"comment","occurred_at":"2026-11-01T10:00:00Z","properties":{}}]}`
	// The neighbour's interaction must be stored as the API would have stored it.
	if r := post(t, "/v1/interactions", []byte(`{"event_id":"pn-1","customer_id":"cust-poison-neighbour","type":"comment","occurred_at":"2026-11-01T10:00:00Z"}`)); r.Status != 202 {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	_, err := stack.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q), Entries: []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("poison"), MessageBody: aws.String(`{"v":1,"customer_id":"x","interactions":"not a list"}`)},
		{Id: aws.String("good"), MessageBody: aws.String(good)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []sqstypes.Message
	eventually(t, 60*time.Second, "the poison message in the DLQ", func() bool {
		out, err := stack.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Messages...)
		return len(got) > 0
	})
	if len(got) != 1 || aws.ToString(got[0].Body) != `{"v":1,"customer_id":"x","interactions":"not a list"}` {
		t.Fatalf("DLQ holds %d messages: %v", len(got), got)
	}
	_, m := customer(t, "cust-poison-neighbour")
	if m == nil || m["comments"] != 1.0 {
		t.Errorf("the good message was not applied exactly once: %v", m)
	}
	// It was tried maxReceiveCount (5) times: the function saw it 5 times.
	if n, _ := strconv.Atoi(got[0].Attributes["ApproximateReceiveCount"]); n < 5 {
		t.Logf("DLQ receive count %d (fauxqs may reset it on redrive)", n)
	}
	for _, msg := range got {
		_, _ = stack.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: msg.ReceiptHandle})
	}
	_ = json.Valid
}

// An interaction is stored with its properties as a plain map under their API names (what an
// operator reading the table, an export or an erasure sees).
func TestStoredInteractionShape(t *testing.T) {
	body := `{"event_id":"shape-1","customer_id":"shape-anna","type":"purchase","occurred_at":"2026-11-01T10:00:00Z",` +
		`"properties":{"order_id":"o-shape","total":4900,"currency":"EUR","discount_used":true}}`
	if r := post(t, "/v1/interactions", []byte(body)); r.Status != 202 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	out, err := stack.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(stack.Resources["InteractionsTable"]),
		Key:            map[string]ddbtypes.AttributeValue{"customer_id": &ddbtypes.AttributeValueMemberS{Value: "shape-anna"}, "event_id": &ddbtypes.AttributeValueMemberS{Value: "shape-1"}},
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var it struct {
		Properties map[string]any `dynamodbav:"properties"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"order_id": "o-shape", "total": 4900.0, "currency": "EUR", "discount_used": true}
	if !reflect.DeepEqual(it.Properties, want) {
		t.Errorf("stored properties %#v, want %#v", it.Properties, want)
	}
}
