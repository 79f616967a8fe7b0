package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
)

func storedEvents(t *testing.T, customerID string) map[string]bool {
	t.Helper()
	out, err := stack.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(stack.Resources["InteractionsTable"]),
		KeyConditionExpression:    aws.String("customer_id = :c"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":c": &ddbtypes.AttributeValueMemberS{Value: customerID}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, it := range out.Items {
		ids[it["event_id"].(*ddbtypes.AttributeValueMemberS).Value] = true
	}
	return ids
}

// A storefront reusing an event_id for another event (the order id as the event id of the
// purchase and of its refund) gets a 409 naming it, and the batch it came in stores nothing;
// the purchase keeps counting once.
func TestReusedEventIDIsAConflict(t *testing.T) {
	purchase := `{"event_id":"order-9001","customer_id":"conflict-lia","type":"purchase","occurred_at":"2026-11-01T10:00:00Z","properties":{"order_id":"9001","total":5000,"currency":"EUR"}}`
	refund := `{"event_id":"order-9001","customer_id":"conflict-lia","type":"refund","occurred_at":"2026-11-05T10:00:00Z","properties":{"order_id":"9001","amount":5000}}`
	visit := `{"event_id":"visit-1","customer_id":"conflict-lia","type":"visit","occurred_at":"2026-11-05T09:00:00Z","properties":{"duration_seconds":120,"pages":4}}`
	if r := post(t, "/v1/interactions", []byte(purchase)); r.Status != 202 {
		t.Fatalf("purchase: %d %s", r.Status, r.Body)
	}
	r := post(t, "/v1/interactions", []byte(`{"interactions":[`+visit+`,`+refund+`]}`))
	var e errorBody
	r.json(t, &e)
	if r.Status != 409 || e.Error.Code != "conflict" || e.Error.Field != "interactions[1].event_id" {
		t.Fatalf("batch reusing an event id: %d %s", r.Status, r.Body)
	}
	if got := storedEvents(t, "conflict-lia"); len(got) != 1 || !got["order-9001"] {
		t.Errorf("stored after the refused batch: %v, want the purchase alone", got)
	}
	// The replay of the purchase is a duplicate, and the visit alone is accepted.
	r = post(t, "/v1/interactions", []byte(`{"interactions":[`+visit+`,`+purchase+`]}`))
	var a accepted
	r.json(t, &a)
	if r.Status != 202 || a != (accepted{Accepted: 1, Duplicates: 1}) {
		t.Fatalf("replay: %d %s", r.Status, r.Body)
	}
	queueIdle(t)
	eventually(t, 30*time.Second, "conflict-lia's aggregates", func() bool {
		status, m := customer(t, "conflict-lia")
		if status != 200 {
			return false
		}
		return m["interactions"] == 2.0 && m["orders"] == 1.0 && m["visits"] == 1.0 && m["refunds"] == 0.0
	})
}

// The store: a duplicate reports the stored fingerprint ("" for an item stored before
// fingerprints), and Remove takes back only an unapplied item with the same content.
func TestInteractionStoreFingerprints(t *testing.T) {
	ctx := context.Background()
	store, err := dynamostore.NewInteractions(stack.DynamoDB, stack.Resources["InteractionsTable"])
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	total := int64(100)
	in := interaction.Interaction{EventID: "fp-1", CustomerID: "fp-cust", Type: interaction.Purchase, OccurredAt: at,
		Properties: interaction.Properties{OrderID: "fp-o1", Total: &total, Currency: "EUR"}}
	exp := at.Add(400 * 24 * time.Hour)
	if f, err := store.PutNew(ctx, in, exp); err != nil || f.Stored != ingest.Created {
		t.Fatalf("first put: %+v %v", f, err)
	}
	if f, err := store.PutNew(ctx, in, exp); err != nil || f.Stored != ingest.DuplicatePending || f.Fingerprint != in.Fingerprint() {
		t.Fatalf("second put: %+v %v", f, err)
	}
	other := in
	other.Type = interaction.Visit
	if err := store.Remove(ctx, other); err != nil { // other content: left alone
		t.Fatal(err)
	}
	if !storedEvents(t, "fp-cust")["fp-1"] {
		t.Fatal("Remove of other content deleted the item")
	}
	if err := store.MarkApplied(ctx, "fp-cust", []string{"fp-1"}, at); err != nil {
		t.Fatal(err)
	}
	if err := store.Remove(ctx, in); err != nil { // applied: left alone
		t.Fatal(err)
	}
	if !storedEvents(t, "fp-cust")["fp-1"] {
		t.Fatal("Remove deleted an applied item")
	}
	if f, err := store.PutNew(ctx, in, exp); err != nil || f.Stored != ingest.DuplicateApplied {
		t.Fatalf("put after apply: %+v %v", f, err)
	}

	in2 := in
	in2.EventID = "fp-2"
	if _, err := store.PutNew(ctx, in2, exp); err != nil {
		t.Fatal(err)
	}
	if err := store.Remove(ctx, in2); err != nil {
		t.Fatal(err)
	}
	if storedEvents(t, "fp-cust")["fp-2"] {
		t.Fatal("Remove left an unapplied item with the same content")
	}

	// An item stored before fingerprints: no fingerprint to compare.
	if _, err := stack.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(stack.Resources["InteractionsTable"]),
		Key:              map[string]ddbtypes.AttributeValue{"customer_id": &ddbtypes.AttributeValueMemberS{Value: "fp-cust"}, "event_id": &ddbtypes.AttributeValueMemberS{Value: "fp-1"}},
		UpdateExpression: aws.String("REMOVE fp")}); err != nil {
		t.Fatal(err)
	}
	if f, err := store.PutNew(ctx, other, exp); err != nil || f.Stored != ingest.DuplicateApplied || f.Fingerprint != "" {
		t.Fatalf("put over a legacy item: %+v %v", f, err)
	}
}
