package voucherstore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/voucher"
)

type campaignItem struct {
	PK string `dynamodbav:"pk"`
	voucher.Campaign
}

// CreateCampaign records a campaign unless it exists: created is false and existing holds the
// stored record when it does (a relaunch).
func (s *Store) CreateCampaign(ctx context.Context, c voucher.Campaign) (created bool, existing *voucher.Campaign, err error) {
	item, err := attributevalue.MarshalMap(campaignItem{PK: campaignKey(c.ID), Campaign: c})
	if err != nil {
		return false, nil, fmt.Errorf("marshal campaign %s: %w", c.ID, err)
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return false, nil, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item, ConditionExpression: cond.Condition(),
		ExpressionAttributeNames:            cond.Names(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return true, nil, nil
	}
	if isConditionFailed(err) {
		old, err := s.Campaign(ctx, c.ID)
		if err != nil {
			return false, nil, err
		}
		if old == nil {
			return false, nil, fmt.Errorf("campaign %s: exists but cannot be read", c.ID)
		}
		return false, old, nil
	}
	return false, nil, fmt.Errorf("put campaign %s: %w", c.ID, err)
}

// Campaign reads a campaign record, nil if none.
func (s *Store) Campaign(ctx context.Context, id string) (*voucher.Campaign, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(campaignKey(id)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get campaign %s: %w", id, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	var it campaignItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("unmarshal campaign %s: %w", id, err)
	}
	return &it.Campaign, nil
}

// MarkCampaignLaunched records that every shard message of the campaign was sent.
func (s *Store) MarkCampaignLaunched(ctx context.Context, id string) error {
	if err := s.setIfExists(ctx, campaignKey(id), expression.Set(expression.Name("status"), expression.Value(voucher.CampaignLaunched)), nil); err != nil {
		return fmt.Errorf("mark campaign %s launched: %w", id, err)
	}
	return nil
}

// ClickRetention is how long click counters (keyed by a hashed client IP) are kept (SPEC §1).
const ClickRetention = 90 * 24 * time.Hour

// CountClick counts a click on code (owned by customer owner) by a client (a salted hash, never
// the IP) in the hour of at, and reports whether it is within limit clicks of that client on
// that code in that hour. One UpdateItem on a per-client item: a viral code spreads over as many
// items as clients.
func (s *Store) CountClick(ctx context.Context, code, owner, clientHash string, at time.Time, limit int) (bool, error) {
	pk := "CLICK#" + code + "#" + clientHash + "#" + at.UTC().Format("2006010215")
	upd := expression.Add(expression.Name("n"), expression.Value(1)).
		Set(expression.Name("purge_at"), expression.Value(at.Add(ClickRetention).Unix()))
	if owner != "" {
		// The owner puts the counter in the sparse by_customer index, where erasure finds it: set
		// once, when the counter is created, so later clicks write no index entry.
		upd = upd.Set(expression.Name("customer_id"), expression.IfNotExists(expression.Name("customer_id"), expression.Value(owner)))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return false, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(pk), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return false, fmt.Errorf("count click on %s: %w", code, err)
	}
	var n struct {
		N int `dynamodbav:"n"`
	}
	if err := attributevalue.UnmarshalMap(out.Attributes, &n); err != nil {
		return false, fmt.Errorf("unmarshal click count: %w", err)
	}
	return n.N <= limit, nil
}
