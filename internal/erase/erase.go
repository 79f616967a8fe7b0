// Package erase removes a customer's personal data from every table (GDPR, DELETE
// /v1/customers/{id}) and keeps what accounting needs under a stable pseudonym.
//
// What happens to each item (docs/referrals.md, "Erasure"):
//   - InteractionsTable: the customer's partition is deleted (raw properties hold order ids,
//     review ids, profile values).
//   - CustomersTable: the partition (PROFILE aggregate, SEG# history) is deleted, the PROFILE
//     in one transaction with the decrement of the customer's segment counters; an ERASED
//     record under the pseudonym, written as begun before anything is erased and finished
//     last, lets a retry after a crash finish and a later call answer already_erased.
//   - VouchersTable: OWNER# items deleted; CODE# items kept as revoked tombstones (the code stays
//     reserved and late redemptions are refused) with customer_id = pseudonym and no
//     referrer_email_hash or review id; CLICK# counters of the codes (salted IP hashes) deleted.
//   - ReferralsTable: FRIEND#, CAP#, the customer's EMAIL# guard and FP# fingerprints deleted;
//     referrals where they are referrer or friend keep their amounts under the pseudonym, without
//     the friend's email hash; their order guard loses its request hash; a reward still pending
//     for an erased referrer is voided (nobody left to pay).
//   - LedgerTable: entries and BALANCE move to the pseudonym's partition, in transactions that
//     keep the sum of entries equal to BALANCE.
//   - StatsTable: leaderboard counts move to the pseudonym; funnel counters hold no ids; the
//     segment counters lose the customer (with the PROFILE, above).
//
// Every item is found by key, in the customer's partitions, or in the sparse by-customer index
// of a table (IndexByCustomer): the work is the customer's items, whatever the size of the
// tables. Items written before the indexes get their key from scripts/erase-index (Backfill).
package erase

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/batchget"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/referralstore"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// Pseudonym is the stable stand-in for an erased customer: "erased-" and 24 hex characters of
// HMAC-SHA256(salt, id). Without the salt it cannot be linked back to the id.
func Pseudonym(salt []byte, customerID string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(customerID))
	return "erased-" + hex.EncodeToString(m.Sum(nil))[:24]
}

// Counts says what an erasure did, per kind of item.
type Counts struct {
	Interactions     int `json:"interactions_deleted"`
	CustomerItems    int `json:"customer_items_deleted"`
	VouchersRevoked  int `json:"vouchers_pseudonymised"`
	VoucherItems     int `json:"voucher_items_deleted"`
	ClickCounters    int `json:"click_counters_deleted"`
	Guards           int `json:"referral_guards_deleted"`
	Referrals        int `json:"referrals_pseudonymised"`
	RewardsVoided    int `json:"pending_rewards_voided"`
	LedgerItems      int `json:"ledger_items_moved"`
	LeaderboardItems int `json:"leaderboard_items_moved"`
}

// Total is the number of items changed.
func (c Counts) Total() int {
	return c.Interactions + c.CustomerItems + c.VouchersRevoked + c.VoucherItems + c.ClickCounters +
		c.Guards + c.Referrals + c.RewardsVoided + c.LedgerItems + c.LeaderboardItems
}

// Result answers an erasure.
type Result struct {
	CustomerID    string    `json:"customer_id"`
	Pseudonym     string    `json:"pseudonym"`
	Erased        Counts    `json:"erased"`
	AlreadyErased bool      `json:"already_erased"` // an earlier erasure had done it all
	ErasedAt      time.Time `json:"erased_at"`
}

// ErrNotFound: no table holds anything of the customer, and they were never erased.
var ErrNotFound = errors.New("no data of this customer")

// Tables are the physical table names.
type Tables struct {
	Customers, Interactions, Vouchers, Referrals, Ledger, Stats string
}

// Client is what erasure needs of DynamoDB.
type Client interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// The sparse KEYS_ONLY indexes erasure finds a customer's items by (template.yaml), so that it
// reads the customer's items only: no Scan (Client has none).
const (
	// IndexByCustomer is on AttrCustomerID in VouchersTable (CODE#, OWNER#, CLICK#),
	// ReferralsTable (REF# under their referrer, EMAIL#, FP#, CAP#) and StatsTable (LB#).
	IndexByCustomer = "by_customer"
	AttrCustomerID  = "customer_id"
)

