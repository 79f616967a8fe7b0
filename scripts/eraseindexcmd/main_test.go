package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/localrun/localruntest"
	"github.com/referral-engine/referral-engine/internal/referralstore"
)

var stack *localrun.Stack

func TestMain(m *testing.M) {
	localruntest.Tables{Name: "eraseindexcmd", Prefix: "ei-", Tables: []string{"CustomersTable", "InteractionsTable", "VouchersTable",
		"ReferralsTable", "LedgerTable", "StatsTable"}}.Main(m, &stack, nil)
}

func cmd(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	full := append([]string{"-endpoint", stack.DynamoDBEndpoint, "-vouchers-table", stack.Resources["VouchersTable"],
		"-referrals-table", stack.Resources["ReferralsTable"], "-stats-table", stack.Resources["StatsTable"]}, args...)
	if err := run(context.Background(), full, &out); err != nil {
		t.Fatalf("erase-index %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func put(t *testing.T, table string, kv ...string) {
	t.Helper()
	it := map[string]types.AttributeValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		it[kv[i]] = &types.AttributeValueMemberS{Value: kv[i+1]}
	}
	if _, err := stack.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(stack.Resources[table]), Item: it}); err != nil {
		t.Fatal(err)
	}
}

// holding lists the items of the three tables that mention s.
func holding(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for _, table := range []string{"VouchersTable", "ReferralsTable", "StatsTable"} {
		p := dynamodb.NewScanPaginator(stack.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(stack.Resources[table])})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				if b, _ := json.Marshal(it); strings.Contains(string(b), s) {
					out = append(out, string(b))
				}
			}
		}
	}
	return out
}

// Items written before the indexes (an owner item, a click counter, a monthly cap, a
// leaderboard count, without customer_id) are out of erasure's reach until the backfill gives
// them their key; --dry-run changes nothing, a second run sets nothing, counters that are no
// one's stay out of the index.
func TestBackfillMakesOldItemsErasable(t *testing.T) {
	ctx := context.Background()
	const id, code = "ei-old-anna", "OLDANNA-7KQ2XH"
	put(t, "VouchersTable", "pk", "CODE#"+code, "code", code, "customer_id", id, "status", "active", "program", "ambassador")
	put(t, "VouchersTable", "pk", "OWNER#"+id+"#ambassador", "code", code)
	put(t, "VouchersTable", "pk", "CLICK#"+code+"#ip-hash-of-anna#2026112310")
	put(t, "VouchersTable", "pk", "CLICK#GONE-CODE#ip-hash-x#2026112310") // its code no longer stored
	put(t, "ReferralsTable", "pk", "CAP#"+id+"#2026-11", "sk", "CAP")
	put(t, "ReferralsTable", "pk", "REF#ei-old-ref", "sk", "REF", "referrer_id", id, "friend_customer_id", "ei-old-friend", "status", "granted")
	lb := referralstore.LeaderboardKey("2026-11-20", id)
	lb["n"] = &types.AttributeValueMemberN{Value: "3"}
	if _, err := stack.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(stack.Resources["StatsTable"]), Item: lb}); err != nil {
		t.Fatal(err)
	}
	put(t, "StatsTable", "pk", "FUNNEL#ambassador#clicks#07", "sk", "N")

	dry := cmd(t, "--dry-run")
	for _, want := range []string{"3 without the index key (CLICK# 2, OWNER# 1), would set 2, 1 click counters of codes no longer stored",
		"2 without the index key (CAP# 1, REF# 1), would set 2", "1 without the index key (LB# 1), would set 1"} {
		if !strings.Contains(dry, want) {
			t.Errorf("--dry-run output lacks %q:\n%s", want, dry)
		}
	}
	e, err := erase.New(stack.DynamoDB, tables(), "a-salt-of-16-bytes-at-least", nil)
	if err != nil {
		t.Fatal(err)
	}
	first := cmd(t)
	if !strings.Contains(first, "set 2, 1 click counters") || !strings.Contains(first, "REF# 1), set 2") || !strings.Contains(first, "(LB# 1), set 1") {
		t.Errorf("backfill:\n%s", first)
	}
	// Only the counter of a code no longer stored is left without (it expires within 90 days).
	if again := cmd(t); strings.Count(again, " 0 without the index key, set 0") != 2 || !strings.Contains(again, "1 without the index key (CLICK# 1), set 0") {
		t.Errorf("a second run:\n%s", again)
	}
	res, err := e.Erase(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Erased; c.VoucherItems != 1 || c.ClickCounters != 1 || c.Guards != 1 || c.LeaderboardItems != 1 || c.VouchersRevoked != 1 || c.Referrals != 1 {
		t.Errorf("erased %+v", c)
	}
	if left := holding(t, id); len(left) > 0 {
		t.Errorf("after erasure:\n%s", strings.Join(left, "\n"))
	}
	if left := holding(t, "ip-hash-of-anna"); len(left) > 0 {
		t.Errorf("the click counter survived:\n%s", strings.Join(left, "\n"))
	}
	if left := holding(t, "FUNNEL#"); len(left) != 1 || strings.Contains(left[0], "customer_id") {
		t.Errorf("funnel counter: %v", left)
	}
}

func tables() erase.Tables {
	r := stack.Resources
	return erase.Tables{Customers: r["CustomersTable"], Interactions: r["InteractionsTable"], Vouchers: r["VouchersTable"],
		Referrals: r["ReferralsTable"], Ledger: r["LedgerTable"], Stats: r["StatsTable"]}
}
