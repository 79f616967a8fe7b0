package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
)

func customers(t *testing.T, db dynamostore.Client) *dynamostore.Customers {
	t.Helper()
	cs, err := dynamostore.NewCustomers(db, stack.Resources["CustomersTable"])
	if err != nil {
		t.Fatal(err)
	}
	if cs, err = cs.WithCounters(stack.Resources["StatsTable"]); err != nil {
		t.Fatal(err)
	}
	return cs
}

// move reads a customer, places them in seg with subs and writes them, as rescore does.
func move(t *testing.T, cs *dynamostore.Customers, id, seg string, subs ...string) error {
	t.Helper()
	ctx := context.Background()
	c, rev, err := cs.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c.Result = scoring.Result{Segment: seg, SubSegments: subs, At: time.Now()}
	return cs.Put(ctx, c, rev, rev, time.Now())
}

// counts are the counters of segs as "seg" and "seg/sub" (zeros left out).
func counts(t *testing.T, cs *dynamostore.Customers, segs ...string) map[string]int {
	t.Helper()
	all, err := cs.SegmentCounts(context.Background(), segs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for seg, c := range all {
		if c.Members != 0 {
			out[seg] = c.Members
		}
		for sub, n := range c.SubSegments {
			out[seg+"/"+sub] = n
		}
	}
	return out
}

// indexCounts are the same, counted in the segment index.
func indexCounts(t *testing.T, cs *dynamostore.Customers, segs ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, seg := range segs {
		shards, err := cs.IndexCounts(context.Background(), seg)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range shards {
			if c.Members != 0 {
				out[seg] += c.Members
			}
			for sub, n := range c.SubSegments {
				out[seg+"/"+sub] += n
			}
		}
	}
	return out
}

// Put moves the counters with the membership, exactly once: a replayed write (a redelivery, a
// lost race) fails its version condition and moves nothing.
func TestPutMovesSegmentCounters(t *testing.T) {
	ctx := context.Background()
	cs := customers(t, stack.DynamoDB)
	fut, amb := "t1_future", "t1_amb"
	want := func(step string, w map[string]int) {
		t.Helper()
		if got := counts(t, cs, fut, amb); !maps.Equal(got, w) {
			t.Fatalf("%s: counters %v, want %v", step, got, w)
		}
		if got := indexCounts(t, cs, fut, amb); !maps.Equal(got, w) {
			t.Fatalf("%s: index %v, want %v", step, got, w)
		}
	}
	for i := range 5 {
		if err := move(t, cs, fmt.Sprintf("t1-c%d", i), fut, "new_customer"); err != nil {
			t.Fatal(err)
		}
	}
	want("first segmentation", map[string]int{fut: 5, fut + "/new_customer": 5})

	// A redelivered write of the same revision: refused whole.
	c, rev, err := cs.Get(ctx, "t1-c0")
	if err != nil {
		t.Fatal(err)
	}
	c.Result = scoring.Result{Segment: amb, SubSegments: []string{"best_buyer"}, At: time.Now()}
	if err := cs.Put(ctx, c, rev, rev, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := cs.Put(ctx, c, rev, rev, time.Now()); !errors.Is(err, apperr.ErrConcurrentUpdate) {
		t.Fatalf("replayed write: %v, want ErrConcurrentUpdate", err)
	}
	want("a move, replayed", map[string]int{fut: 4, fut + "/new_customer": 4, amb: 1, amb + "/best_buyer": 1})

	// Sub-segments alone; then a write that changes nothing of the membership.
	if err := move(t, cs, "t1-c1", fut, "lapsed"); err != nil {
		t.Fatal(err)
	}
	if err := move(t, cs, "t1-c1", fut, "lapsed"); err != nil {
		t.Fatal(err)
	}
	want("sub-segments", map[string]int{fut: 4, fut + "/new_customer": 3, fut + "/lapsed": 1, amb: 1, amb + "/best_buyer": 1})

	// Two consumers race from the same version: one wins, the other moves nothing.
	c1, r1, _ := cs.Get(ctx, "t1-c2")
	c2, r2, _ := cs.Get(ctx, "t1-c2")
	c1.Result = scoring.Result{Segment: amb, At: time.Now()}
	c2.Result = scoring.Result{Segment: fut, SubSegments: []string{"lapsed"}, At: time.Now()}
	e1, e2 := make(chan error), make(chan error)
	go func() { e1 <- cs.Put(ctx, c1, r1, r1, time.Now()) }()
	go func() { e2 <- cs.Put(ctx, c2, r2, r2, time.Now()) }()
	err1, err2 := <-e1, <-e2
	if (err1 == nil) == (err2 == nil) || !errors.Is(errors.Join(err1, err2), apperr.ErrConcurrentUpdate) {
		t.Fatalf("race: %v / %v, want one win and one ErrConcurrentUpdate", err1, err2)
	}
	w := map[string]int{fut: 3, fut + "/new_customer": 2, fut + "/lapsed": 1, amb: 2, amb + "/best_buyer": 1}
	if err2 == nil {
		w = map[string]int{fut: 4, fut + "/new_customer": 2, fut + "/lapsed": 2, amb: 1, amb + "/best_buyer": 1}
	}
	want("race", w)
}

// A deployment from before the counters: Correct rebuilds them from the index, and only when
// they still hold what was read. Reading the counters costs the same whatever the base's size,
// while counting the index grows with it (the numbers are logged).
func TestCorrectAndReadCost(t *testing.T) {
	ctx := context.Background()
	segs := []string{"t2_a", "t2_b", "t2_c"}
	metered := dynamodb.New(stack.DynamoDB.Options(), meter.DynamoDBOption)
	cs := customers(t, metered)
	readUnits := func(f func()) float64 {
		before := meter.Snapshot()
		f()
		return meter.Snapshot().Sub(before).ReadUnits()
	}
	emptyRead := readUnits(func() { counts(t, cs, segs...) })
	start := time.Now()

	// Profiles written without counters (as before this change), 12,000 of them.
	const n = 12000
	table := stack.Resources["CustomersTable"]
	var reqs []types.WriteRequest
	flush := func() {
		if len(reqs) == 0 {
			return
		}
		if _, err := stack.DynamoDB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}}); err != nil {
			t.Fatal(err)
		}
		reqs = nil
	}
	for i := range n {
		id := fmt.Sprintf("t2-c%05d", i)
		seg := segs[i%3]
		it := map[string]types.AttributeValue{
			"customer_id": &types.AttributeValueMemberS{Value: id},
			"sk":          &types.AttributeValueMemberS{Value: dynamostore.ProfileSK},
			"seg":         &types.AttributeValueMemberS{Value: seg},
			"prg":         &types.AttributeValueMemberS{Value: "p"},
			"seg_shard":   &types.AttributeValueMemberS{Value: dynamostore.SegmentShard(seg, id)},
			"v":           &types.AttributeValueMemberN{Value: "1"},
		}
		if i%5 == 0 {
			it["sub"] = &types.AttributeValueMemberSS{Value: []string{"lapsed"}}
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		if len(reqs) == 25 {
			flush()
		}
	}
	flush()
	t.Logf("seeded %d profiles in %v", n, time.Since(start))
	if got := counts(t, cs, segs...); len(got) != 0 {
		t.Fatalf("counters before the repair: %v", got)
	}

	sc, err := dynamostore.NewSegmentCounters(stack.DynamoDB, stack.Resources["StatsTable"])
	if err != nil {
		t.Fatal(err)
	}
	have, err := sc.ReadShards(ctx, segs)
	if err != nil {
		t.Fatal(err)
	}
	// A counter that moved since it was read is left alone.
	stale := have["t2_a"][0]
	stale.Members = 7
	if wrote, err := sc.Correct(ctx, "t2_a", 0, stale, segment.Count{Members: 1}); err != nil || wrote {
		t.Fatalf("Correct from a stale reading: wrote %v, %v", wrote, err)
	}
	for _, seg := range segs {
		index, err := cs.IndexCounts(ctx, seg)
		if err != nil {
			t.Fatal(err)
		}
		for shard := range dynamostore.SegmentShards {
			if _, err := sc.Correct(ctx, seg, shard, have[seg][shard], index[shard]); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := indexCounts(t, cs, segs...)
	if got := counts(t, cs, segs...); !maps.Equal(got, want) || got["t2_a"] != n/3 {
		t.Fatalf("after the repair: counters %v, index %v", got, want)
	}

	var indexRead float64
	for _, seg := range segs {
		indexRead += readUnits(func() {
			if _, err := cs.IndexCounts(ctx, seg); err != nil {
				t.Fatal(err)
			}
		})
	}
	fullRead := readUnits(func() { counts(t, cs, segs...) })
	t.Logf("GET /v1/segments read units, %d customers: index count %.1f, counters %.1f (%.1f with no customers)", n, indexRead, fullRead, emptyRead)
	// 48 eventually consistent reads of small items: 24 units at most (absent items cost
	// nothing on DynamoDB Local), whatever n; the index count reads ~60 bytes per member.
	if fullRead > 24 || indexRead <= fullRead {
		t.Errorf("reading the counters cost %.1f units with %d customers (the index count %.1f): want at most 24, less than the index", fullRead, n, indexRead)
	}
}

// A customer written before the counters existed, moved after: the old segment's counters go
// below zero until the repair, and are read as zero (counts are never negative).
func TestCountsReadNeverNegative(t *testing.T) {
	ctx := context.Background()
	cs := customers(t, stack.DynamoDB)
	if _, err := stack.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(stack.Resources["CustomersTable"]), Item: map[string]types.AttributeValue{
		"customer_id": &types.AttributeValueMemberS{Value: "t3-old"}, "sk": &types.AttributeValueMemberS{Value: dynamostore.ProfileSK},
		"seg": &types.AttributeValueMemberS{Value: "t3_old"}, "sub": &types.AttributeValueMemberSS{Value: []string{"lapsed"}},
		"seg_shard": &types.AttributeValueMemberS{Value: dynamostore.SegmentShard("t3_old", "t3-old")}, "v": &types.AttributeValueMemberN{Value: "3"},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := move(t, cs, "t3-old", "t3_new"); err != nil {
		t.Fatal(err)
	}
	all, err := cs.SegmentCounts(ctx, []string{"t3_old", "t3_new"})
	if err != nil {
		t.Fatal(err)
	}
	if old, moved := all["t3_old"], all["t3_new"]; old.Members != 0 || len(old.SubSegments) != 0 || moved.Members != 1 {
		t.Errorf("t3_old %+v, t3_new %+v", old, moved)
	}
}
