package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/batchget"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// Segment counters (GET /v1/segments, campaign counts) live in the StatsTable beside the funnel
// (FUNNEL#) and the leaderboard (LB#): one item per segment and segment shard,
//
//	pk "SEG#<segment>#<00..15>" (the customer's seg_shard: SegmentShard), sk "N",
//	n  members, sub_<sub-segment> members with that sub-segment.
//
// They move only in the transaction that changes a customer's membership (rescore's versioned
// write, the erasure's delete), so they count each move exactly once; the shard spreads a
// segment's writes over 16 partitions as the segment index does.
const (
	segCounterPrefix = "SEG#"
	segCounterSK     = "N"
	subAttrPrefix    = "sub_"
)

// SegmentCounters reads and moves the segment counters of one StatsTable.
type SegmentCounters struct {
	db    Client
	table string
}

// NewSegmentCounters builds the counters of the StatsTable `table`.
func NewSegmentCounters(db Client, table string) (*SegmentCounters, error) {
	if db == nil {
		return nil, errors.New("dynamostore: nil client")
	}
	if err := requireTable(table, "stats"); err != nil {
		return nil, err
	}
	return &SegmentCounters{db: db, table: table}, nil
}

// SegmentCounterKey is the key of one shard's counters of segment.
func SegmentCounterKey(segment string, shard int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("%s%s#%02d", segCounterPrefix, segment, shard)},
		"sk": &types.AttributeValueMemberS{Value: segCounterSK},
	}
}

// TransactItems are the updates moving customerID's shard of the counters by deltas, one item
// per segment touched, for a TransactWriteItems that also holds the membership change itself.
func (sc *SegmentCounters) TransactItems(customerID string, deltas []segment.CounterDelta) ([]types.TransactWriteItem, error) {
	return SegmentCounterMoves(sc.table, customerID, deltas)
}

// SegmentCounterMoves is TransactItems on the StatsTable statsTable (for the erasure, which
// has its own client).
func SegmentCounterMoves(statsTable, customerID string, deltas []segment.CounterDelta) ([]types.TransactWriteItem, error) {
	shard := int(shardOf(customerID, SegmentShards))
	out := make([]types.TransactWriteItem, 0, len(deltas))
	for _, d := range deltas {
		if d.Members == 0 && len(d.SubSegments) == 0 {
			continue
		}
		var up expression.UpdateBuilder
		if d.Members != 0 {
			up = up.Add(expression.Name("n"), expression.Value(d.Members))
		}
		for _, sub := range slices.Sorted(maps.Keys(d.SubSegments)) {
			if n := d.SubSegments[sub]; n != 0 {
				up = up.Add(expression.Name(subAttrPrefix+sub), expression.Value(n))
			}
		}
		expr, err := expression.NewBuilder().WithUpdate(up).Build()
		if err != nil {
			return nil, fmt.Errorf("segment counters of %s: %w", d.Segment, err)
		}
		out = append(out, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(statsTable), Key: SegmentCounterKey(d.Segment, shard),
			UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}})
	}
	return out, nil
}

// Read sums each segment's counters over its shards: one BatchGetItem of len(segments) x 16
// keys (48 for GET /v1/segments, under the 100-key limit; unprocessed keys are asked again).
// A BatchGetItem rather than Queries: the shards are separate partition keys (so that writes
// spread), which a Query cannot span, and 48 eventually consistent item reads cost 24 read
// units whatever the number of customers. A segment without counters counts zero.
func (sc *SegmentCounters) Read(ctx context.Context, segments []string) (map[string]segment.Count, error) {
	shards, err := sc.ReadShards(ctx, segments)
	if err != nil {
		return nil, err
	}
	out := make(map[string]segment.Count, len(segments))
	for _, seg := range segments {
		total := segment.Count{SubSegments: map[string]int{}}
		for _, c := range shards[seg] {
			total.Members += c.Members
			for sub, n := range c.SubSegments {
				total.SubSegments[sub] += n
			}
		}
		// As the index count showed them: the sub-segments some member has. A stack upgraded
		// from before the counters reads negative sums until scripts/segment-counts --fix has
		// run; counts are never negative (docs/openapi.yaml).
		maps.DeleteFunc(total.SubSegments, func(_ string, n int) bool { return n <= 0 })
		total.Members = max(total.Members, 0)
		out[seg] = total
	}
	return out, nil
}

