package erase_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/referralstore"
)

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nv(v int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }

// item builds an item from name/value pairs: strings, or ints for numbers.
func item(kv ...any) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			it[kv[i].(string)] = sv(v)
		case int:
			it[kv[i].(string)] = nv(v)
		}
	}
	return it
}

func physical() erase.Tables {
	r := stack.Resources
	return erase.Tables{Customers: r["CustomersTable"], Interactions: r["InteractionsTable"], Vouchers: r["VouchersTable"],
		Referrals: r["ReferralsTable"], Ledger: r["LedgerTable"], Stats: r["StatsTable"]}
}

func putAll(t *testing.T, table string, items []map[string]types.AttributeValue) {
	t.Helper()
	for len(items) > 0 {
		n := min(25, len(items))
		reqs := make([]types.WriteRequest, 0, n)
		for _, it := range items[:n] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
		items = items[n:]
		for len(reqs) > 0 {
			out, err := stack.DynamoDB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
			if err != nil {
				t.Fatal(err)
			}
			reqs = out.UnprocessedItems[table]
		}
	}
}

// seedCustomer writes every kind of item erasure must find for id, as the stores write them
// (the index attributes included): a voucher with its owner item and a click counter, a pending
// referral as referrer (with its monthly cap), a referral as friend with its friend, order and
// email guards and a fingerprint, and a leaderboard count.
func seedCustomer(t *testing.T, id string) {
	t.Helper()
	tb := physical()
	code := strings.ToUpper(id) + "-CODE"
	// Referral and order ids, and the other parties' ids, stay: they must not contain id.
	o := strings.ReplaceAll(id, "-", "_")
	putAll(t, tb.Vouchers, []map[string]types.AttributeValue{
		item("pk", "CODE#"+code, "code", code, "customer_id", id, "program", "ambassador", "status", "active",
			"referrer_email_hash", "hash-of-"+id, "campaign_id", "review:rv-"+id),
		item("pk", "OWNER#"+id+"#ambassador", "code", code, "customer_id", id),
		item("pk", "CLICK#"+code+"#iphash-"+id+"#2026112310", "n", 1, "purge_at", 1900000000, "customer_id", id),
	})
	putAll(t, tb.Referrals, []map[string]types.AttributeValue{
		item("pk", "REF#ref-as-referrer-"+o, "sk", "REF", "referral_id", "ref-as-referrer-"+o, "referrer_id", id, "customer_id", id,
			"friend_customer_id", "someone-"+o, "order_id", "o-1-"+o, "status", "pending", "due_shard", "3", "release_at", 1900000000),
		item("pk", "CAP#"+id+"#2026-11", "sk", "CAP", "n", 1, "customer_id", id),
		item("pk", "REF#ref-as-friend-"+o, "sk", "REF", "referral_id", "ref-as-friend-"+o, "referrer_id", "referrer-of-"+o, "customer_id", "referrer-of-"+o,
			"friend_customer_id", id, "friend_email_hash", "email-hash-"+id, "order_id", "o-2-"+o, "status", "granted"),
		item("pk", "FRIEND#"+id, "sk", "GUARD", "referral_id", "ref-as-friend-"+o),
		item("pk", "ORDER#o-2-"+o, "sk", "GUARD", "referral_id", "ref-as-friend-"+o, "request_hash", "request-hash-"+id),
		item("pk", "EMAIL#email-hash-"+id, "sk", "GUARD", "referral_id", "ref-as-friend-"+o, "customer_id", id),
		item("pk", "FP#fp-hash-"+id, "sk", "C#"+id, "kind", "device", "customer_id", id, "expires_at", 1900000000),
	})
	lb := referralstore.LeaderboardKey("2026-11-20", id)
	lb["n"], lb["customer_id"] = nv(2), sv(id)
	putAll(t, tb.Stats, []map[string]types.AttributeValue{lb})
}

// seedOthers writes n customers' vouchers, clicks, referrals and leaderboard counts, none of
// them id's.
func seedOthers(t *testing.T, prefix string, n int) {
	t.Helper()
	tb := physical()
	var vouchers, referrals, stats []map[string]types.AttributeValue
	for i := range n {
		other := fmt.Sprintf("%s-%04d", prefix, i)
		code := strings.ToUpper(other)
		vouchers = append(vouchers, item("pk", "CODE#"+code, "code", code, "customer_id", other, "status", "active"),
			item("pk", "CLICK#"+code+"#iphash#2026112310", "n", 1, "customer_id", other))
		referrals = append(referrals, item("pk", "REF#"+other, "sk", "REF", "referrer_id", other, "customer_id", other, "friend_customer_id", other+"-f", "status", "granted"))
		lb := referralstore.LeaderboardKey("2026-11-20", other)
		lb["n"], lb["customer_id"] = nv(1), sv(other)
		stats = append(stats, lb)
	}
	putAll(t, tb.Vouchers, vouchers)
	putAll(t, tb.Referrals, referrals)
	putAll(t, tb.Stats, stats)
}

