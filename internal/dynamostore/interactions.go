package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/batchget"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/rescore"
)

// Interactions stores raw interactions, keyed by customer and event id.
type Interactions struct {
	db    Client
	table string
	sweep bool // PutNew marks new items for the sweeper (WithSweep)
}

// NewInteractions builds the store.
func NewInteractions(db Client, table string, opts ...InteractionsOption) (*Interactions, error) {
	if db == nil {
		return nil, fmt.Errorf("dynamostore: nil client")
	}
	if err := requireTable(table, "interactions"); err != nil {
		return nil, err
	}
	s := &Interactions{db: db, table: table}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

type interactionItem struct {
	CustomerID string           `dynamodbav:"customer_id"`
	EventID    string           `dynamodbav:"event_id"`
	Type       interaction.Type `dynamodbav:"type"`
	OccurredAt time.Time        `dynamodbav:"occurred_at"`
	ReceivedAt time.Time        `dynamodbav:"received_at"`
	ExpiresAt  time.Time        `dynamodbav:"expires_at,unixtime"`
	AppliedAt  *time.Time       `dynamodbav:"applied_at,omitempty"`
	// Fingerprint is interaction.Fingerprint: a replay of the event_id with other content is
	// a conflict, told from the item a failed condition returns, at no extra read.
	Fingerprint string `dynamodbav:"fp,omitempty"`
}

var notExists = expression.AttributeNotExists(expression.Name("event_id"))

// PutNew implements ingest.Store with one conditional PutItem.
func (s *Interactions) PutNew(ctx context.Context, in interaction.Interaction, expiresAt time.Time) (ingest.Found, error) {
	props, err := attributevalue.MarshalWithOptions(in.Properties, jsonTags)
	if err != nil {
		return ingest.Found{}, fmt.Errorf("marshal interaction %s properties: %w", in.EventID, err)
	}
	item, err := attributevalue.MarshalMap(interactionItem{
		CustomerID: in.CustomerID, EventID: in.EventID, Type: in.Type, OccurredAt: in.OccurredAt,
		ReceivedAt: time.Now().UTC(), ExpiresAt: expiresAt, Fingerprint: in.Fingerprint(),
	})
	if err != nil {
		return ingest.Found{}, fmt.Errorf("marshal interaction %s: %w", in.EventID, err)
	}
	// Set as is: a types.AttributeValue struct field would be marshalled as a struct
	// ({"Value": {...}} at every level), not as the map it holds.
	item["properties"] = props
	s.markForSweep(item, in)
	cond, err := expression.NewBuilder().WithCondition(notExists).Build()
	if err != nil {
		return ingest.Found{}, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ConditionExpression:                 cond.Condition(),
		ExpressionAttributeNames:            cond.Names(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return ingest.Found{Stored: ingest.Created}, nil
	}
	if ccf, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
		f := ingest.Found{Stored: ingest.DuplicatePending}
		if _, applied := ccf.Item["applied_at"]; applied {
			f.Stored = ingest.DuplicateApplied
		}
		if fp, ok := ccf.Item["fp"].(*types.AttributeValueMemberS); ok {
			f.Fingerprint = fp.Value
		}
		return f, nil
	}
	return ingest.Found{}, fmt.Errorf("put interaction %s/%s: %w", in.CustomerID, in.EventID, err)
}

// Remove implements ingest.Store: one DeleteItem, conditional on the item being the one in
// (its fingerprint) and not applied; otherwise it is left alone.
func (s *Interactions) Remove(ctx context.Context, in interaction.Interaction) error {
	cond := expression.AttributeNotExists(expression.Name("applied_at")).
		And(expression.Name("fp").Equal(expression.Value(in.Fingerprint())))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return err
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: s.key(in.CustomerID, in.EventID),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("remove interaction %s/%s: %w", in.CustomerID, in.EventID, err)
	}
	return nil
}

// jsonTags stores properties under their API names, omitting those the type does not have.
func jsonTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }

// batchGetMax is BatchGetItem's limit of keys per call.
const batchGetMax = 100

// Marks implements rescore.Marks with strongly consistent BatchGetItem calls.
func (s *Interactions) Marks(ctx context.Context, customerID string, eventIDs []string) (map[string]rescore.Mark, error) {
	out := make(map[string]rescore.Mark, len(eventIDs))
	for _, id := range eventIDs {
		out[id] = rescore.Missing
	}
	proj := expression.NamesList(expression.Name("event_id"), expression.Name("applied_at"))
	expr, err := expression.NewBuilder().WithProjection(proj).Build()
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(eventIDs); start += batchGetMax {
		end := min(start+batchGetMax, len(eventIDs))
		keys := make([]map[string]types.AttributeValue, 0, end-start)
		for _, id := range eventIDs[start:end] {
			keys = append(keys, s.key(customerID, id))
		}
		req := map[string]types.KeysAndAttributes{s.table: {
			Keys: keys, ConsistentRead: aws.Bool(true),
			ProjectionExpression: expr.Projection(), ExpressionAttributeNames: expr.Names(),
		}}
		err := batchget.Get(ctx, s.db, req, func(_ string, item map[string]types.AttributeValue) error {
			var it struct {
				EventID   string     `dynamodbav:"event_id"`
				AppliedAt *time.Time `dynamodbav:"applied_at"`
			}
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return fmt.Errorf("unmarshal mark: %w", err)
			}
			if it.AppliedAt != nil {
				out[it.EventID] = rescore.Applied
			} else {
				out[it.EventID] = rescore.Unapplied
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("batch get marks of %s: %w", customerID, err)
		}
	}
	return out, nil
}

// markParallel bounds concurrent UpdateItem calls when marking.
const markParallel = 8

// MarkApplied implements rescore.Marks: one UpdateItem per interaction that leaves a missing
// (erased or expired) interaction missing.
func (s *Interactions) MarkApplied(ctx context.Context, customerID string, eventIDs []string, now time.Time) error {
	upd := expression.Set(expression.Name("applied_at"),
		expression.IfNotExists(expression.Name("applied_at"), expression.Value(now.UTC().Format(time.RFC3339Nano)))).
		Remove(expression.Name(pendingShardAttr)).Remove(expression.Name(pendingAtAttr)) // leaves the pending index; free when absent
	expr, err := expression.NewBuilder().WithUpdate(upd).
		WithCondition(expression.AttributeExists(expression.Name("event_id"))).Build()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(eventIDs))
	sem := make(chan struct{}, markParallel)
	for i, id := range eventIDs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(s.table), Key: s.key(customerID, id),
				UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
				ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			})
			if err != nil && !isConditionFailed(err) {
				errs[i] = fmt.Errorf("mark %s/%s applied: %w", customerID, id, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Interactions) key(customerID, eventID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"customer_id": &types.AttributeValueMemberS{Value: customerID},
		"event_id":    &types.AttributeValueMemberS{Value: eventID},
	}
}
