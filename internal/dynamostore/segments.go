package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// Segment membership on the PROFILE item (docs/referrals.md), written by rescore:
//
//	seg        segment ("ambassador", "future_ambassador", "opportunist")
//	sub        sub-segments (string set)
//	prg        program id ("ambassador", "accelerator", "loyalty")
//	seg_shard  "<segment>#<00..15>": the hash key of the CustomersTable GSI "segment" (range
//	           customer_id), so that a segment of millions spreads over 16 partitions.
const (
	SegmentIndex  = "segment"
	SegmentShards = 16
)

// SegmentShard is the seg_shard value of a customer in segment: a stable hash of the customer id
// picks one of SegmentShards shards.
func SegmentShard(segment, customerID string) string {
	return fmt.Sprintf("%s#%02d", segment, shardOf(customerID, SegmentShards))
}

func shardOf(id string, shards uint32) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return h.Sum32() % shards
}

// Placement is what the PROFILE item says of a customer's segment and program; empty fields
// when rescore has not segmented the customer yet.
type Placement struct {
	Segment     string   `dynamodbav:"seg"`
	SubSegments []string `dynamodbav:"sub,stringset,omitempty"`
	Program     string   `dynamodbav:"prg"`
}

// Placement reads a customer's segment and program (one eventually consistent GetItem of the
// PROFILE item, projected), or an apperr 404 for an unknown customer.
func (s *Customers) Placement(ctx context.Context, customerID string) (Placement, error) {
	proj := expression.NamesList(expression.Name("customer_id"), expression.Name("seg"), expression.Name("sub"), expression.Name("prg"))
	expr, err := expression.NewBuilder().WithProjection(proj).Build()
	if err != nil {
		return Placement{}, err
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: s.key(customerID),
		ProjectionExpression: expr.Projection(), ExpressionAttributeNames: expr.Names(),
	})
	if err != nil {
		return Placement{}, fmt.Errorf("get placement of %s: %w", customerID, err)
	}
	if len(out.Item) == 0 {
		return Placement{}, apperr.NotFound("no customer %q", customerID)
	}
	var p Placement
	// A value of another type (a future layout) reads as "not segmented", not as an error.
	_ = attributevalue.UnmarshalMap(out.Item, &p)
	return p, nil
}

