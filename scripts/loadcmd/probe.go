package main

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
)

// prober measures the end-to-end lag on a sample of the load: a few customers receive only probe
// interactions, one at a time, so a probe is applied exactly when its customer's interaction
// count reaches the value expected. One BatchGetItem every tick reads every probe in flight: the
// cost stays a few calls per second whatever the rate.
type prober struct {
	db    *dynamodb.Client
	table string
	tick  time.Duration

	mu       sync.Mutex
	free     []string
	want     map[string]int       // the count a customer's aggregate reaches when its probe is applied
	inFlight map[string]time.Time // customer -> when its probe was sent
	lags     []time.Duration
}

func newProber(db *dynamodb.Client, table string, customers []string, applied int) *prober {
	p := &prober{db: db, table: table, tick: 20 * time.Millisecond, free: customers,
		want: map[string]int{}, inFlight: map[string]time.Time{}}
	for _, c := range customers {
		p.want[c] = applied
	}
	return p
}

// take returns a probe customer to send the next interaction to, if one is free.
func (p *prober) take() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return "", false
	}
	c := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.want[c]++
	p.inFlight[c] = time.Now()
	return c, true
}

// retire drops a probe customer whose interaction got no clear answer: whether it will be
// applied is unknown, so its count can no longer time anything.
func (p *prober) retire(c string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inFlight, c)
}

// giveBack returns a probe customer whose interaction was refused (4xx: nothing stored).
func (p *prober) giveBack(c string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.inFlight[c]; ok {
		delete(p.inFlight, c)
		p.want[c]--
		p.free = append(p.free, c)
	}
}

// pending is how many probes are not applied yet.
func (p *prober) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inFlight)
}

// step returns the lags measured since the last call; probes still in flight count with their
// age (a lower bound) when giveUp is set, and are retired.
func (p *prober) step(giveUp bool) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.lags
	p.lags = nil
	if giveUp {
		for c, sent := range p.inFlight {
			out = append(out, time.Since(sent))
			delete(p.inFlight, c)
		}
	}
	return out
}

// run polls until ctx is done.
func (p *prober) run(ctx context.Context) {
	t := time.NewTicker(p.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.poll(ctx)
		}
	}
}

func (p *prober) poll(ctx context.Context) {
	p.mu.Lock()
	var keys []map[string]ddbtypes.AttributeValue
	for c := range p.inFlight {
		if len(keys) == 100 { // BatchGetItem's limit; the rest wait a tick
			break
		}
		keys = append(keys, map[string]ddbtypes.AttributeValue{
			"customer_id": &ddbtypes.AttributeValueMemberS{Value: c},
			"sk":          &ddbtypes.AttributeValueMemberS{Value: dynamostore.ProfileSK},
		})
	}
	p.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	out, err := p.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
		p.table: {Keys: keys, ProjectionExpression: aws.String("customer_id, n"), ConsistentRead: aws.Bool(true)},
	}})
	if err != nil {
		return
	}
	seen := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, it := range out.Responses[p.table] {
		var row struct {
			ID string `dynamodbav:"customer_id"`
			N  int    `dynamodbav:"n"`
		}
		if attributevalue.UnmarshalMap(it, &row) != nil {
			continue
		}
		if sent, ok := p.inFlight[row.ID]; ok && row.N >= p.want[row.ID] {
			p.lags = append(p.lags, seen.Sub(sent))
			delete(p.inFlight, row.ID)
			p.free = append(p.free, row.ID)
		}
	}
}
