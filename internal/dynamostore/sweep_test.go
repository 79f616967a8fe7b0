package dynamostore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/rescore"
	"github.com/referral-engine/referral-engine/internal/sweep"
)

// units wraps the real client to sum the write units DynamoDB reports, per table and index.
type units struct {
	dynamostore.Client
	mu    sync.Mutex
	write map[string]float64 // "table", "index"
	read  float64
}

func newUnits() *units { return &units{Client: stack.DynamoDB, write: map[string]float64{}} }

func (u *units) add(cc *types.ConsumedCapacity, write bool) {
	if cc == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !write {
		u.read += *cc.CapacityUnits
		return
	}
	if cc.Table != nil && cc.Table.CapacityUnits != nil {
		u.write["table"] += *cc.Table.CapacityUnits
	}
	for _, ix := range cc.GlobalSecondaryIndexes {
		u.write["index"] += *ix.CapacityUnits
	}
}

func (u *units) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityIndexes
	out, err := u.Client.PutItem(ctx, in, opts...)
	if err == nil {
		u.add(out.ConsumedCapacity, true)
	}
	return out, err
}

func (u *units) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityIndexes
	out, err := u.Client.UpdateItem(ctx, in, opts...)
	if err == nil {
		u.add(out.ConsumedCapacity, true)
	}
	return out, err
}

func (u *units) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.ReturnConsumedCapacity = types.ReturnConsumedCapacityTotal
	out, err := u.Client.Query(ctx, in, opts...)
	if err == nil {
		u.add(out.ConsumedCapacity, false)
	}
	return out, err
}

func clickOf(customer, event string, at time.Time) interaction.Interaction {
	stars := int64(5)
	return interaction.Interaction{CustomerID: customer, EventID: event, Type: interaction.ReferralClick, OccurredAt: at.UTC(),
		Properties: interaction.Properties{Code: "ANNA-7KQ2XH", Stars: &stars, Fields: map[string]string{"birthday": "05-12"}}}
}

func stale(t *testing.T, s *dynamostore.Interactions, cutoff time.Time) []sweep.Key {
	t.Helper()
	var all []sweep.Key
	for shard := range dynamostore.PendingShards {
		keys, err := s.Stale(context.Background(), shard, cutoff, 1000)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, keys...)
	}
	return all
}

