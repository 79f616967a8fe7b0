// Package funnel keeps the referral funnel's counters per program (SPEC §5 GET /v1/stats/funnel):
// vouchers issued → shares → clicks → signups → first orders → rewards granted. Each counter is
// sharded over Shards items of the StatsTable, so no partition takes more than 1/Shards of a
// stage's writes (a viral code's clicks stay far under DynamoDB's 1,000 writes/s per partition).
//
// Items: pk `FUNNEL#<program>#<stage>#<shard>`, sk `N`, attribute `n` (number).
//
// Who counts what: issue-voucher and campaigns count vouchers_issued; record-interaction counts
// shares (referral_share) and signups (signup with referral_code); the click redirect counts
// clicks; redeem-referral counts first_orders (inside its redemption transaction, with
// TransactItem) and grant-reward counts rewards_granted (inside the grant transaction).
package funnel

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/batchget"
	"github.com/referral-engine/referral-engine/internal/charset"
)

// Stage names, in funnel order.
const (
	VouchersIssued = "vouchers_issued"
	Shares         = "shares"
	Clicks         = "clicks"
	Signups        = "signups"
	FirstOrders    = "first_orders"
	RewardsGranted = "rewards_granted"
)

// Stages lists the stages in funnel order.
var Stages = []string{VouchersIssued, Shares, Clicks, Signups, FirstOrders, RewardsGranted}

// Programs are the programs Read reports (the voucher's `program`).
var Programs = []string{"ambassador", "accelerator", "loyalty"}

// Shards is the number of items each counter is spread over.
const Shards = 16

// Client is the subset of the DynamoDB API the counters use.
type Client interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Counters reads and writes the funnel counters of one StatsTable.
type Counters struct {
	db    Client
	table string
}

// New builds the counters (STATS_TABLE).
func New(db Client, table string) (*Counters, error) {
	if db == nil || table == "" {
		return nil, errors.New("funnel: client and stats table are required")
	}
	return &Counters{db: db, table: table}, nil
}

var programPattern = charset.New("a-z0-9_", 1, 32)

func known(stage string) bool {
	for _, s := range Stages {
		if s == stage {
			return true
		}
	}
	return false
}

// Key is the key of one shard of a counter.
func Key(program, stage string, shard int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "FUNNEL#" + program + "#" + stage + "#" + strconv.Itoa(shard)},
		"sk": &types.AttributeValueMemberS{Value: "N"},
	}
}

func check(program, stage string) error {
	if !programPattern.MatchString(program) {
		return fmt.Errorf("funnel: bad program %q", program)
	}
	if !known(stage) {
		return fmt.Errorf("funnel: unknown stage %q (stages: %s)", stage, strings.Join(Stages, ", "))
	}
	return nil
}

// Incr adds n to a stage of a program: one UpdateItem ADD on a random shard.
func (c *Counters) Incr(ctx context.Context, program, stage string, n int64) error {
	if err := check(program, stage); err != nil {
		return err
	}
	_, err := c.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(c.table), Key: Key(program, stage, rand.IntN(Shards)),
		UpdateExpression:          aws.String("ADD n :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(n)},
	})
	if err != nil {
		return fmt.Errorf("funnel: incr %s %s: %w", program, stage, err)
	}
	return nil
}

// TransactItem is the same increment as one item of a TransactWriteItems, so a stage can count
// exactly once with the state change it counts.
func TransactItem(table, program, stage string, n int64) (types.TransactWriteItem, error) {
	if err := check(program, stage); err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(table), Key: Key(program, stage, rand.IntN(Shards)),
		UpdateExpression:          aws.String("ADD n :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(n)},
	}}, nil
}

// Funnel is one program's counts by stage.
type Funnel map[string]int64

// Read sums every shard of every stage of each program in Programs: BatchGetItem calls of 100
// keys, in parallel.
func (c *Counters) Read(ctx context.Context) (map[string]Funnel, error) {
	var keys []map[string]types.AttributeValue
	for _, p := range Programs {
		for _, s := range Stages {
			for i := range Shards {
				keys = append(keys, Key(p, s, i))
			}
		}
	}
	out := map[string]Funnel{}
	for _, p := range Programs {
		out[p] = Funnel{}
		for _, s := range Stages {
			out[p][s] = 0
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for start := 0; start < len(keys); start += 100 {
		chunk := keys[start:min(start+100, len(keys))]
		wg.Go(func() {
			err := batchget.Get(ctx, c.db, map[string]types.KeysAndAttributes{c.table: {Keys: chunk}}, func(_ string, it map[string]types.AttributeValue) error {
				pk, _ := it["pk"].(*types.AttributeValueMemberS)
				nv, _ := it["n"].(*types.AttributeValueMemberN)
				if pk == nil || nv == nil {
					return nil
				}
				parts := strings.Split(pk.Value, "#") // FUNNEL, program, stage, shard
				if len(parts) != 4 {
					return nil
				}
				n, _ := strconv.ParseInt(nv.Value, 10, 64)
				mu.Lock()
				out[parts[1]][parts[2]] += n
				mu.Unlock()
				return nil
			})
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("funnel: read: %w", err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
