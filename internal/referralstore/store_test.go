package referralstore_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/funnel"
	"github.com/referral-engine/referral-engine/internal/ledger"
	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/localrun/localruntest"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/referral"
	"github.com/referral-engine/referral-engine/internal/referralstore"
)

var (
	stack *localrun.Stack
	db    *dynamodb.Client // metered
	store *referralstore.Store
)

// TestMain runs the adapter against DynamoDB Local with the tables of template.yaml itself.
func TestMain(m *testing.M) {
	localruntest.Tables{Name: "referralstore", Prefix: "rs-", Tables: []string{"ReferralsTable", "VouchersTable", "LedgerTable", "StatsTable"}}.Main(m, &stack,
		func(stack *localrun.Stack) (err error) {
			cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
			db = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(stack.DynamoDBEndpoint) }, awsclient.DynamoDBOptions, meter.DynamoDBOption)
			store, err = referralstore.New(db, referralstore.Tables{Referrals: stack.Resources["ReferralsTable"], Vouchers: stack.Resources["VouchersTable"],
				Ledger: stack.Resources["LedgerTable"], Stats: stack.Resources["StatsTable"]})
			return err
		})
}

var now = time.Now().UTC().Truncate(time.Second)

func putCode(t *testing.T, code, referrer string, limit, uses int) *referral.Code {
	t.Helper()
	item, _ := attributevalue.MarshalMap(map[string]any{
		"pk": "CODE#" + code, "code": code, "customer_id": referrer, "program": "ambassador", "status": "active",
		"expires_at": now.Add(time.Hour).Unix(), "use_limit": limit, "uses": uses,
		"friend_offer":    map[string]any{"type": "percent_off", "value": 15, "description": "15% off the first order"},
		"referrer_reward": map[string]any{"type": "loyalty_points", "value": 500, "description": "500 loyalty points per successful referral"},
		"share_url":       "https://shop.example.com/r/" + code, "reason": "request", "created_at": now.Format(time.RFC3339),
	})
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(stack.Resources["VouchersTable"]), Item: item}); err != nil {
		t.Fatal(err)
	}
	c, _, err := store.Load(context.Background(), code, "none")
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	return c
}

func newRef(c *referral.Code, order, friend, email string) referral.Referral {
	h := ""
	if email != "" {
		h, _ = referral.EmailHash(email)
	}
	return referral.DefaultTerms().New(referral.Redemption{Code: c.Code, OrderID: order, FriendCustomerID: friend, FriendEmailHash: h, OrderTotal: 4900, Currency: "EUR"}, c, now)
}

