package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/referral"
)

// ---- helpers of the referral tests

// putCode stores a voucher code item as issue-voucher would (docs/referrals.md).
func putCode(t *testing.T, code, referrer string, useLimit, uses int, expires time.Time) {
	t.Helper()
	item, err := attributevalue.MarshalMap(map[string]any{
		"pk": "CODE#" + code, "code": code, "customer_id": referrer, "program": "ambassador", "status": "active",
		"created_at": time.Now().UTC().Format(time.RFC3339), "expires_at": expires.Unix(), "use_limit": useLimit, "uses": uses,
		"friend_offer":    map[string]any{"type": "percent_off", "value": 15, "description": "15% off the first order"},
		"referrer_reward": map[string]any{"type": "loyalty_points", "value": 500, "description": "500 points"},
		"reason":          "request",
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stack.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(stack.Resources["VouchersTable"]), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func codeUses(t *testing.T, code string) int {
	t.Helper()
	out, err := stack.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(stack.Resources["VouchersTable"]),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "CODE#" + code}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var it struct {
		Uses int `dynamodbav:"uses"`
	}
	_ = attributevalue.UnmarshalMap(out.Item, &it)
	return it.Uses
}

type redemption struct {
	Code, Order, Friend, Email string
	Total                      int64
	Fingerprints               map[string]string
}

func (r redemption) body() []byte {
	m := map[string]any{"code": r.Code, "order_id": r.Order, "friend_customer_id": r.Friend, "friend_email": r.Email,
		"order_total": r.Total, "currency": "EUR"}
	if r.Email == "" {
		m["friend_email"] = r.Friend + "@example.com"
	}
	if r.Total == 0 {
		m["order_total"] = 4900
	}
	if r.Fingerprints != nil {
		m["fingerprints"] = r.Fingerprints
	}
	b, _ := json.Marshal(m)
	return b
}

type redeemed struct {
	ReferralID  string         `json:"referral_id"`
	Status      string         `json:"status"`
	FriendOffer map[string]any `json:"friend_offer"`
}

func redeem(t *testing.T, r redemption) (int, redeemed, errorBody) {
	t.Helper()
	resp := post(t, "/v1/referrals", r.body())
	var ok redeemed
	var e errorBody
	if resp.Status == 201 {
		resp.json(t, &ok)
	} else {
		_ = json.Unmarshal(resp.Body, &e)
	}
	return resp.Status, ok, e
}

func mustRedeem(t *testing.T, r redemption) redeemed {
	t.Helper()
	status, ok, e := redeem(t, r)
	if status != 201 || ok.Status != "pending" || ok.ReferralID != referral.ReferralID(r.Order) {
		t.Fatalf("redeem %+v: %d %+v %+v", r, status, ok, e)
	}
	return ok
}

func refuse(t *testing.T, r redemption, reason string) {
	t.Helper()
	status, _, e := redeem(t, r)
	if status != 422 || e.Error.Code != reason || e.Error.Message == "" {
		t.Fatalf("redeem %+v: %d %+v, want 422 %s", r, status, e, reason)
	}
}

// queueEmpty waits until a queue has no visible or in-flight messages.
func queueEmpty(t *testing.T, logicalID string) {
	t.Helper()
	url := stack.Resources[logicalID]
	eventually(t, 60*time.Second, logicalID+" to drain", func() bool {
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

func scanAll(t *testing.T, logicalID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	var start map[string]ddbtypes.AttributeValue
	for {
		res, err := stack.DynamoDB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(stack.Resources[logicalID]), ExclusiveStartKey: start, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range res.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(it, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		if start = res.LastEvaluatedKey; len(start) == 0 {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

// snapshot is every item the referral lifecycle writes (and the voucher codes).
func snapshot(t *testing.T) map[string][]map[string]any {
	t.Helper()
	for _, q := range []string{"RedeemQueue", "GrantQueue"} {
		queueEmpty(t, q)
	}
	out := map[string][]map[string]any{}
	for _, tb := range []string{"ReferralsTable", "LedgerTable", "StatsTable"} {
		out[tb] = scanAll(t, tb)
	}
	// Of the VouchersTable, the codes of the refusal test (other tests' campaigns may still run).
	for _, it := range scanAll(t, "VouchersTable") {
		if pk, _ := it["pk"].(string); strings.HasPrefix(pk, "CODE#RF-") {
			out["VouchersTable"] = append(out["VouchersTable"], it)
		}
	}
	return out
}

func getReferral(t *testing.T, id string) map[string]any {
	t.Helper()
	out, err := stack.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(stack.Resources["ReferralsTable"]),
		Key:            map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "REF#" + id}, "sk": &ddbtypes.AttributeValueMemberS{Value: "REF"}},
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Item) == 0 {
		return nil
	}
	var m map[string]any
	_ = attributevalue.UnmarshalMap(out.Item, &m)
	return m
}

// makeDue moves a pending referral's release time into the past, as if its hold had passed.
func makeDue(t *testing.T, id string) {
	t.Helper()
	_, err := stack.DynamoDB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(stack.Resources["ReferralsTable"]),
		Key:              map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "REF#" + id}, "sk": &ddbtypes.AttributeValueMemberS{Value: "REF"}},
		UpdateExpression: aws.String("SET release_at = :t"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":t": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

type ledgerEntry struct {
	SK     string `dynamodbav:"sk"`
	Points int64  `dynamodbav:"points"`
}

// ledger returns a customer's entries (sk → points) and balance.
func ledgerOf(t *testing.T, customer string) (map[string]int64, int64) {
	t.Helper()
	out, err := stack.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(stack.Resources["LedgerTable"]),
		KeyConditionExpression:    aws.String("customer_id = :c"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":c": &ddbtypes.AttributeValueMemberS{Value: customer}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	entries, balance := map[string]int64{}, int64(0)
	for _, it := range out.Items {
		var e ledgerEntry
		_ = attributevalue.UnmarshalMap(it, &e)
		if e.SK == "BALANCE" {
			balance = e.Points
		} else {
			entries[e.SK] = e.Points
		}
	}
	return entries, balance
}

func grantMessage(id string) string { return `{"v":1,"referral_id":"` + id + `"}` }

func sendBatch(t *testing.T, logicalID string, bodies ...string) {
	t.Helper()
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, b := range bodies {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(b)})
	}
	out, err := stack.SQS.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(stack.Resources[logicalID]), Entries: entries})
	if err != nil || len(out.Failed) > 0 {
		t.Fatalf("send to %s: %v %v", logicalID, err, out)
	}
}

func drainDLQ(t *testing.T, logicalID string, want int) []string {
	t.Helper()
	var got []string
	ctx := context.Background()
	eventually(t, 90*time.Second, fmt.Sprintf("%d message(s) in %s", want, logicalID), func() bool {
		out, err := stack.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(stack.Resources[logicalID]), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
			_, _ = stack.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(stack.Resources[logicalID]), ReceiptHandle: m.ReceiptHandle})
		}
		return len(got) >= want
	})
	return got
}