// Only a store built WithSweep indexes what it stores; MarkApplied takes it out of the index.
// The cost: one index write when stored, one when marked; none for the other stores.
func TestPendingIndex(t *testing.T) {
	ctx := context.Background()
	table := stack.Resources["InteractionsTable"]
	now := time.Now()
	u := newUnits()
	swept, err := dynamostore.NewInteractions(u, table, dynamostore.WithSweep())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := dynamostore.NewInteractions(u, table)
	if err != nil {
		t.Fatal(err)
	}
	in := clickOf("ds-anna", "click-1", now)
	if got, err := swept.PutNew(ctx, in, now.Add(ingest.DedupWindow)); err != nil || got.Stored != ingest.Created {
		t.Fatalf("put: %v %v", got, err)
	}
	clickUnits := u.write["index"]
	if got, err := plain.PutNew(ctx, clickOf("ds-anna", "order-1", now), now.Add(ingest.DedupWindow)); err != nil || got.Stored != ingest.Created {
		t.Fatalf("put: %v %v", got, err)
	}
	if u.write["index"] != clickUnits {
		t.Errorf("a storefront interaction wrote %v index units", u.write["index"]-clickUnits)
	}
	keys := stale(t, swept, now.Add(time.Second))
	if !slices.Contains(keys, sweep.Key{CustomerID: "ds-anna", EventID: "click-1"}) || slices.Contains(keys, sweep.Key{CustomerID: "ds-anna", EventID: "order-1"}) {
		t.Errorf("stale %v, want click-1 alone", keys)
	}
	if keys := stale(t, swept, now.Add(-time.Minute)); slices.Contains(keys, sweep.Key{CustomerID: "ds-anna", EventID: "click-1"}) {
		t.Error("a click within the grace was found")
	}
	ins, err := swept.Unapplied(ctx, []sweep.Key{{CustomerID: "ds-anna", EventID: "click-1"}, {CustomerID: "ds-anna", EventID: "gone"}})
	if err != nil || len(ins) != 1 || ins[0].EventID != "click-1" || ins[0].Properties.Code != in.Properties.Code ||
		*ins[0].Properties.Stars != 5 || ins[0].Properties.Fields["birthday"] != "05-12" || !ins[0].OccurredAt.Equal(in.OccurredAt) || ins[0].Type != in.Type {
		t.Fatalf("unapplied %+v %v, want click-1 as stored", ins, err)
	}
	before := u.write["index"]
	if err := swept.MarkApplied(ctx, "ds-anna", []string{"click-1", "order-1"}, now); err != nil {
		t.Fatal(err)
	}
	markUnits := u.write["index"] - before
	if keys := stale(t, swept, now.Add(time.Second)); slices.Contains(keys, sweep.Key{CustomerID: "ds-anna", EventID: "click-1"}) {
		t.Error("an applied click is still in the pending index")
	}
	if ins, err := swept.Unapplied(ctx, []sweep.Key{{CustomerID: "ds-anna", EventID: "click-1"}}); err != nil || len(ins) != 0 {
		t.Errorf("unapplied after the mark: %+v %v", ins, err)
	}
	marks, err := swept.Marks(ctx, "ds-anna", []string{"click-1", "order-1"})
	if err != nil || marks["click-1"] != rescore.Applied || marks["order-1"] != rescore.Applied {
		t.Errorf("marks %v %v", marks, err)
	}
	t.Logf("index write units per click: %v when stored, %v when marked applied (storefront interactions: 0)", clickUnits, markUnits)
	if clickUnits != 1 || markUnits != 1 {
		t.Errorf("index units %v + %v per click, want 1 + 1", clickUnits, markUnits)
	}

	// An empty index costs one read per shard to sweep.
	u.read = 0
	_ = stale(t, swept, now.Add(-time.Hour))
	t.Logf("sweeping an empty index: %v read units over %d shards", u.read, dynamostore.PendingShards)
}

// Stale is bounded by its limit and returns the oldest first.
func TestStaleLimit(t *testing.T) {
	ctx := context.Background()
	s, err := dynamostore.NewInteractions(stack.DynamoDB, stack.Resources["InteractionsTable"], dynamostore.WithSweep())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 40 {
		if _, err := s.PutNew(ctx, clickOf(fmt.Sprintf("ds-lim-%d", i%3), fmt.Sprintf("click-%d", i), now), now.Add(ingest.DedupWindow)); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for shard := range dynamostore.PendingShards {
		keys, err := s.Stale(ctx, shard, now.Add(time.Second), 1)
		if err != nil || len(keys) > 1 {
			t.Fatalf("shard %d: %v %v, want at most 1", shard, keys, err)
		}
		n += len(keys)
	}
	if n < 8 {
		t.Errorf("40 clicks fill only %d of 16 shards", n)
	}
}

// Pending reads a customer's pending set: what rescore's last write applied.
func TestCustomersPending(t *testing.T) {
	ctx := context.Background()
	c, err := dynamostore.NewCustomers(stack.DynamoDB, stack.Resources["CustomersTable"])
	if err != nil {
		t.Fatal(err)
	}
	if p, err := c.Pending(ctx, "ds-nobody"); err != nil || len(p) != 0 {
		t.Errorf("unknown customer: %v %v", p, err)
	}
	agg, rev, err := c.Get(ctx, "ds-ben")
	if err != nil {
		t.Fatal(err)
	}
	agg.Apply(clickOf("ds-ben", "click-9", time.Now()))
	if err := c.Put(ctx, agg, rev, rescore.Revision{Pending: []string{"click-9", "click-8"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	p, err := c.Pending(ctx, "ds-ben")
	slices.Sort(p)
	if err != nil || !slices.Equal(p, []string{"click-8", "click-9"}) {
		t.Errorf("pending %v %v", p, err)
	}
}
