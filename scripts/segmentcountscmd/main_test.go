package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/localrun/localruntest"
	"github.com/referral-engine/referral-engine/internal/scoring"
)

var stack *localrun.Stack

func TestMain(m *testing.M) {
	pause = 10 * time.Millisecond
	localruntest.Tables{Name: "segmentcountscmd", Prefix: "sc-", Tables: []string{"CustomersTable", "StatsTable"}}.Main(m, &stack, nil)
}

func cmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	full := append([]string{"-endpoint", stack.DynamoDBEndpoint, "-customers-table", stack.Resources["CustomersTable"],
		"-stats-table", stack.Resources["StatsTable"]}, args...)
	err := run(context.Background(), full, &out)
	return out.String(), err
}

// A stack from before the counters: --check finds the difference, --fix rebuilds them, and the
// counters then move with the customers.
func TestCheckAndFix(t *testing.T) {
	ctx := context.Background()
	table := stack.Resources["CustomersTable"]
	for i := range 30 {
		id := fmt.Sprintf("old-%02d", i)
		seg := []string{"ambassador", "future_ambassador", "opportunist"}[i%3]
		it := map[string]types.AttributeValue{
			"customer_id": &types.AttributeValueMemberS{Value: id},
			"sk":          &types.AttributeValueMemberS{Value: dynamostore.ProfileSK},
			"seg":         &types.AttributeValueMemberS{Value: seg},
			"seg_shard":   &types.AttributeValueMemberS{Value: dynamostore.SegmentShard(seg, id)},
			"v":           &types.AttributeValueMemberN{Value: "1"},
		}
		if i%2 == 0 {
			it["sub"] = &types.AttributeValueMemberSS{Value: []string{"lapsed"}}
		}
		if _, err := stack.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := cmd(t, "--check")
	if !errors.Is(err, errDiffer) || !strings.Contains(out, "counters 0 members, index ") {
		t.Fatalf("--check before the fix: %v\n%s", err, out)
	}
	if out, err := cmd(t, "--fix"); err != nil || !strings.Contains(out, "fixed ambassador shard") {
		t.Fatalf("--fix: %v\n%s", err, out)
	}
	out, err = cmd(t, "--check")
	if err != nil || !strings.Contains(out, "ambassador: 10 members, lapsed 5 (counters = index)") {
		t.Fatalf("--check after the fix: %v\n%s", err, out)
	}

	cs, err := dynamostore.NewCustomers(stack.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	if cs, err = cs.WithCounters(stack.Resources["StatsTable"]); err != nil {
		t.Fatal(err)
	}
	c, rev, err := cs.Get(ctx, "old-00")
	if err != nil {
		t.Fatal(err)
	}
	c.Result = scoring.Result{Segment: "opportunist", At: time.Now()}
	if err := cs.Put(ctx, c, rev, rev, time.Now()); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd(t, "--check"); err != nil || !strings.Contains(out, "ambassador: 9 members, lapsed 4 (counters = index)") {
		t.Fatalf("--check after a move: %v\n%s", err, out)
	}
	if _, err := cmd(t); err == nil {
		t.Error("neither --check nor --fix accepted")
	}
}