// ---- tests

// Redeem → 201 with the friend's offer; a replay answers the same; the referrer gets a
// referral_signup; a different request for the order is already_redeemed.
func TestReferralRedeemAndReplay(t *testing.T) {
	putCode(t, "RT-ANNA1", "rt-anna", 10, 0, time.Now().Add(24*time.Hour))
	r := redemption{Code: "rt-anna1", Order: "rt-ord-1", Friend: "rt-marco", Fingerprints: map[string]string{"payment": "pm_0123456789abcdef"}}
	first := mustRedeem(t, r)
	if first.FriendOffer["type"] != "percent_off" || first.FriendOffer["value"] != 15.0 {
		t.Errorf("friend offer %v", first.FriendOffer)
	}
	_, again, _ := redeem(t, r)
	if !reflect.DeepEqual(again, first) {
		t.Errorf("replay answered %+v, want %+v", again, first)
	}
	if n := codeUses(t, "RT-ANNA1"); n != 1 {
		t.Errorf("code uses %d after a replay, want 1", n)
	}
	ref := getReferral(t, first.ReferralID)
	if ref["status"] != "pending" || ref["referrer_id"] != "rt-anna" || ref["due_shard"] == nil || ref["friend_email_hash"] == "rt-marco@example.com" {
		t.Errorf("referral %v", ref)
	}
	// The email and the fingerprint are stored only hashed.
	for _, it := range scanAll(t, "ReferralsTable") {
		if s := fmt.Sprint(it); contains(s, "rt-marco@example.com") || contains(s, "pm_0123456789abcdef") {
			t.Errorf("clear personal data stored: %v", it)
		}
	}
	other := r
	other.Friend = "rt-someone-else"
	refuse(t, other, referral.AlreadyRedeemed)
	eventually(t, 30*time.Second, "the referrer's referral_signup", func() bool {
		_, m := customer(t, "rt-anna")
		return m != nil && m["link_signups"] == 1.0
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// Every refusal reason, each storing nothing.
func TestReferralRefusalsStoreNothing(t *testing.T) {
	now := time.Now()
	putCode(t, "RF-REF", "rf-referrer", 100, 0, now.Add(24*time.Hour))
	putCode(t, "RF-EXPIRED", "rf-referrer", 100, 0, now.Add(-time.Hour))
	putCode(t, "RF-FULL", "rf-referrer", 2, 2, now.Add(24*time.Hour))
	// An accepted redemption by rf-friend1 (email, payment fingerprint): they become known.
	mustRedeem(t, redemption{Code: "RF-REF", Order: "rf-o1", Friend: "rf-friend1", Email: "friend1@example.com",
		Fingerprints: map[string]string{"payment": "pm_friend1_card", "device": "dev_friend1_phone"}})
	// rf-friend1 now refers others with their own code.
	putCode(t, "RF-F1", "rf-friend1", 100, 0, now.Add(24*time.Hour))
	// A customer with an order already.
	if r := post(t, "/v1/interactions", []byte(`{"event_id":"rf-buy","customer_id":"rf-buyer","type":"purchase","occurred_at":"2026-10-01T10:00:00Z","properties":{"order_id":"rf-old","total":1000,"currency":"EUR"}}`)); r.Status != 202 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	eventually(t, 30*time.Second, "rf-buyer's order", func() bool { _, m := customer(t, "rf-buyer"); return m != nil && m["orders"] == 1.0 })
	// A referrer at the monthly cap.
	putCode(t, "RF-CAPPED", "rf-capped", 100, 0, now.Add(24*time.Hour))
	capItem, _ := attributevalue.MarshalMap(map[string]any{"pk": "CAP#rf-capped#" + referral.Month(time.Now()), "sk": "CAP", "n": 20})
	if _, err := stack.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(stack.Resources["ReferralsTable"]), Item: capItem}); err != nil {
		t.Fatal(err)
	}
	// An order refunded before its redemption.
	if r := post(t, "/v1/orders/rf-o13/refunds", nil); r.Status != 200 {
		t.Fatalf("refund: %d %s", r.Status, r.Body)
	}

	cases := []struct {
		name   string
		r      redemption
		reason string
	}{
		{"unknown code", redemption{Code: "NO-SUCH-CODE", Order: "rf-o2", Friend: "rf-f2"}, referral.UnknownCode},
		{"expired", redemption{Code: "RF-EXPIRED", Order: "rf-o3", Friend: "rf-f3"}, referral.CodeExpired},
		{"limit", redemption{Code: "RF-FULL", Order: "rf-o4", Friend: "rf-f4"}, referral.CodeLimitReached},
		{"self: same customer", redemption{Code: "RF-REF", Order: "rf-o5", Friend: "rf-referrer"}, referral.SelfReferral},
		{"self: referrer's email", redemption{Code: "RF-F1", Order: "rf-o6", Friend: "rf-alias", Email: "Friend1@Example.com"}, referral.SelfReferral},
		{"self: referrer's email alias", redemption{Code: "RF-F1", Order: "rf-o6b", Friend: "rf-alias1b", Email: "friend1+promo@example.com"}, referral.SelfReferral},
		{"self: referrer's payment fingerprint", redemption{Code: "RF-F1", Order: "rf-o7", Friend: "rf-alias2", Fingerprints: map[string]string{"payment": "pm_friend1_card"}}, referral.SelfReferral},
		{"self: referrer's device fingerprint", redemption{Code: "RF-F1", Order: "rf-o8", Friend: "rf-alias3", Fingerprints: map[string]string{"device": "dev_friend1_phone", "address": "addr_other_000"}}, referral.SelfReferral},
		{"not first: has orders", redemption{Code: "RF-REF", Order: "rf-o9", Friend: "rf-buyer"}, referral.NotFirstPurchase},
		{"not first: already referred", redemption{Code: "RF-REF", Order: "rf-o10", Friend: "rf-friend1", Email: "friend1-new@example.com"}, referral.NotFirstPurchase},
		{"already redeemed", redemption{Code: "RF-REF", Order: "rf-o1", Friend: "rf-f11"}, referral.AlreadyRedeemed},
		{"cap", redemption{Code: "RF-CAPPED", Order: "rf-o12", Friend: "rf-f12"}, referral.ReferrerCapReached},
		{"refunded before", redemption{Code: "RF-REF", Order: "rf-o13", Friend: "rf-f13"}, referral.OrderRefunded},
	}
	seen := map[string]bool{}
	before := snapshot(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { refuse(t, tc.r, tc.reason) })
		seen[tc.reason] = true
	}
	after := snapshot(t)
	for tb := range before {
		if !reflect.DeepEqual(before[tb], after[tb]) {
			t.Errorf("%s changed by refused redemptions: %d items before, %d after", tb, len(before[tb]), len(after[tb]))
		}
	}
	for _, r := range referral.Reasons {
		if !seen[r] {
			t.Errorf("no test of %s", r)
		}
	}
	// A bad request is a 400 naming the field, and stores nothing either.
	resp := post(t, "/v1/referrals", []byte(`{"code":"RF-REF","order_id":"rf-o14","friend_customer_id":"x","friend_email":"nope","order_total":1,"currency":"EUR"}`))
	var e errorBody
	resp.json(t, &e)
	if resp.Status != 400 || e.Error.Field != "friend_email" {
		t.Errorf("bad email: %d %s", resp.Status, resp.Body)
	}
}

