package batchget

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// partial answers one key per call and leaves the others unprocessed, as DynamoDB may under
// throttling; with stuck set it never answers any.
type partial struct {
	calls int
	stuck bool
}

func (p *partial) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	p.calls++
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}, UnprocessedKeys: map[string]types.KeysAndAttributes{}}
	for table, ka := range in.RequestItems {
		keys := ka.Keys
		if !p.stuck {
			out.Responses[table] = append(out.Responses[table], keys[0])
			keys = keys[1:]
		}
		if len(keys) > 0 {
			ka.Keys = keys
			out.UnprocessedKeys[table] = ka
		}
	}
	return out, nil
}

func key(v string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: v}}
}

func TestGetAsksAgainForUnprocessedKeys(t *testing.T) {
	db := &partial{}
	req := map[string]types.KeysAndAttributes{"t": {Keys: []map[string]types.AttributeValue{key("a"), key("b"), key("c")}}}
	var got []string
	err := Get(context.Background(), db, req, func(table string, it map[string]types.AttributeValue) error {
		got = append(got, table+"/"+it["pk"].(*types.AttributeValueMemberS).Value)
		return nil
	})
	if err != nil || len(got) != 3 || db.calls != 3 {
		t.Fatalf("got %v in %d calls, %v", got, db.calls, err)
	}
}

func TestGetGivesUp(t *testing.T) {
	db := &partial{stuck: true}
	req := map[string]types.KeysAndAttributes{"t": {Keys: []map[string]types.AttributeValue{key("a")}}}
	err := Get(context.Background(), db, req, func(string, map[string]types.AttributeValue) error { return nil })
	if !errors.Is(err, ErrUnprocessed) || db.calls != attempts {
		t.Fatalf("%v after %d calls", err, db.calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Get(ctx, &partial{stuck: true}, req, func(string, map[string]types.AttributeValue) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}
