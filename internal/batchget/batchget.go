// Package batchget reads items with BatchGetItem and asks again, after a backoff, for the keys
// DynamoDB leaves unprocessed (under throttling, or past 16 MB a call): a caller that ignored
// them would silently miss items.
package batchget

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Getter is the one DynamoDB call this package makes.
type Getter interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// MaxKeys is BatchGetItem's limit of keys per call, over all tables.
const MaxKeys = 100

// attempts bounds the calls for one request; the backoff doubles from 10 ms (2.5 s in all).
const attempts = 9

// ErrUnprocessed says keys were still unprocessed after every attempt.
var ErrUnprocessed = errors.New("batch get: keys still unprocessed after retries")

// Get reads req (at most MaxKeys keys in all) and hands every item to fn with its table.
func Get(ctx context.Context, db Getter, req map[string]types.KeysAndAttributes, fn func(table string, item map[string]types.AttributeValue) error) error {
	for attempt := 0; len(req) > 0; attempt++ {
		if attempt > 0 {
			if attempt >= attempts {
				return ErrUnprocessed
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(10<<(attempt-1)) * time.Millisecond):
			}
		}
		res, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return err
		}
		for table, items := range res.Responses {
			for _, it := range items {
				if err := fn(table, it); err != nil {
					return err
				}
			}
		}
		req = res.UnprocessedKeys
	}
	return nil
}