// 20 concurrent redemptions of a code with limit 1 by different friends: one 201, 19 refusals.
func TestReferralConcurrentLimit(t *testing.T) {
	putCode(t, "CL-ONE", "cl-referrer", 1, 0, time.Now().Add(24*time.Hour))
	statuses := make([]int, 20)
	reasons := make([]string, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			s, _, e := redeem(t, redemption{Code: "CL-ONE", Order: fmt.Sprintf("cl-o%d", i), Friend: fmt.Sprintf("cl-f%d", i)})
			statuses[i], reasons[i] = s, e.Error.Code
		})
	}
	wg.Wait()
	created, limited := 0, 0
	for i := range 20 {
		switch {
		case statuses[i] == 201:
			created++
		case statuses[i] == 422 && reasons[i] == referral.CodeLimitReached:
			limited++
		default:
			t.Errorf("request %d: %d %s", i, statuses[i], reasons[i])
		}
	}
	if created != 1 || limited != 19 || codeUses(t, "CL-ONE") != 1 {
		t.Errorf("%d created, %d code_limit_reached, uses %d", created, limited, codeUses(t, "CL-ONE"))
	}
}

// 20 concurrent posts of the same order: one referral, every answer the same.
func TestReferralConcurrentSameOrder(t *testing.T) {
	putCode(t, "CS-MANY", "cs-referrer", 100, 0, time.Now().Add(24*time.Hour))
	r := redemption{Code: "CS-MANY", Order: "cs-order", Friend: "cs-friend"}
	answers := make([]redeemed, 20)
	statuses := make([]int, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { statuses[i], answers[i], _ = redeem(t, r) })
	}
	wg.Wait()
	for i := range 20 {
		if statuses[i] != 201 || answers[i].ReferralID != referral.ReferralID("cs-order") {
			t.Errorf("request %d: %d %+v", i, statuses[i], answers[i])
		}
	}
	if n := codeUses(t, "CS-MANY"); n != 1 {
		t.Errorf("code used %d times", n)
	}
	refs := 0
	for _, it := range scanAll(t, "ReferralsTable") {
		if it["order_id"] == "cs-order" && it["sk"] == "REF" {
			refs++
		}
	}
	if refs != 1 {
		t.Errorf("%d referrals for the order", refs)
	}
}

