package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/rescore"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// ProfileSK is the sort key of a customer's aggregate item; other items of the customer
// (segment history, vouchers) use other sort keys in the same partition.
const ProfileSK = "PROFILE"

// Customers stores customer aggregates.
type Customers struct {
	db    Client
	table string
	// counters, when set, are the segment counters Put keeps and the counts read.
	counters *SegmentCounters
}

// NewCustomers builds the store.
func NewCustomers(db Client, table string) (*Customers, error) {
	if db == nil {
		return nil, errors.New("dynamostore: nil client")
	}
	if err := requireTable(table, "customers"); err != nil {
		return nil, err
	}
	return &Customers{db: db, table: table}, nil
}

// WithCounters makes Put keep the segment counters of the StatsTable statsTable, and the
// segment counts (SegmentCounts, CountSegment) read them.
func (s *Customers) WithCounters(statsTable string) (*Customers, error) {
	sc, err := NewSegmentCounters(s.db, statsTable)
	if err != nil {
		return nil, err
	}
	s.counters = sc
	return s, nil
}

// profileItem is the stored form: the aggregate plus its concurrency state and index keys.
type profileItem struct {
	aggregate.Customer
	SK          string           `dynamodbav:"sk"`
	Version     int64            `dynamodbav:"v"`
	Pending     []string         `dynamodbav:"pend,omitempty,stringset"`
	Outbox      []segment.Change `dynamodbav:"obx,omitempty"`
	VoucherAsks []string         `dynamodbav:"vask,omitempty"`
	UpdatedAt   time.Time        `dynamodbav:"upd,unixtime"`
	// SegShard keys the "segment" GSI (campaigns, segment listings).
	SegShard string `dynamodbav:"seg_shard,omitempty"`
	// ReviewShard and ReviewAt key the sparse "review" GSI the scheduled rescoring queries:
	// present only while a time-driven change is ahead; ReviewAt is the next review rounded up
	// to the day (the schedule runs daily), so that most writes leave the index untouched.
	ReviewShard string `dynamodbav:"rv_shard,omitempty"`
	ReviewAt    int64  `dynamodbav:"rv_at,omitempty"`
}

// Review index of the scheduled rescoring.
const (
	ReviewIndex  = "review"
	ReviewShards = 16
)

// ReviewShard is the rv_shard of a customer: a stable hash of the id over ReviewShards.
func ReviewShard(customerID string) string {
	return fmt.Sprintf("%02d", shardOf(customerID, ReviewShards))
}

func (s *Customers) key(customerID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"customer_id": &types.AttributeValueMemberS{Value: customerID},
		"sk":          &types.AttributeValueMemberS{Value: ProfileSK},
	}
}

// Get implements rescore.Profiles with a strongly consistent read.
func (s *Customers) Get(ctx context.Context, customerID string) (*aggregate.Customer, rescore.Revision, error) {
	it, err := s.get(ctx, customerID, true)
	if err != nil || it == nil {
		return aggregate.New(customerID), rescore.Revision{}, err
	}
	return &it.Customer, rescore.Revision{Exists: true, Version: it.Version, Pending: it.Pending, Outbox: it.Outbox, VoucherAsks: it.VoucherAsks,
		Membership: rescore.MembershipOf(&it.Customer)}, nil
}

// Find returns a customer's aggregates for the read API (eventually consistent: half the
// cost), or an apperr 404.
func (s *Customers) Find(ctx context.Context, customerID string) (*aggregate.Customer, time.Time, error) {
	it, err := s.get(ctx, customerID, false)
	if err != nil {
		return nil, time.Time{}, err
	}
	if it == nil {
		return nil, time.Time{}, apperr.NotFound("no customer %q", customerID)
	}
	return &it.Customer, it.UpdatedAt, nil
}

func (s *Customers) get(ctx context.Context, customerID string, consistent bool) (*profileItem, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: s.key(customerID), ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return nil, fmt.Errorf("get customer %s: %w", customerID, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	var it profileItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("unmarshal customer %s: %w", customerID, err)
	}
	return &it, nil
}

// Put implements rescore.Profiles: one PutItem conditional on the version read; when the
// customer's membership changes (and the counters are kept), one TransactWriteItems of that
// same conditional put and the counters' moves, so a lost race or a redelivery that fails the
// condition moves no counter either.
func (s *Customers) Put(ctx context.Context, c *aggregate.Customer, prev, next rescore.Revision, now time.Time) error {
	it := profileItem{Customer: *c, SK: ProfileSK, Version: prev.Version + 1, Pending: next.Pending,
		Outbox: next.Outbox, VoucherAsks: next.VoucherAsks, UpdatedAt: now}
	if c.Segment != "" {
		it.SegShard = SegmentShard(c.Segment, c.CustomerID)
	}
	if c.NextReview != nil {
		it.ReviewShard = ReviewShard(c.CustomerID)
		const day = 24 * 3600
		it.ReviewAt = (c.NextReview.Unix() + day - 1) / day * day
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("marshal customer %s: %w", c.CustomerID, err)
	}
	cond := expression.AttributeNotExists(expression.Name("customer_id"))
	if prev.Exists {
		cond = expression.Name("v").Equal(expression.Value(prev.Version))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return err
	}
	var deltas []segment.CounterDelta
	if s.counters != nil {
		deltas = segment.CounterDeltas(prev.Membership, rescore.MembershipOf(c))
	}
	if len(deltas) == 0 {
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table), Item: item,
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(),
			ExpressionAttributeValues: expr.Values(),
		})
		if isConditionFailed(err) {
			return apperr.ErrConcurrentUpdate
		}
		if err != nil {
			return fmt.Errorf("put customer %s: %w", c.CustomerID, err)
		}
		return nil
	}
	moves, err := s.counters.TransactItems(c.CustomerID, deltas)
	if err != nil {
		return err
	}
	ops := append([]types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}}, moves...)
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: ops})
	if LostRace(err) {
		return apperr.ErrConcurrentUpdate
	}
	if err != nil {
		return fmt.Errorf("put customer %s with its segment counters: %w", c.CustomerID, err)
	}
	return nil
}