func reason(err error) string {
	if r, ok := referral.AsRefusal(err); ok {
		return r.Reason
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// The transaction's cancellation reasons become refusal codes, and a refusal stores nothing.
func TestRedeemRefusals(t *testing.T) {
	ctx := context.Background()
	salt := []byte("test-salt")
	c := putCode(t, "ST-REF", "st-referrer", 100, 0)
	fps := referral.Fingerprints{Payment: "pm_friend1_card"}.Hashed(salt)
	if err := store.Redeem(ctx, newRef(c, "st-o1", "st-f1", "f1@example.com"), c, fps, 20, now); err != nil {
		t.Fatal(err)
	}
	f1 := putCode(t, "ST-F1", "st-f1", 100, 0)
	full := putCode(t, "ST-FULL", "st-referrer", 1, 1)
	capped := putCode(t, "ST-CAP", "st-capped", 100, 0)
	for i := range 2 {
		if err := store.Redeem(ctx, newRef(capped, fmt.Sprintf("st-cap-%d", i), fmt.Sprintf("st-capf-%d", i), ""), capped, nil, 2, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		ref  referral.Referral
		code *referral.Code
		fps  map[referral.FingerprintKind]string
		want string
	}{
		{"limit", newRef(full, "st-o2", "st-f2", ""), full, nil, referral.CodeLimitReached},
		{"friend again", newRef(c, "st-o3", "st-f1", "other@example.com"), c, nil, referral.NotFirstPurchase},
		{"email of another friend", newRef(c, "st-o4", "st-f4", "F1@example.com"), c, nil, referral.NotFirstPurchase},
		{"email of the referrer", newRef(f1, "st-o5", "st-f5", "f1@example.com"), f1, nil, referral.SelfReferral},
		{"fingerprint of the referrer", newRef(f1, "st-o6", "st-f6", ""), f1, fps, referral.SelfReferral},
		{"cap", newRef(capped, "st-cap-9", "st-capf-9", ""), capped, nil, referral.ReferrerCapReached},
		{"order taken", newRef(c, "st-o1", "st-f7", ""), c, nil, referral.ErrRetry.Error()},
	} {
		if got := reason(store.Redeem(ctx, tc.ref, tc.code, tc.fps, 2, now)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if r, _ := store.Get(ctx, tc.ref.ID); r != nil && tc.ref.OrderID != "st-o1" {
			t.Errorf("%s: a refused redemption stored its referral", tc.name)
		}
	}
	if c2, _, _ := store.Load(ctx, "ST-F1", "x"); c2.Uses != 0 {
		t.Errorf("refused redemptions used the code: %d", c2.Uses)
	}
}

// 20 concurrent redemptions of a limit-1 code: exactly one winner.
func TestRedeemRace(t *testing.T) {
	c := putCode(t, "ST-RACE", "st-race-referrer", 1, 0)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() {
			errs[i] = store.Redeem(context.Background(), newRef(c, fmt.Sprintf("st-race-%d", i), fmt.Sprintf("st-race-f%d", i), ""), c, nil, 20, now)
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case reason(err) == referral.CodeLimitReached, errors.Is(err, referral.ErrRetry):
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d winners", wins)
	}
}

// Grant, void and reverse move the status once each; the ledger and its balance agree; the
// write units of each step are logged for docs/referrals.md.
func TestLifecycleAndUnits(t *testing.T) {
	ctx := context.Background()
	c := putCode(t, "ST-LIFE", "st-life", 100, 0)
	a, b := newRef(c, "st-life-1", "st-life-f1", "lf1@example.com"), newRef(c, "st-life-2", "st-life-f2", "lf2@example.com")
	u := meter.Snapshot()
	if err := store.Redeem(ctx, a, c, nil, 20, now); err != nil {
		t.Fatal(err)
	}
	t.Logf("redeem: %.1f write units (no fingerprints)", meter.Snapshot().Sub(u).WriteUnits())
	if err := store.Redeem(ctx, b, c, nil, 20, now); err != nil {
		t.Fatal(err)
	}
	ra, _ := store.Get(ctx, a.ID)
	rb, _ := store.Get(ctx, b.ID)
	if ra == nil || ra.Status != referral.Pending || ra.Reward.Points != 500 || ra.FriendOffer["value"] != 15.0 {
		t.Fatalf("%+v", ra)
	}
	var due []string
	if err := store.Due(ctx, now.Add(15*24*time.Hour), func(ids []string) error { due = append(due, ids...); return nil }); err != nil || len(due) < 2 {
		t.Fatalf("due %v %v", due, err)
	}
	u = meter.Snapshot()
	if err := store.Grant(ctx, ra, now); err != nil {
		t.Fatal(err)
	}
	t.Logf("grant: %.1f write units", meter.Snapshot().Sub(u).WriteUnits())
	if err := store.Grant(ctx, ra, now); !errors.Is(err, referral.ErrStale) {
		t.Errorf("second grant: %v", err)
	}
	if err := store.Void(ctx, rb, now); err != nil {
		t.Fatal(err)
	}
	if err := store.Grant(ctx, rb, now); !errors.Is(err, referral.ErrStale) {
		t.Errorf("grant of a voided referral: %v", err)
	}
	ra, _ = store.Get(ctx, a.ID)
	if err := store.Reverse(ctx, ra, now); err != nil {
		t.Fatal(err)
	}
	if err := store.Reverse(ctx, ra, now); !errors.Is(err, referral.ErrStale) {
		t.Errorf("second reverse: %v", err)
	}
	rd, _ := ledger.NewReader(db, stack.Resources["LedgerTable"])
	acc, err := rd.Account(ctx, "st-life")
	if err != nil || acc.Balance != 0 || len(acc.Entries) != 2 || acc.Entries[0].Points+acc.Entries[1].Points != 0 {
		t.Errorf("%+v %v", acc, err)
	}
	lb, err := store.Leaderboard(ctx, 1, 10, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lb {
		if l.CustomerID == "st-life" {
			t.Errorf("reversed referral on the leaderboard: %+v", l)
		}
	}

	// Erasure's sparse indexes (internal/erase): the referrer's referrals, monthly cap and
	// leaderboard count, the friend's email guard; no funnel counter.
	index := func(table, name, attr, v string) []string {
		t.Helper()
		out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(stack.Resources[table]), IndexName: aws.String(name),
			KeyConditionExpression:    aws.String("#a = :v"),
			ExpressionAttributeNames:  map[string]string{"#a": attr},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: v}}})
		if err != nil {
			t.Fatal(err)
		}
		var pks []string
		for _, it := range out.Items {
			pks = append(pks, it["pk"].(*types.AttributeValueMemberS).Value)
		}
		sort.Strings(pks)
		return pks
	}
	if got := index("ReferralsTable", "by_customer", "customer_id", "st-life"); len(got) != 3 || !strings.HasPrefix(got[0], "CAP#st-life#") ||
		got[1] != "REF#"+min(a.ID, b.ID) || got[2] != "REF#"+max(a.ID, b.ID) {
		t.Errorf("referrals by_customer of the referrer: %v, want the cap and the 2 referrals", got)
	}
	if got := index("ReferralsTable", "by_customer", "customer_id", "st-life-f1"); len(got) != 1 || !strings.HasPrefix(got[0], "EMAIL#") {
		t.Errorf("referrals by_customer of the friend: %v, want the email guard", got)
	}
	if got := index("StatsTable", "by_customer", "customer_id", "st-life"); len(got) != 1 || !strings.HasPrefix(got[0], "LB#") {
		t.Errorf("stats by_customer: %v, want the leaderboard count", got)
	}
}

// The funnel counters other functions share: Incr on random shards, Read sums them; the
// transaction items of redeem and grant count first orders and rewards.
func TestFunnelCounters(t *testing.T) {
	ctx := context.Background()
	f, err := funnel.New(db, stack.Resources["StatsTable"])
	if err != nil {
		t.Fatal(err)
	}
	before, err := f.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 40 {
		if err := f.Incr(ctx, "loyalty", funnel.Clicks, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Incr(ctx, "loyalty", "bogus", 1); err == nil {
		t.Error("unknown stage accepted")
	}
	c := putCode(t, "ST-FUN", "st-fun", 100, 0)
	r := newRef(c, "st-fun-1", "st-fun-f1", "")
	if err := store.Redeem(ctx, r, c, nil, 20, now); err != nil {
		t.Fatal(err)
	}
	after, err := f.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := after["loyalty"][funnel.Clicks] - before["loyalty"][funnel.Clicks]; d != 40 {
		t.Errorf("clicks +%d, want +40", d)
	}
	if d := after["ambassador"][funnel.FirstOrders] - before["ambassador"][funnel.FirstOrders]; d != 1 {
		t.Errorf("first orders +%d, want +1", d)
	}
	if len(after) != len(funnel.Programs) || len(after["accelerator"]) != len(funnel.Stages) {
		t.Errorf("%v", after)
	}
}

// Refunds add up on the order's guard, each counted once: before any redemption they make a
// tombstone, which a redemption goes through while it is below the order's total (keeping the
// sum for the refunds to come) and stops at once it covers it (ErrRetry: the service reads the
// tombstone and refuses).
func TestRefundsOnTheOrderGuard(t *testing.T) {
	ctx := context.Background()
	c := putCode(t, "ST-TOMB", "st-tomb-referrer", 100, 0)
	add := func(order string, r referral.Refund) *referral.OrderGuard {
		t.Helper()
		g, err := store.AddRefund(ctx, order, r, now)
		if err != nil || g == nil {
			t.Fatalf("add refund %+v to %s: %+v %v", r, order, g, err)
		}
		return g
	}
	add("st-t1", referral.Refund{Amount: 300, EventID: "c/r1"})
	add("st-t1", referral.Refund{Amount: 300, EventID: "c/r1"}) // redelivered
	if g := add("st-t1", referral.Refund{Amount: 1000, EventID: "c/r2"}); g.ReferralID != "" || g.Refunds != (referral.Refunds{Amount: 1300}) {
		t.Fatalf("tombstone after 300, 300 again, 1000: %+v", g)
	}
	// 1300 < 4900: the redemption goes through and keeps the sum.
	ref := newRef(c, "st-t1", "st-tf1", "")
	if err := store.Redeem(ctx, ref, c, nil, 20, now); err != nil {
		t.Fatalf("redeem over a partial refund: %v", err)
	}
	if g, err := store.OrderGuard(ctx, "st-t1"); err != nil || g == nil || g.ReferralID != ref.ID || g.RequestHash != ref.RequestHash || g.Refunds.Amount != 1300 {
		t.Fatalf("guard after the redemption: %+v %v", g, err)
	}
	if g := add("st-t1", referral.Refund{Amount: 3600, EventID: "c/r3"}); g.ReferralID != ref.ID || !g.Refunds.Covers(ref.OrderTotal) {
		t.Fatalf("guard after 3600 more: %+v", g)
	}
	if g := add("st-t1", referral.Refund{Full: true}); !g.Refunds.Full || g.ReferralID != ref.ID {
		t.Fatalf("guard after the route: %+v", g)
	}
	// The tombstone of a redeemed order expires with nothing: the guard has no expiry.
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(stack.Resources["ReferralsTable"]),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "ORDER#st-t1"}, "sk": &types.AttributeValueMemberS{Value: "GUARD"}}})
	if err != nil || out.Item["expires_at"] != nil {
		t.Fatalf("the guard of a redeemed order expires: %v %v", out.Item["expires_at"], err)
	}

	for order, r := range map[string]referral.Refund{"st-t2": {Amount: 4900, EventID: "c/r4"}, "st-t3": {Full: true}} {
		g := add(order, r)
		if !g.Refunds.Covers(4900) {
			t.Fatalf("%s: %+v does not cover 4900", order, g)
		}
		red := newRef(c, order, "st-tf-"+order, "")
		if err := store.Redeem(ctx, red, c, nil, 20, now); !errors.Is(err, referral.ErrRetry) {
			t.Errorf("%s: redeem over a covering tombstone: %v, want ErrRetry", order, err)
		}
		if got, _ := store.Get(ctx, red.ID); got != nil {
			t.Errorf("%s: a refused redemption stored its referral", order)
		}
	}
}