// The same grant message 10 times, and a redelivery after a consumer wrote but did not delete
// its message: one ledger entry, the balance once.
func TestGrantExactlyOnce(t *testing.T) {
	putCode(t, "GX-ONE", "gx-referrer", 10, 0, time.Now().Add(24*time.Hour))
	a := mustRedeem(t, redemption{Code: "GX-ONE", Order: "gx-o1", Friend: "gx-f1"})
	b := mustRedeem(t, redemption{Code: "GX-ONE", Order: "gx-o2", Friend: "gx-f2"})
	// Not due yet: a grant message does nothing.
	sendBatch(t, "GrantQueue", grantMessage(a.ReferralID))
	queueEmpty(t, "GrantQueue")
	if e, _ := ledgerOf(t, "gx-referrer"); len(e) != 0 {
		t.Fatalf("granted before the hold: %v", e)
	}
	makeDue(t, a.ReferralID)
	makeDue(t, b.ReferralID)
	msgs := make([]string, 10)
	for i := range msgs {
		msgs[i] = grantMessage(a.ReferralID)
	}
	sendBatch(t, "GrantQueue", msgs...)
	queueEmpty(t, "GrantQueue")

	// Crash after the write, before the delete: the handler runs (writes), the message stays and
	// is delivered again.
	ev, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "crash-1", Body: grantMessage(b.ReferralID), EventSource: "aws:sqs"}}})
	if _, err := stack.Invoke(context.Background(), "GrantRewardFunction", ev); err != nil {
		t.Fatal(err)
	}
	sendBatch(t, "GrantQueue", grantMessage(b.ReferralID))
	queueEmpty(t, "GrantQueue")

	entries, balance := ledgerOf(t, "gx-referrer")
	want := map[string]int64{"ENTRY#" + a.ReferralID + "#grant": 500, "ENTRY#" + b.ReferralID + "#grant": 500}
	if !reflect.DeepEqual(entries, want) || balance != 1000 {
		t.Errorf("ledger %v balance %d, want %v 1000", entries, balance, want)
	}
	if ref := getReferral(t, a.ReferralID); ref["status"] != "granted" || ref["due_shard"] != nil {
		t.Errorf("referral %v", ref)
	}
	eventually(t, 30*time.Second, "two referral_success for the referrer", func() bool {
		_, m := customer(t, "gx-referrer")
		return m != nil && m["successful_referrals"] == 2.0
	})
}

