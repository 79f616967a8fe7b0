// Package ledger is the append-only rewards ledger on the LedgerTable (pk `customer_id`, sk
// `sk`): one entry per grant (`ENTRY#<referral_id>#grant`) and per reversal
// (`ENTRY#<referral_id>#reverse`), each a conditional put so it exists at most once, and a
// `BALANCE` item updated in the same transaction (points balance = sum of entries = BALANCE).
// The ledger keeps pseudonymous entries only: customer id, referral id, points, reward kind.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/referral"
)

// Entry kinds.
const (
	KindGrant   = "grant"
	KindReverse = "reverse"
)

// BalanceSK is the sort key of a customer's balance item.
const BalanceSK = "BALANCE"

// Entry is one ledger line.
type Entry struct {
	CustomerID string          `json:"customer_id" dynamodbav:"customer_id"`
	SK         string          `json:"-" dynamodbav:"sk"`
	ReferralID string          `json:"referral_id" dynamodbav:"referral_id"`
	Kind       string          `json:"kind" dynamodbav:"kind"`
	Points     int64           `json:"points" dynamodbav:"points"` // negative for a reversal
	Reward     referral.Reward `json:"reward" dynamodbav:"reward"`
	OrderID    string          `json:"order_id" dynamodbav:"order_id"`
	At         time.Time       `json:"at" dynamodbav:"at"`
}

// EntrySK is the sort key of a referral's entry of a kind.
func EntrySK(referralID, kind string) string { return "ENTRY#" + referralID + "#" + kind }

// Items returns the transaction items that append entry e and move the balance by e.Points:
// the entry's put fails if it exists (exactly once).
func Items(table string, e Entry) ([]types.TransactWriteItem, error) {
	e.SK = EntrySK(e.ReferralID, e.Kind)
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
		return nil, fmt.Errorf("marshal ledger entry %s: %w", e.SK, err)
	}
	return []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(table), Item: item,
			ConditionExpression: aws.String("attribute_not_exists(sk)"),
		}},
		{Update: &types.Update{
			TableName: aws.String(table), Key: key(e.CustomerID, BalanceSK),
			UpdateExpression: aws.String("ADD points :p SET updated_at = :at"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p":  &types.AttributeValueMemberN{Value: strconv.FormatInt(e.Points, 10)},
				":at": &types.AttributeValueMemberS{Value: e.At.UTC().Format(time.RFC3339)},
			},
		}},
	}, nil
}

func key(customerID, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"customer_id": &types.AttributeValueMemberS{Value: customerID},
		"sk":          &types.AttributeValueMemberS{Value: sk},
	}
}

// Client is the subset of the DynamoDB API the reader uses.
type Client interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Reader reads a customer's ledger.
type Reader struct {
	db    Client
	table string
}

// NewReader builds a reader.
func NewReader(db Client, table string) (*Reader, error) {
	if db == nil || table == "" {
		return nil, errors.New("ledger: client and table are required")
	}
	return &Reader{db: db, table: table}, nil
}

// Account is a customer's balance and entries.
type Account struct {
	Balance int64   `json:"points_balance"`
	Entries []Entry `json:"entries"`
}

// Account reads the customer's whole ledger partition (strongly consistent).
func (r *Reader) Account(ctx context.Context, customerID string) (Account, error) {
	var acc Account
	var start map[string]types.AttributeValue
	for {
		out, err := r.db.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(r.table), ConsistentRead: aws.Bool(true), ExclusiveStartKey: start,
			KeyConditionExpression:    aws.String("customer_id = :c"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: customerID}},
		})
		if err != nil {
			return acc, fmt.Errorf("query ledger of %s: %w", customerID, err)
		}
		for _, it := range out.Items {
			if sk, _ := it["sk"].(*types.AttributeValueMemberS); sk != nil && sk.Value == BalanceSK {
				var b struct {
					Points int64 `dynamodbav:"points"`
				}
				if err := attributevalue.UnmarshalMap(it, &b); err != nil {
					return acc, err
				}
				acc.Balance = b.Points
				continue
			}
			var e Entry
			if err := attributevalue.UnmarshalMap(it, &e); err != nil {
				return acc, fmt.Errorf("unmarshal ledger entry: %w", err)
			}
			acc.Entries = append(acc.Entries, e)
		}
		if start = out.LastEvaluatedKey; len(start) == 0 {
			return acc, nil
		}
	}
}