// TombstoneSK is the sort key of the erasure record, in the pseudonym's CustomersTable partition.
const TombstoneSK = "ERASED"

// Publisher publishes outbound events (outbound.Publisher).
type Publisher interface {
	Publish(ctx context.Context, events ...outbound.Event) error
}

// Eraser erases customers.
type Eraser struct {
	db   Client
	t    Tables
	salt []byte
	now  func() time.Time
	pub  Publisher
}

// WithPublisher makes each erasure publish customer.erased (id customer.erased:<pseudonym>, the
// customer id and pseudonym) before recording it, for the loyalty system and the ESP to erase
// their copies; a failed publish fails the erasure, and the retry publishes again.
func (e *Eraser) WithPublisher(p Publisher) *Eraser {
	e.pub = p
	return e
}

// New builds an Eraser; every table and a salt of at least 16 bytes are required.
func New(db Client, t Tables, salt string, now func() time.Time) (*Eraser, error) {
	if db == nil || t.Customers == "" || t.Interactions == "" || t.Vouchers == "" || t.Referrals == "" || t.Ledger == "" || t.Stats == "" {
		return nil, errors.New("erase: client and every table are required")
	}
	if len(salt) < 16 {
		return nil, errors.New("erase: the pseudonym salt must be at least 16 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &Eraser{db: db, t: t, salt: []byte(salt), now: now}, nil
}

// Erase removes or pseudonymises everything of customerID. It is idempotent: a second call
// finishes whatever a failed first one left, then answers already_erased with zero counts.
func (e *Eraser) Erase(ctx context.Context, customerID string) (*Result, error) {
	p := Pseudonym(e.salt, customerID)
	now := e.now().UTC()
	prev, err := e.begin(ctx, p, now)
	if err != nil {
		return nil, err
	}
	var c Counts
	steps := []func(context.Context, string, string, *Counts) error{
		e.interactions, e.customer, e.vouchers, e.referrals, e.ledger, e.leaderboard,
	}
	for _, step := range steps {
		if err := step(ctx, customerID, p, &c); err != nil {
			return nil, err
		}
	}
	if prev == nil && c.Total() == 0 {
		// Never known: take back the record begin wrote.
		if _, err := e.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.t.Customers), Key: key("customer_id", p, "sk", TombstoneSK)}); err != nil {
			return nil, fmt.Errorf("delete erasure record: %w", err)
		}
		return nil, ErrNotFound
	}
	res := &Result{CustomerID: customerID, Pseudonym: p, Erased: c, ErasedAt: now}
	if prev != nil && prev.done && c.Total() == 0 {
		res.AlreadyErased, res.ErasedAt = true, prev.erasedAt
		return res, nil
	}
	if e.pub != nil {
		ev := outbound.Event{ID: outbound.CustomerErased + ":" + p, Type: outbound.CustomerErased, At: now, CustomerID: customerID,
			Data: map[string]any{"pseudonym": p, "erased_at": now.Format(time.RFC3339)}}
		if err := e.pub.Publish(ctx, ev); err != nil {
			return nil, err
		}
	}
	item, err := attributevalue.MarshalMap(map[string]any{
		"customer_id": p, "sk": TombstoneSK, "status": statusErased, "erased_at": now.Format(time.RFC3339), "counts": c,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal erasure record: %w", err)
	}
	if _, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.t.Customers), Item: item}); err != nil {
		return nil, fmt.Errorf("put erasure record: %w", err)
	}
	return res, nil
}

// The erasure record's status: begun (before anything is erased) or finished.
const (
	statusErasing = "erasing"
	statusErased  = "erased"
)

type record struct {
	done     bool
	erasedAt time.Time
}

// begin writes the erasure record as begun unless there is one, and returns the one there was
// (nil: none). Written before anything is erased, it lets a retry after a crash between the
// erasing and the finishing (the event, the record) finish it rather than, finding nothing of
// the customer any more, answer 404.
func (e *Eraser) begin(ctx context.Context, p string, now time.Time) (*record, error) {
	item, err := attributevalue.MarshalMap(map[string]any{
		"customer_id": p, "sk": TombstoneSK, "status": statusErasing, "started_at": now.Format(time.RFC3339),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal erasure record: %w", err)
	}
	_, err = e.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.t.Customers), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(sk)"), ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// An erased record from before the status existed has erased_at and no status.
		r := &record{done: str(ccf.Item, "status") != statusErasing}
		r.erasedAt, _ = time.Parse(time.RFC3339, str(ccf.Item, "erased_at"))
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("begin the erasure record: %w", err)
	}
	return nil, nil
}

