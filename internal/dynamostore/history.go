package dynamostore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// historyPrefix starts the sort key of segment history items, in the customer's partition:
// "SEG#<unix seconds, 12 digits>#<change id>", so they sort by time.
const historyPrefix = "SEG#"

type historyItem struct {
	segment.Change
	CustomerID string `dynamodbav:"customer_id"`
	SK         string `dynamodbav:"sk"`
}

// RecordChange writes a segment change into the customer's history. The key derives from the
// change's id and time, so writing the same change twice leaves one item.
func (s *Customers) RecordChange(ctx context.Context, ch segment.Change) error {
	item, err := attributevalue.MarshalMap(historyItem{Change: ch, CustomerID: ch.CustomerID,
		SK: fmt.Sprintf("%s%012d#%s", historyPrefix, ch.At.Unix(), ch.ID)})
	if err != nil {
		return fmt.Errorf("marshal change %s: %w", ch.ID, err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("put change %s: %w", ch.ID, err)
	}
	return nil
}

// View is what the read API shows of a customer from the customers table.
type View struct {
	Customer  *aggregate.Customer
	UpdatedAt time.Time
	History   []segment.Change // newest first
}

// View reads the customer's aggregates and segment history in one Query of its partition
// (eventually consistent), or an apperr 404.
func (s *Customers) View(ctx context.Context, customerID string) (*View, error) {
	kc := expression.Key("customer_id").Equal(expression.Value(customerID))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, err
	}
	v := &View{}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(false),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query customer %s: %w", customerID, err)
		}
		for _, item := range page.Items {
			var key struct {
				SK string `dynamodbav:"sk"`
			}
			_ = attributevalue.UnmarshalMap(item, &key)
			switch {
			case key.SK == ProfileSK:
				var it profileItem
				if err := attributevalue.UnmarshalMap(item, &it); err != nil {
					return nil, fmt.Errorf("unmarshal customer %s: %w", customerID, err)
				}
				v.Customer, v.UpdatedAt = &it.Customer, it.UpdatedAt
			case strings.HasPrefix(key.SK, historyPrefix):
				var h historyItem
				if err := attributevalue.UnmarshalMap(item, &h); err != nil {
					return nil, fmt.Errorf("unmarshal history of %s: %w", customerID, err)
				}
				v.History = append(v.History, h.Change)
			}
		}
	}
	if v.Customer == nil {
		return nil, apperr.NotFound("no customer %q", customerID)
	}
	return v, nil
}

// DueForReview pages through one shard of the review index for customers whose next review is
// at or before now, calling f with each page of ids. It reads only the index (keys only), so a
// run costs in proportion to the customers due.
func (s *Customers) DueForReview(ctx context.Context, shard int, now time.Time, f func(ids []string) error) error {
	kc := expression.Key("rv_shard").Equal(expression.Value(fmt.Sprintf("%02d", shard))).
		And(expression.Key("rv_at").LessThanEqual(expression.Value(now.Unix())))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return err
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(ReviewIndex),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query review shard %d: %w", shard, err)
		}
		ids := make([]string, 0, len(page.Items))
		for _, item := range page.Items {
			var k struct {
				CustomerID string `dynamodbav:"customer_id"`
			}
			if err := attributevalue.UnmarshalMap(item, &k); err == nil && k.CustomerID != "" {
				ids = append(ids, k.CustomerID)
			}
		}
		if len(ids) > 0 {
			if err := f(ids); err != nil {
				return err
			}
		}
	}
	return nil
}
