package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/batchget"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/sweep"
)

// Pending index of the sweeper (package sweep): sparse, keys only, holding the interactions
// stored by a store built WithSweep until MarkApplied removes their keys.
const (
	PendingIndex  = "pending"
	PendingShards = 16

	pendingShardAttr = "pending_shard" // "00".."15"
	pendingAtAttr    = "pending_at"    // received, unix seconds
)

// InteractionsOption configures an Interactions store.
type InteractionsOption func(*Interactions)

// WithSweep makes PutNew put every new interaction in the pending index, for callers that never
// retry (the click redirect: a browser does not replay a redirect), so that one whose enqueue
// failed is found by the sweeper. It costs one index write when stored and one when marked
// applied; storefront interactions are not indexed (their client replays a failed request).
func WithSweep() InteractionsOption { return func(s *Interactions) { s.sweep = true } }

// PendingShard is the pending_shard of an interaction: a stable hash of its key, so that one
// viral referrer's clicks spread over every shard.
func PendingShard(customerID, eventID string) string {
	return fmt.Sprintf("%02d", shardOf(customerID+"\x00"+eventID, PendingShards))
}

// markForSweep adds the pending index's keys to a new item when the store sweeps.
func (s *Interactions) markForSweep(item map[string]types.AttributeValue, in interaction.Interaction) {
	if !s.sweep {
		return
	}
	item[pendingShardAttr] = &types.AttributeValueMemberS{Value: PendingShard(in.CustomerID, in.EventID)}
	item[pendingAtAttr] = &types.AttributeValueMemberN{Value: fmt.Sprint(time.Now().Unix())}
}

// Stale implements sweep.Index: up to limit keys of one shard of the pending index received at
// or before cutoff, oldest first. It reads only the index, so an empty one costs one read unit.
func (s *Interactions) Stale(ctx context.Context, shard int, cutoff time.Time, limit int) ([]sweep.Key, error) {
	kc := expression.Key(pendingShardAttr).Equal(expression.Value(fmt.Sprintf("%02d", shard))).
		And(expression.Key(pendingAtAttr).LessThanEqual(expression.Value(cutoff.Unix())))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, err
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(PendingIndex),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), Limit: aws.Int32(int32(min(limit, 1000))),
	})
	var keys []sweep.Key
	for p.HasMorePages() && len(keys) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query pending shard %d: %w", shard, err)
		}
		for _, item := range page.Items {
			var k struct {
				CustomerID string `dynamodbav:"customer_id"`
				EventID    string `dynamodbav:"event_id"`
			}
			if err := attributevalue.UnmarshalMap(item, &k); err != nil {
				return nil, fmt.Errorf("unmarshal pending key: %w", err)
			}
			keys = append(keys, sweep.Key{CustomerID: k.CustomerID, EventID: k.EventID})
		}
	}
	return keys[:min(len(keys), limit)], nil
}

// Unapplied implements sweep.Interactions with strongly consistent BatchGetItem calls: the
// interactions of keys still stored and not marked applied, as ingest stored them.
func (s *Interactions) Unapplied(ctx context.Context, keys []sweep.Key) ([]interaction.Interaction, error) {
	var out []interaction.Interaction
	for start := 0; start < len(keys); start += batchGetMax {
		end := min(start+batchGetMax, len(keys))
		ks := make([]map[string]types.AttributeValue, 0, end-start)
		for _, k := range keys[start:end] {
			ks = append(ks, s.key(k.CustomerID, k.EventID))
		}
		req := map[string]types.KeysAndAttributes{s.table: {Keys: ks, ConsistentRead: aws.Bool(true)}}
		err := batchget.Get(ctx, s.db, req, func(_ string, item map[string]types.AttributeValue) error {
			var it interactionItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return fmt.Errorf("unmarshal interaction: %w", err)
			}
			if it.AppliedAt != nil {
				return nil
			}
			in := interaction.Interaction{CustomerID: it.CustomerID, EventID: it.EventID, Type: it.Type, OccurredAt: it.OccurredAt}
			if props, ok := item["properties"]; ok {
				if err := attributevalue.UnmarshalWithOptions(props, &in.Properties, jsonTagsDecode); err != nil {
					return fmt.Errorf("unmarshal interaction %s properties: %w", it.EventID, err)
				}
			}
			out = append(out, in)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("batch get interactions: %w", err)
		}
	}
	return out, nil
}

func jsonTagsDecode(o *attributevalue.DecoderOptions) { o.TagKey = "json" }

// Pending implements sweep.Pending: the customer's pending set (rescore.Revision.Pending), read
// strongly consistently; none when the customer does not exist.
func (s *Customers) Pending(ctx context.Context, customerID string) ([]string, error) {
	proj := expression.NamesList(expression.Name("pend"))
	expr, err := expression.NewBuilder().WithProjection(proj).Build()
	if err != nil {
		return nil, err
	}
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: s.key(customerID), ConsistentRead: aws.Bool(true),
		ProjectionExpression: expr.Projection(), ExpressionAttributeNames: expr.Names(),
	})
	if err != nil {
		return nil, fmt.Errorf("get pending set of %s: %w", customerID, err)
	}
	var it struct {
		Pending []string `dynamodbav:"pend,stringset"`
	}
	if err := attributevalue.UnmarshalMap(res.Item, &it); err != nil {
		return nil, fmt.Errorf("unmarshal pending set of %s: %w", customerID, err)
	}
	return it.Pending, nil
}