// ---- partitions keyed by the customer id

func (e *Eraser) interactions(ctx context.Context, id, _ string, c *Counts) error {
	keys, err := e.partition(ctx, e.t.Interactions, "customer_id", id, "customer_id, event_id")
	if err != nil {
		return err
	}
	c.Interactions += len(keys)
	return e.deleteAll(ctx, e.t.Interactions, keys)
}

func (e *Eraser) customer(ctx context.Context, id, _ string, c *Counts) error {
	for attempt := 1; ; attempt++ {
		items, err := e.partition(ctx, e.t.Customers, "customer_id", id, "customer_id, sk, v, seg, sub")
		if err != nil {
			return err
		}
		var keys []map[string]types.AttributeValue
		var profile map[string]types.AttributeValue
		for _, it := range items {
			if str(it, "sk") == dynamostore.ProfileSK {
				profile = it
				continue
			}
			keys = append(keys, key("customer_id", id, "sk", str(it, "sk")))
		}
		if profile != nil {
			err := e.deleteProfile(ctx, id, profile)
			if dynamostore.LostRace(err) && attempt < 5 {
				continue // a rescore wrote it since: read it again
			}
			if err != nil {
				return fmt.Errorf("delete the profile of an erased customer: %w", err)
			}
			c.CustomerItems++
		}
		c.CustomerItems += len(keys)
		return e.deleteAll(ctx, e.t.Customers, keys)
	}
}

// deleteProfile deletes the customer's PROFILE item, conditional on the version read, and takes
// a segmented customer out of the segment counters in the same transaction: a retried erasure
// finds no PROFILE (nothing to take out again), and a rescore in between (a first segmentation
// included) fails the condition.
func (e *Eraser) deleteProfile(ctx context.Context, id string, it map[string]types.AttributeValue) error {
	var m struct {
		Version *int64   `dynamodbav:"v"`
		Segment string   `dynamodbav:"seg"`
		Subs    []string `dynamodbav:"sub,stringset"`
	}
	if err := attributevalue.UnmarshalMap(it, &m); err != nil {
		return fmt.Errorf("read the profile of %s: %w", id, err)
	}
	// Items written before versions existed have none: then on their existence.
	cond := expression.AttributeExists(expression.Name("sk")).And(expression.AttributeNotExists(expression.Name("v")))
	if m.Version != nil {
		cond = expression.Name("v").Equal(expression.Value(*m.Version))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return err
	}
	moves, err := dynamostore.SegmentCounterMoves(e.t.Stats, id,
		segment.CounterDeltas(segment.Membership{Segment: m.Segment, SubSegments: m.Subs}, segment.Membership{}))
	if err != nil {
		return err
	}
	if len(moves) == 0 {
		_, err = e.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(e.t.Customers), Key: key("customer_id", id, "sk", dynamostore.ProfileSK),
			ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		})
		return err
	}
	ops := append([]types.TransactWriteItem{{Delete: &types.Delete{
		TableName: aws.String(e.t.Customers), Key: key("customer_id", id, "sk", dynamostore.ProfileSK),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}}, moves...)
	_, err = e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: ops})
	return err
}