// A refund before the hold ends voids the referral: no grant ever. After the grant it writes a
// reversing entry and the balance goes back. Both idempotent; an unknown order is a 404.
func TestRefunds(t *testing.T) {
	putCode(t, "RFD-ONE", "rfd-referrer", 10, 0, time.Now().Add(24*time.Hour))
	early := mustRedeem(t, redemption{Code: "RFD-ONE", Order: "rfd-o1", Friend: "rfd-f1"})
	late := mustRedeem(t, redemption{Code: "RFD-ONE", Order: "rfd-o2", Friend: "rfd-f2"})

	for range 2 {
		r := post(t, "/v1/orders/rfd-o1/refunds", []byte(`{}`))
		if r.Status != 200 || !contains(string(r.Body), `"status":"voided"`) {
			t.Fatalf("refund before grant: %d %s", r.Status, r.Body)
		}
	}
	makeDue(t, early.ReferralID)
	makeDue(t, late.ReferralID)
	fired, err := stack.FireSchedules(context.Background(), "ReleaseRewardsFunction")
	if err != nil || len(fired) != 1 || fired[0].Error != "" {
		t.Fatalf("fire release: %v %+v", err, fired)
	}
	eventually(t, 30*time.Second, "the late referral granted", func() bool { return getReferral(t, late.ReferralID)["status"] == "granted" })
	queueEmpty(t, "GrantQueue")
	// A stray grant message for the voided referral does nothing.
	sendBatch(t, "GrantQueue", grantMessage(early.ReferralID))
	queueEmpty(t, "GrantQueue")
	entries, balance := ledgerOf(t, "rfd-referrer")
	if len(entries) != 1 || balance != 500 || getReferral(t, early.ReferralID)["status"] != "voided" {
		t.Fatalf("after release: %v %d", entries, balance)
	}
	lb := get(t, "/v1/leaderboard?limit=100&days=1")
	if lb.Status != 200 || !contains(string(lb.Body), `{"customer_id":"rfd-referrer","successful_referrals":1}`) {
		t.Errorf("leaderboard: %d %s", lb.Status, lb.Body)
	}

	for range 2 {
		r := post(t, "/v1/orders/rfd-o2/refunds", nil)
		if r.Status != 200 || !contains(string(r.Body), `"status":"reversed"`) {
			t.Fatalf("refund after grant: %d %s", r.Status, r.Body)
		}
	}
	entries, balance = ledgerOf(t, "rfd-referrer")
	want := map[string]int64{"ENTRY#" + late.ReferralID + "#grant": 500, "ENTRY#" + late.ReferralID + "#reverse": -500}
	if !reflect.DeepEqual(entries, want) || balance != 0 {
		t.Errorf("ledger %v balance %d", entries, balance)
	}
	if lb := get(t, "/v1/leaderboard?limit=100&days=1"); contains(string(lb.Body), "rfd-referrer") {
		t.Errorf("a reversed reward still counts on the leaderboard: %s", lb.Body)
	}
	if r := post(t, "/v1/orders/no-such-order/refunds", nil); r.Status != 200 || !contains(string(r.Body), `"status":"no_referral"`) {
		t.Errorf("order without referral: %d %s", r.Status, r.Body)
	}
	if r := get(t, "/v1/leaderboard?limit=0"); r.Status != 400 {
		t.Errorf("limit=0: %d", r.Status)
	}
	f := get(t, "/v1/stats/funnel")
	var fv struct {
		Stages   []string                    `json:"stages"`
		Programs map[string]map[string]int64 `json:"programs"`
	}
	f.json(t, &fv)
	if f.Status != 200 || len(fv.Stages) != 6 || fv.Programs["ambassador"]["first_orders"] < 2 || fv.Programs["ambassador"]["rewards_granted"] < 1 {
		t.Errorf("funnel: %d %s", f.Status, f.Body)
	}
}