// holding lists the items of the vouchers, referrals and stats tables that mention s.
func holding(t *testing.T, s string) []string {
	t.Helper()
	tb := physical()
	var out []string
	for _, table := range []string{tb.Vouchers, tb.Referrals, tb.Stats} {
		p := dynamodb.NewScanPaginator(stack.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(table)})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				b, _ := json.Marshal(it)
				if strings.Contains(string(b), s) {
					out = append(out, string(b))
				}
			}
		}
	}
	return out
}

// meteredEraser is an Eraser whose calls the process meter counts.
func meteredEraser(t *testing.T) *erase.Eraser {
	t.Helper()
	db := dynamodb.New(stack.DynamoDB.Options(), meter.DynamoDBOption)
	e, err := erase.New(db, physical(), "a-salt-of-16-bytes-at-least", nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Erasure finds every kind of item of the customer through the by-customer indexes and what
// they point to, and what it reads does not grow with the other customers' items.
func TestEraseReadsTheCustomersItemsOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("needs DynamoDB Local")
	}
	ctx := context.Background()
	e := meteredEraser(t)
	run := func(id string) (erase.Counts, meter.Usage) {
		t.Helper()
		seedCustomer(t, id)
		before := meter.Snapshot()
		res, err := e.Erase(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		u := meter.Snapshot().Sub(before)
		t.Logf("erase %s: rcu %.1f wcu %.1f ddb_calls %d", id, u.ReadUnits(), u.WriteUnits(), u.DynamoDBCalls)
		if left := holding(t, id); len(left) > 0 {
			t.Errorf("after erasing %s:\n%s", id, strings.Join(left, "\n"))
		}
		return res.Erased, u
	}
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	small, uSmall := run("ix-a-" + stamp)
	want := erase.Counts{VouchersRevoked: 1, VoucherItems: 1, ClickCounters: 1, Guards: 4, Referrals: 2, RewardsVoided: 1, LeaderboardItems: 1}
	if small != want {
		t.Errorf("erased %+v, want %+v", small, want)
	}
	seedOthers(t, "ix-other-"+stamp, 500)
	big, uBig := run("ix-b-" + stamp)
	if big != want {
		t.Errorf("erased among others %+v, want %+v", big, want)
	}
	// The reads are the customer's: the same with 2,000 more items in the tables (a Scan grows).
	if uBig.ReadMilliUnits > uSmall.ReadMilliUnits+1000 || uBig.DynamoDBCalls > uSmall.DynamoDBCalls+2 {
		t.Errorf("erasure read %.1f units in %d calls among 2,000 other items, %.1f in %d without them",
			uBig.ReadUnits(), uBig.DynamoDBCalls, uSmall.ReadUnits(), uSmall.DynamoDBCalls)
	}
	// What pointed to the erased friend is pseudonymised; the review campaign id is gone.
	out, err := stack.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(physical().Referrals),
		Key: item("pk", "ORDER#o-2-ix_b_"+stamp, "sk", "GUARD"), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil || out.Item["request_hash"] != nil {
		t.Errorf("order guard of the friend's referral: %v %v", out.Item, err)
	}
	// Erasing again finds nothing left.
	res, err := e.Erase(ctx, "ix-b-"+stamp)
	if err != nil || !res.AlreadyErased || res.Erased.Total() != 0 {
		t.Errorf("erase again: %+v %v", res, err)
	}
}

// An erasure that died between voiding a referrer's held reward and pseudonymising the
// referral (the void comes first, so the referral is still under the id in by_customer): the
// retry finds and pseudonymises it.
func TestEraseRetryFinishesAVoidedReferral(t *testing.T) {
	if testing.Short() {
		t.Skip("needs DynamoDB Local")
	}
	id := "ix-crash-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	o := strings.ReplaceAll(id, "-", "_")
	putAll(t, physical().Referrals, []map[string]types.AttributeValue{item("pk", "REF#r-"+o, "sk", "REF", "referral_id", "r-"+o,
		"referrer_id", id, "customer_id", id, "friend_customer_id", "f-"+o, "status", "voided", "void_reason", "referrer_erased")})
	res, err := meteredEraser(t).Erase(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if res.Erased != (erase.Counts{Referrals: 1}) {
		t.Errorf("erased %+v", res.Erased)
	}
	if left := holding(t, id); len(left) > 0 {
		t.Errorf("after the retry:\n%s", strings.Join(left, "\n"))
	}
}