// ledger moves the entries and BALANCE to the pseudonym's partition: each transaction puts the
// moved items and deletes the originals, and BALANCE moves as an ADD (merging with whatever the
// pseudonym already holds) guarded on the value read.
func (e *Eraser) ledger(ctx context.Context, id, p string, c *Counts) error {
	items, err := e.partition(ctx, e.t.Ledger, "customer_id", id, "")
	if err != nil {
		return err
	}
	const perTx = 45 // two operations per item, 100 per transaction
	for len(items) > 0 {
		n := min(perTx, len(items))
		chunk := items[:n]
		items = items[n:]
		var ops []types.TransactWriteItem
		for _, it := range chunk {
			sk := str(it, "sk")
			old := key("customer_id", id, "sk", sk)
			if sk == "BALANCE" {
				pts, ok := it["points"].(*types.AttributeValueMemberN)
				if !ok {
					pts = &types.AttributeValueMemberN{Value: "0"}
				}
				ops = append(ops,
					types.TransactWriteItem{Update: &types.Update{TableName: aws.String(e.t.Ledger), Key: key("customer_id", p, "sk", sk),
						UpdateExpression:          aws.String("ADD points :p SET updated_at = :at"),
						ExpressionAttributeValues: map[string]types.AttributeValue{":p": pts, ":at": s(e.now().UTC().Format(time.RFC3339))}}},
					types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(e.t.Ledger), Key: old,
						ConditionExpression: aws.String("points = :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": pts}}})
				continue
			}
			moved := map[string]types.AttributeValue{}
			for k, v := range it {
				moved[k] = v
			}
			moved["customer_id"] = s(p)
			ops = append(ops,
				types.TransactWriteItem{Put: &types.Put{TableName: aws.String(e.t.Ledger), Item: moved}},
				types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(e.t.Ledger), Key: old}})
		}
		if _, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: ops}); err != nil {
			return fmt.Errorf("move ledger of an erased customer: %w", err)
		}
		c.LedgerItems += len(chunk)
	}
	return nil
}

// ---- tables without a partition per customer: their sparse by-customer indexes
//
// The indexes are KEYS_ONLY and eventually consistent: erasure reads what they point to by key
// (consistently) and changes it on conditions, so an entry not yet updated in the index (a
// pseudonymised code, a moved count) is skipped.

func (e *Eraser) vouchers(ctx context.Context, id, p string, c *Counts) error {
	found, err := e.indexKeys(ctx, e.t.Vouchers, IndexByCustomer, AttrCustomerID, id)
	if err != nil {
		return err
	}
	var codes, del []map[string]types.AttributeValue
	for _, k := range found {
		pk := str(k, "pk")
		switch {
		case strings.HasPrefix(pk, "OWNER#"):
			del = append(del, key("pk", pk))
			c.VoucherItems++
		case strings.HasPrefix(pk, "CLICK#"):
			// Click counters of the customer's codes: CLICK#<CODE>#<client hash>#<hour>.
			del = append(del, key("pk", pk))
			c.ClickCounters++
		case strings.HasPrefix(pk, "CODE#"):
			codes = append(codes, key("pk", pk))
		}
	}
	items, err := e.getAll(ctx, e.t.Vouchers, codes)
	if err != nil {
		return err
	}
	for _, it := range items {
		pk := str(it, "pk")
		if str(it, "customer_id") != id {
			continue // pseudonymised by an earlier run, the index not yet updated
		}
		upd := "SET customer_id = :p, #st = :revoked, erased_at = :now REMOVE referrer_email_hash"
		if strings.HasPrefix(str(it, "campaign_id"), "review:") {
			upd += ", campaign_id"
		}
		_, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.t.Vouchers), Key: key("pk", pk),
			UpdateExpression: aws.String(upd), ConditionExpression: aws.String("customer_id = :c"), ExpressionAttributeNames: map[string]string{"#st": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(p), ":c": s(id), ":revoked": s("revoked"), ":now": s(e.now().UTC().Format(time.RFC3339))},
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf): // pseudonymised meanwhile
		case err != nil:
			return fmt.Errorf("pseudonymise voucher %s: %w", pk, err)
		default:
			c.VouchersRevoked++
		}
	}
	return e.deleteAll(ctx, e.t.Vouchers, del)
}