// SegmentPage returns up to limit members of segment in one shard (in customer id order) after
// cursor ("" to start), with the sub-segment among theirs when subSegment is set, and the cursor
// of the next page ("" at the end). Filtered pages may be short or empty before the end.
func (s *Customers) SegmentPage(ctx context.Context, segment string, shard int, subSegment, cursor string, limit int) (ids []string, next string, err error) {
	shardKey := fmt.Sprintf("%s#%02d", segment, shard)
	b := expression.NewBuilder().
		WithKeyCondition(expression.Key("seg_shard").Equal(expression.Value(shardKey))).
		WithProjection(expression.NamesList(expression.Name("customer_id")))
	if subSegment != "" {
		b = b.WithFilter(expression.Contains(expression.Name("sub"), subSegment))
	}
	expr, err := b.Build()
	if err != nil {
		return nil, "", err
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(SegmentIndex), Limit: aws.Int32(int32(limit)),
		KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
		ProjectionExpression: expr.Projection(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	if cursor != "" {
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			"seg_shard":   &types.AttributeValueMemberS{Value: shardKey},
			"customer_id": &types.AttributeValueMemberS{Value: cursor},
			"sk":          &types.AttributeValueMemberS{Value: ProfileSK},
		}
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("query segment %s: %w", shardKey, err)
	}
	for _, it := range out.Items {
		if id, ok := it["customer_id"].(*types.AttributeValueMemberS); ok {
			ids = append(ids, id.Value)
		}
	}
	if lek, ok := out.LastEvaluatedKey["customer_id"].(*types.AttributeValueMemberS); ok {
		next = lek.Value
	}
	return ids, next, nil
}

// CountSegment returns the members of segment (with subSegment among theirs when set) from
// the segment counters: one BatchGetItem of 16 keys, whatever the segment's size.
func (s *Customers) CountSegment(ctx context.Context, segment, subSegment string) (int, error) {
	counts, err := s.SegmentCounts(ctx, []string{segment})
	if err != nil {
		return 0, err
	}
	if subSegment != "" {
		return counts[segment].SubSegments[subSegment], nil
	}
	return counts[segment].Members, nil
}

// SegmentCounts returns each segment's members and, among them, each sub-segment's from the
// segment counters (SegmentCounters.Read: one BatchGetItem).
func (s *Customers) SegmentCounts(ctx context.Context, segments []string) (map[string]segment.Count, error) {
	if s.counters == nil {
		return nil, errors.New("dynamostore: segment counts need the counters (WithCounters)")
	}
	return s.counters.Read(ctx, segments)
}

// Member is one row of a segment listing, from the segment index alone.
type Member struct {
	CustomerID  string   `json:"customer_id" dynamodbav:"customer_id"`
	SubSegments []string `json:"sub_segments" dynamodbav:"sub,stringset,omitempty"`
	Program     string   `json:"program" dynamodbav:"prg"`
}

// Members lists up to limit members of segment from shard `shard` on, after the customer id
// `after` in that shard, with subSegment among theirs when set. It returns the shard and id to
// resume from (shard == SegmentShards at the end). Reading stops at limit rows or one Query
// per shard visited, whichever comes first, so a call costs about limit index entries.
func (s *Customers) Members(ctx context.Context, segment, subSegment string, shard int, after string, limit int) ([]Member, int, string, error) {
	var rows []Member
	for shard < SegmentShards && len(rows) < limit {
		shardKey := fmt.Sprintf("%s#%02d", segment, shard)
		b := expression.NewBuilder().WithKeyCondition(expression.Key("seg_shard").Equal(expression.Value(shardKey)))
		if subSegment != "" {
			b = b.WithFilter(expression.Contains(expression.Name("sub"), subSegment))
		}
		expr, err := b.Build()
		if err != nil {
			return nil, 0, "", err
		}
		in := &dynamodb.QueryInput{
			TableName: aws.String(s.table), IndexName: aws.String(SegmentIndex), Limit: aws.Int32(int32(limit - len(rows))),
			KeyConditionExpression: expr.KeyCondition(), FilterExpression: expr.Filter(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}
		if after != "" {
			in.ExclusiveStartKey = map[string]types.AttributeValue{
				"seg_shard":   &types.AttributeValueMemberS{Value: shardKey},
				"customer_id": &types.AttributeValueMemberS{Value: after},
				"sk":          &types.AttributeValueMemberS{Value: ProfileSK},
			}
		}
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, 0, "", fmt.Errorf("list segment %s: %w", shardKey, err)
		}
		for _, it := range out.Items {
			var m Member
			if err := attributevalue.UnmarshalMap(it, &m); err == nil {
				rows = append(rows, m)
			}
		}
		if lek, ok := out.LastEvaluatedKey["customer_id"].(*types.AttributeValueMemberS); ok {
			after = lek.Value
			if len(rows) >= limit {
				break
			}
			continue
		}
		shard, after = shard+1, ""
	}
	return rows, shard, after, nil
}

// IndexCounts counts a segment's members and, among them, each sub-segment's, per shard, by
// reading the whole segment index (every shard in parallel; about 60 bytes read per member).
// Its cost grows with the segment: only the counters' check and repair use it.
func (s *Customers) IndexCounts(ctx context.Context, seg string) ([]segment.Count, error) {
	tallies := make([]segment.Count, SegmentShards)
	errs := make([]error, SegmentShards)
	var wg sync.WaitGroup
	for shard := range SegmentShards {
		wg.Go(func() {
			t := segment.Count{SubSegments: map[string]int{}}
			kc := expression.Key("seg_shard").Equal(expression.Value(fmt.Sprintf("%s#%02d", seg, shard)))
			expr, err := expression.NewBuilder().WithKeyCondition(kc).WithProjection(expression.NamesList(expression.Name("sub"))).Build()
			if err != nil {
				errs[shard] = err
				return
			}
			p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
				TableName: aws.String(s.table), IndexName: aws.String(SegmentIndex),
				KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
				ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					errs[shard] = fmt.Errorf("count segment %s in the index: %w", seg, err)
					return
				}
				for _, it := range page.Items {
					t.Members++
					var m Member
					if attributevalue.UnmarshalMap(it, &m) == nil {
						for _, sub := range m.SubSegments {
							t.SubSegments[sub]++
						}
					}
				}
			}
			tallies[shard] = t
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return tallies, nil
}