// ReadShards returns each segment's counters per shard (index = shard; zero when absent).
func (sc *SegmentCounters) ReadShards(ctx context.Context, segments []string) (map[string][]segment.Count, error) {
	out := make(map[string][]segment.Count, len(segments))
	var keys []map[string]types.AttributeValue
	for _, seg := range segments {
		out[seg] = make([]segment.Count, SegmentShards)
		for shard := range SegmentShards {
			out[seg][shard] = segment.Count{SubSegments: map[string]int{}}
			keys = append(keys, SegmentCounterKey(seg, shard))
		}
	}
	for len(keys) > 0 {
		n := min(100, len(keys))
		err := batchget.Get(ctx, sc.db, map[string]types.KeysAndAttributes{sc.table: {Keys: keys[:n]}}, func(_ string, it map[string]types.AttributeValue) error {
			seg, shard, c, ok := parseCounter(it)
			if ok && out[seg] != nil {
				out[seg][shard] = c
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read segment counters: %w", err)
		}
		keys = keys[n:]
	}
	return out, nil
}

// parseCounter reads one counter item: its segment, shard and counts.
func parseCounter(it map[string]types.AttributeValue) (string, int, segment.Count, bool) {
	pk, _ := it["pk"].(*types.AttributeValueMemberS)
	if pk == nil || !strings.HasPrefix(pk.Value, segCounterPrefix) {
		return "", 0, segment.Count{}, false
	}
	rest := strings.TrimPrefix(pk.Value, segCounterPrefix)
	i := strings.LastIndexByte(rest, '#')
	var shard int
	if i < 0 {
		return "", 0, segment.Count{}, false
	}
	if _, err := fmt.Sscanf(rest[i+1:], "%d", &shard); err != nil || shard < 0 || shard >= SegmentShards {
		return "", 0, segment.Count{}, false
	}
	c := segment.Count{SubSegments: map[string]int{}}
	for name, v := range it {
		n, ok := v.(*types.AttributeValueMemberN)
		if !ok {
			continue
		}
		var x int
		if _, err := fmt.Sscanf(n.Value, "%d", &x); err != nil {
			continue
		}
		switch {
		case name == "n":
			c.Members = x
		case strings.HasPrefix(name, subAttrPrefix):
			c.SubSegments[strings.TrimPrefix(name, subAttrPrefix)] = x
		}
	}
	return rest[:i], shard, c, true
}

// Correct moves one shard's counters from `have` (as read) to `want` (as counted in the
// index), on condition that they still hold `have`: a counter that moved since it was read
// (a rescore in between) is left for the next check. It reports whether it wrote.
func (sc *SegmentCounters) Correct(ctx context.Context, seg string, shard int, have, want segment.Count) (bool, error) {
	var up expression.UpdateBuilder
	cond := expression.ConditionBuilder{}
	first := true
	and := func(c expression.ConditionBuilder) {
		if first {
			cond, first = c, false
			return
		}
		cond = cond.And(c)
	}
	// A missing attribute is a zero counter.
	is := func(attr string, n int) expression.ConditionBuilder {
		eq := expression.Name(attr).Equal(expression.Value(n))
		if n == 0 {
			return expression.Or(expression.AttributeNotExists(expression.Name(attr)), eq)
		}
		return eq
	}
	changed := false
	move := func(attr string, from, to int) {
		and(is(attr, from))
		if from != to {
			up = up.Add(expression.Name(attr), expression.Value(to-from))
			changed = true
		}
	}
	move("n", have.Members, want.Members)
	subs := map[string]bool{}
	for s := range have.SubSegments {
		subs[s] = true
	}
	for s := range want.SubSegments {
		subs[s] = true
	}
	for _, s := range slices.Sorted(maps.Keys(subs)) {
		move(subAttrPrefix+s, have.SubSegments[s], want.SubSegments[s])
	}
	if !changed {
		return false, nil
	}
	expr, err := expression.NewBuilder().WithUpdate(up).WithCondition(cond).Build()
	if err != nil {
		return false, err
	}
	_, err = sc.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(sc.table), Key: SegmentCounterKey(seg, shard),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("correct segment counters %s#%02d: %w", seg, shard, err)
	}
	return true, nil
}