// referrals finds the customer's referrals as referrer (REF#, customer_id = referrer_id),
// guards and caps (EMAIL#, FP#, CAP#) in by_customer, and their referral as a friend through
// their FRIEND# guard: the redemption puts it in the same transaction as the referral and
// refuses a second one, so a friend has at most one, and keying the referral by friend too
// would cost a second index (and write) per referral for nothing. The guards go last, so a
// retry after a crash finds the referral again.
func (e *Eraser) referrals(ctx context.Context, id, p string, c *Counts) error {
	found, err := e.indexKeys(ctx, e.t.Referrals, IndexByCustomer, AttrCustomerID, id)
	if err != nil {
		return err
	}
	var refs, del []map[string]types.AttributeValue
	for _, k := range found {
		if strings.HasPrefix(str(k, "pk"), "REF#") {
			refs = append(refs, k)
		} else {
			del = append(del, k)
		}
	}
	friend, err := e.getAll(ctx, e.t.Referrals, []map[string]types.AttributeValue{key("pk", "FRIEND#"+id, "sk", "GUARD")})
	if err != nil {
		return err
	}
	for _, g := range friend {
		del = append(del, key("pk", str(g, "pk"), "sk", str(g, "sk")))
		if rid := str(g, "referral_id"); rid != "" {
			refs = append(refs, key("pk", "REF#"+rid, "sk", "REF"))
		}
	}
	items, err := e.getAll(ctx, e.t.Referrals, refs)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := e.referral(ctx, it, id, p, c); err != nil {
			return err
		}
	}
	c.Guards += len(del)
	return e.deleteAll(ctx, e.t.Referrals, del)
}

func (e *Eraser) referral(ctx context.Context, it map[string]types.AttributeValue, id, p string, c *Counts) error {
	k := key("pk", str(it, "pk"), "sk", str(it, "sk"))
	// The erased referrer's reward still held: void it (as a refund before the grant would).
	// Before the referral leaves the id's index entry: a retry after a crash in between finds it.
	if str(it, "referrer_id") == id && str(it, "status") == "pending" {
		_, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.t.Referrals), Key: k,
			UpdateExpression:          aws.String("SET #st = :voided, void_reason = :why REMOVE due_shard"),
			ConditionExpression:       aws.String("#st = :pending"),
			ExpressionAttributeNames:  map[string]string{"#st": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":voided": s("voided"), ":pending": s("pending"), ":why": s("referrer_erased")},
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf): // granted meanwhile: the ledger step moves it
		case err != nil:
			return fmt.Errorf("void referral of an erased referrer: %w", err)
		default:
			c.RewardsVoided++
		}
	}
	var sets, removes []string
	if str(it, "referrer_id") == id {
		sets = append(sets, "referrer_id = :p")
	}
	if str(it, AttrCustomerID) == id {
		sets = append(sets, "customer_id = :p") // the referrer, as by_customer's key
	}
	friend := str(it, "friend_customer_id")
	if friend == id {
		sets = append(sets, "friend_customer_id = :p")
	}
	if (friend == id || friend == p) && it["friend_email_hash"] != nil {
		removes = append(removes, "friend_email_hash")
	}
	if len(sets)+len(removes) > 0 {
		upd := ""
		if len(sets) > 0 {
			upd = "SET " + strings.Join(sets, ", ")
		}
		if len(removes) > 0 {
			upd += " REMOVE " + strings.Join(removes, ", ")
		}
		if _, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.t.Referrals), Key: k,
			UpdateExpression: aws.String(upd), ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(p)},
		}); err != nil {
			return fmt.Errorf("pseudonymise referral: %w", err)
		}
		c.Referrals++
	}
	// The friend's order guard: its request hash covers the friend's id.
	if order := str(it, "order_id"); order != "" && (friend == id || friend == p) {
		_, err := e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.t.Referrals), Key: key("pk", "ORDER#"+order, "sk", "GUARD"),
			UpdateExpression: aws.String("REMOVE request_hash"), ConditionExpression: aws.String("attribute_exists(request_hash)")})
		var ccf *types.ConditionalCheckFailedException
		if err != nil && !errors.As(err, &ccf) {
			return fmt.Errorf("strip order guard %s: %w", order, err)
		}
	}
	return nil
}