// A purchase with a referral_code recorded through POST /v1/interactions is redeemed from the
// RedeemQueue.
func TestPurchaseWithReferralCodeRedeems(t *testing.T) {
	putCode(t, "PQ-CODE", "pq-referrer", 10, 0, time.Now().Add(24*time.Hour))
	body := `{"event_id":"pq-1","customer_id":"pq-friend","type":"purchase","occurred_at":"` + time.Now().UTC().Format(time.RFC3339) +
		`","properties":{"order_id":"pq-order","total":5900,"currency":"EUR","referral_code":"pq-code"}}`
	if r := post(t, "/v1/interactions", []byte(body)); r.Status != 202 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	id := referral.ReferralID("pq-order")
	eventually(t, 30*time.Second, "the referral from the queue", func() bool { return getReferral(t, id) != nil })
	if ref := getReferral(t, id); ref["friend_customer_id"] != "pq-friend" || ref["code"] != "PQ-CODE" || ref["status"] != "pending" {
		t.Errorf("%v", ref)
	}
	// The storefront also posts the order: the same request answers the same referral.
	if _, ok, _ := redeem(t, redemption{Code: "PQ-CODE", Order: "pq-order", Friend: "pq-friend"}); ok.ReferralID != id {
		t.Errorf("POST after the queue: %+v", ok)
	}
}

