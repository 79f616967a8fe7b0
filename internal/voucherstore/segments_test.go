package voucherstore_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
)

// The campaign side of dynamostore.Customers against the CustomersTable's segment GSI: the
// PROFILE attributes rescore writes (seg, sub, prg, seg_shard) as docs/referrals.md names them.
func TestSegmentMembers(t *testing.T) {
	ctx := context.Background()
	table := stack.Resources["CustomersTable"]
	cs, err := dynamostore.NewCustomers(stack.DynamoDB, table)
	if err != nil {
		t.Fatal(err)
	}
	var all, best []string
	for i := range 40 {
		id := fmt.Sprintf("seg-cust-%02d", i)
		item := map[string]types.AttributeValue{
			"customer_id": &types.AttributeValueMemberS{Value: id},
			"sk":          &types.AttributeValueMemberS{Value: dynamostore.ProfileSK},
			"seg":         &types.AttributeValueMemberS{Value: "ambassador"},
			"prg":         &types.AttributeValueMemberS{Value: "ambassador"},
			"seg_shard":   &types.AttributeValueMemberS{Value: dynamostore.SegmentShard("ambassador", id)},
		}
		if i%4 == 0 {
			item["sub"] = &types.AttributeValueMemberSS{Value: []string{"best_buyer", "social_follower"}}
			best = append(best, id)
		}
		if _, err := stack.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
		all = append(all, id)
	}
	// Not segmented yet: a profile without the attributes.
	if _, err := stack.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"customer_id": &types.AttributeValueMemberS{Value: "seg-new"}, "sk": &types.AttributeValueMemberS{Value: dynamostore.ProfileSK},
	}}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		sub  string
		want []string
	}{{"", all}, {"best_buyer", best}, {"lapsed", nil}} {
		shards, err := cs.IndexCounts(ctx, "ambassador")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range shards {
			if tc.sub == "" {
				n += c.Members
			} else {
				n += c.SubSegments[tc.sub]
			}
		}
		if n != len(tc.want) {
			t.Errorf("IndexCounts, %q: %d; want %d", tc.sub, n, len(tc.want))
		}
		var got []string
		shardsUsed := 0
		for shard := range dynamostore.SegmentShards {
			cursor, pages := "", 0
			for {
				ids, next, err := cs.SegmentPage(ctx, "ambassador", shard, tc.sub, cursor, 2)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids...)
				pages++
				if next == "" {
					break
				}
				cursor = next
			}
			if pages > 1 {
				shardsUsed++
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("members with %q: %v, want %v", tc.sub, got, tc.want)
		}
		if tc.sub == "" && shardsUsed < 8 {
			t.Errorf("40 customers fill only %d of 16 shards past one page", shardsUsed)
		}
	}

	p, err := cs.Placement(ctx, "seg-cust-00")
	if err != nil || p.Segment != "ambassador" || p.Program != "ambassador" || !slices.Equal(p.SubSegments, []string{"best_buyer", "social_follower"}) {
		t.Errorf("Placement = %+v, %v", p, err)
	}
	if p, err := cs.Placement(ctx, "seg-new"); err != nil || p.Segment != "" || p.Program != "" {
		t.Errorf("unsegmented Placement = %+v, %v", p, err)
	}
	_, err = cs.Placement(ctx, "seg-nobody")
	if e, ok := apperr.As(err); !ok || e.Status != 404 {
		t.Errorf("unknown customer: %v", err)
	}
}