// leaderboard moves the customer's counts (LB#<day>#<shard> / <id>) to the pseudonym, on the
// pseudonym's shard, so a later reversal of a pseudonymised referral decrements the same item.
func (e *Eraser) leaderboard(ctx context.Context, id, p string, c *Counts) error {
	found, err := e.indexKeys(ctx, e.t.Stats, IndexByCustomer, AttrCustomerID, id)
	if err != nil {
		return err
	}
	items, err := e.getAll(ctx, e.t.Stats, found)
	if err != nil {
		return err
	}
	for _, it := range items {
		pk := str(it, "pk")
		parts := strings.Split(pk, "#") // LB, day, shard
		if len(parts) != 3 || parts[0] != "LB" || str(it, "sk") != id {
			continue
		}
		n, ok := it["n"].(*types.AttributeValueMemberN)
		if !ok {
			n = &types.AttributeValueMemberN{Value: "0"}
		}
		_, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String(e.t.Stats), Key: referralstore.LeaderboardKey(parts[1], p),
				// In by_customer under the pseudonym, as the grant of a pseudonymised referral writes it.
				UpdateExpression:          aws.String("ADD n :n SET customer_id = if_not_exists(customer_id, :p)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":n": n, ":p": s(p)}}},
			{Delete: &types.Delete{TableName: aws.String(e.t.Stats), Key: key("pk", pk, "sk", id),
				ConditionExpression: aws.String("n = :n"), ExpressionAttributeValues: map[string]types.AttributeValue{":n": n}}},
		}})
		if err != nil {
			return fmt.Errorf("move leaderboard %s: %w", pk, err)
		}
		c.LeaderboardItems++
	}
	return nil
}

// ---- DynamoDB helpers

func (e *Eraser) partition(ctx context.Context, table, hashKey, id, projection string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	in := &dynamodb.QueryInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("#h = :id"),
		ExpressionAttributeNames:  map[string]string{"#h": hashKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": s(id)},
	}
	if projection != "" {
		names := strings.Split(projection, ", ")
		var ph []string
		for i, n := range names {
			k := "#p" + strconv.Itoa(i)
			in.ExpressionAttributeNames[k] = n
			ph = append(ph, k)
		}
		in.ProjectionExpression = aws.String(strings.Join(ph, ", "))
	}
	p := dynamodb.NewQueryPaginator(e.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", table, err)
		}
		out = append(out, page.Items...)
	}
	return out, nil
}

// indexKeys returns the keys of the items whose attr is value in a sparse KEYS_ONLY index.
func (e *Eraser) indexKeys(ctx context.Context, table, index, attr, value string) ([]map[string]types.AttributeValue, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(expression.Key(attr).Equal(expression.Value(value))).Build()
	if err != nil {
		return nil, err
	}
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(e.db, &dynamodb.QueryInput{
		TableName: aws.String(table), IndexName: aws.String(index),
		KeyConditionExpression: expr.KeyCondition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s index %s: %w", table, index, err)
		}
		for _, it := range page.Items {
			delete(it, attr) // the table's key only
			out = append(out, it)
		}
	}
	return out, nil
}

// getAll reads the items of keys consistently (BatchGetItem, 100 keys a call), missing ones
// left out.
func (e *Eraser) getAll(ctx context.Context, table string, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	seen := map[string]bool{} // BatchGetItem refuses a key twice
	var uniq []map[string]types.AttributeValue
	for _, k := range keys {
		id := str(k, "pk") + "\x00" + str(k, "sk")
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, k)
		}
	}
	var out []map[string]types.AttributeValue
	for len(uniq) > 0 {
		n := min(100, len(uniq))
		err := batchget.Get(ctx, e.db, map[string]types.KeysAndAttributes{table: {Keys: uniq[:n], ConsistentRead: aws.Bool(true)}},
			func(_ string, it map[string]types.AttributeValue) error { out = append(out, it); return nil })
		if err != nil {
			return nil, fmt.Errorf("read from %s: %w", table, err)
		}
		uniq = uniq[n:]
	}
	return out, nil
}

func (e *Eraser) deleteAll(ctx context.Context, table string, keys []map[string]types.AttributeValue) error {
	for len(keys) > 0 {
		n := min(25, len(keys))
		reqs := make([]types.WriteRequest, 0, n)
		for _, k := range keys[:n] {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
		keys = keys[n:]
		for attempt := 0; len(reqs) > 0; attempt++ {
			if attempt > 8 {
				return fmt.Errorf("delete from %s: unprocessed items after retries", table)
			}
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(25<<attempt) * time.Millisecond):
				}
			}
			out, err := e.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
			if err != nil {
				return fmt.Errorf("delete from %s: %w", table, err)
			}
			reqs = out.UnprocessedItems[table]
		}
	}
	return nil
}

func key(kv ...string) map[string]types.AttributeValue {
	m := make(map[string]types.AttributeValue, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = s(kv[i+1])
	}
	return m
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func str(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