// Refund interactions (POST /v1/interactions) void the referral of the order once they add up to
// its total, through the RedeemQueue, each counted once; a full refund processed before the
// redemption makes the redemption refused (order_refunded), from the API as from the queue.
func TestRefundInteractions(t *testing.T) {
	putCode(t, "RI-CODE", "ri-referrer", 10, 0, time.Now().Add(24*time.Hour))
	now := time.Now().UTC().Format(time.RFC3339)
	refund := func(event, customer, order string, amount int) {
		t.Helper()
		body := fmt.Sprintf(`{"event_id":%q,"customer_id":%q,"type":"refund","occurred_at":%q,"properties":{"order_id":%q,"amount":%d}}`, event, customer, now, order, amount)
		if r := post(t, "/v1/interactions", []byte(body)); r.Status != 202 {
			t.Fatalf("refund %s: %d %s", event, r.Status, r.Body)
		}
	}
	full := mustRedeem(t, redemption{Code: "RI-CODE", Order: "ri-o1", Friend: "ri-f1", Total: 4900})
	part := mustRedeem(t, redemption{Code: "RI-CODE", Order: "ri-o2", Friend: "ri-f2", Total: 4900})
	refund("ri-r1", "ri-f1", "ri-o1", 4900)
	refund("ri-r2", "ri-f2", "ri-o2", 1000)
	eventually(t, 30*time.Second, "the fully refunded order's referral voided", func() bool { return getReferral(t, full.ReferralID)["status"] == "voided" })
	queueEmpty(t, "RedeemQueue")
	if st := getReferral(t, part.ReferralID)["status"]; st != "pending" {
		t.Errorf("partially refunded order's referral: %v, want pending", st)
	}
	refund("ri-r2", "ri-f2", "ri-o2", 1000) // a replay counts once
	queueEmpty(t, "RedeemQueue")
	if st := getReferral(t, part.ReferralID)["status"]; st != "pending" {
		t.Errorf("after a replayed partial refund: %v, want pending", st)
	}
	refund("ri-r2b", "ri-f2", "ri-o2", 3900) // 1000 + 3900 = the order's 4900
	eventually(t, 30*time.Second, "the order refunded in two parts voided", func() bool { return getReferral(t, part.ReferralID)["status"] == "voided" })

	// Partial refunds through the route add up the same way, each refund_id counted once.
	route := mustRedeem(t, redemption{Code: "RI-CODE", Order: "ri-o5", Friend: "ri-f5", Total: 4900})
	for _, b := range []string{`{"refund_id":"p1","amount":2000}`, `{"refund_id":"p1","amount":2000}`} {
		if r := post(t, "/v1/orders/ri-o5/refunds", []byte(b)); r.Status != 200 || !contains(string(r.Body), `"status":"pending"`) {
			t.Fatalf("partial refund %s: %d %s", b, r.Status, r.Body)
		}
	}
	if r := post(t, "/v1/orders/ri-o5/refunds", []byte(`{"refund_id":"p2","amount":2900}`)); r.Status != 200 || !contains(string(r.Body), `"status":"voided"`) {
		t.Fatalf("refund reaching the total: %d %s", r.Status, r.Body)
	}
	if st := getReferral(t, route.ReferralID)["status"]; st != "voided" {
		t.Errorf("after partial refunds through the route: %v", st)
	}
	if r := post(t, "/v1/orders/ri-o5/refunds", []byte(`{"amount":10}`)); r.Status != 400 || !contains(string(r.Body), `"field":"refund_id"`) {
		t.Errorf("amount without refund_id: %d %s", r.Status, r.Body)
	}

	// Refunded before it is redeemed: the API and the queue refuse it.
	refund("ri-r3", "ri-f3", "ri-o3", 9900)
	refund("ri-r4", "ri-f4", "ri-o4", 9900)
	queueEmpty(t, "RedeemQueue")
	refuse(t, redemption{Code: "RI-CODE", Order: "ri-o3", Friend: "ri-f3", Total: 4900}, referral.OrderRefunded)
	body := `{"event_id":"ri-p4","customer_id":"ri-f4","type":"purchase","occurred_at":"` + now +
		`","properties":{"order_id":"ri-o4","total":4900,"currency":"EUR","referral_code":"RI-CODE"}}`
	if r := post(t, "/v1/interactions", []byte(body)); r.Status != 202 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	queueEmpty(t, "RedeemQueue")
	for _, order := range []string{"ri-o3", "ri-o4"} {
		if ref := getReferral(t, referral.ReferralID(order)); ref != nil {
			t.Errorf("a refunded order was redeemed: %v", ref)
		}
	}
	if n := codeUses(t, "RI-CODE"); n != 3 {
		t.Errorf("code uses %d, want 3", n)
	}
}

// A poison message in each referral queue ends in its DLQ; the good ones in its batch succeed.
func TestReferralPoisonMessages(t *testing.T) {
	putCode(t, "PM-CODE", "pm-referrer", 10, 0, time.Now().Add(24*time.Hour))
	a := mustRedeem(t, redemption{Code: "PM-CODE", Order: "pm-o1", Friend: "pm-f1"})
	makeDue(t, a.ReferralID)
	sendBatch(t, "GrantQueue", `{"v":1,"referral_id":7}`, grantMessage(a.ReferralID))
	purchase := `{"v":1,"customer_id":"pm-f2","interactions":[{"event_id":"pm-2","customer_id":"pm-f2","type":"purchase","occurred_at":"2026-11-01T10:00:00Z","properties":{"order_id":"pm-o2","total":100,"currency":"EUR","referral_code":"PM-CODE"}}]}`
	sendBatch(t, "RedeemQueue", `not json at all`, purchase)

	if got := drainDLQ(t, "GrantDLQ", 1); len(got) != 1 || got[0] != `{"v":1,"referral_id":7}` {
		t.Errorf("GrantDLQ: %v", got)
	}
	if got := drainDLQ(t, "RedeemDLQ", 1); len(got) != 1 || got[0] != `not json at all` {
		t.Errorf("RedeemDLQ: %v", got)
	}
	if getReferral(t, a.ReferralID)["status"] != "granted" {
		t.Error("the good grant message was not processed")
	}
	if getReferral(t, referral.ReferralID("pm-o2")) == nil {
		t.Error("the good purchase was not redeemed")
	}
}
