// Package referralstore keeps referrals on DynamoDB (docs/referrals.md): a redemption is ONE
// TransactWriteItems over the VouchersTable (the code's use), the ReferralsTable (order, friend
// and email guards, the referrer's monthly cap, the referral, the fingerprints), and the
// StatsTable (first orders); a grant is one transaction over the ReferralsTable (pending →
// granted), the LedgerTable (entry + BALANCE) and the StatsTable (leaderboard, rewards); a
// reversal likewise. A cancelled transaction stores nothing; its cancellation reasons become
// the refusal codes of SPEC §4.3.
package referralstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/batchget"
	"github.com/referral-engine/referral-engine/internal/funnel"
	"github.com/referral-engine/referral-engine/internal/ledger"
	"github.com/referral-engine/referral-engine/internal/referral"
)

// Client is the subset of the DynamoDB API the store uses.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Tables names the tables the store spans.
type Tables struct {
	Referrals, Vouchers, Ledger, Stats string
}

// Store implements referral.Store.
type Store struct {
	db Client
	t  Tables
}

// DueShards is the number of `due_shard` values of the sparse `due` GSI (0..15).
const DueShards = 16

// LeaderboardShards spreads each day's leaderboard over this many partitions.
const LeaderboardShards = 8

// DueIndex is the sparse GSI of pending referrals by release time.
const DueIndex = "due"

// New builds the store; every table is required.
func New(db Client, t Tables) (*Store, error) {
	if db == nil {
		return nil, errors.New("referralstore: nil client")
	}
	if t.Referrals == "" || t.Vouchers == "" || t.Ledger == "" || t.Stats == "" {
		return nil, fmt.Errorf("referralstore: every table is required, got %+v", t)
	}
	return &Store{db: db, t: t}, nil
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

// Keys of the ReferralsTable and VouchersTable items (docs/referrals.md).
func refKey(id string) map[string]types.AttributeValue { return key("REF#"+id, "REF") }
func orderKey(order string) map[string]types.AttributeValue {
	return key("ORDER#"+order, "GUARD")
}
func friendKey(c string) map[string]types.AttributeValue { return key("FRIEND#"+c, "GUARD") }
func emailKey(h string) map[string]types.AttributeValue  { return key("EMAIL#"+h, "GUARD") }
func capKey(referrer, month string) map[string]types.AttributeValue {
	return key("CAP#"+referrer+"#"+month, "CAP")
}
func fpKey(hash, customer string) map[string]types.AttributeValue {
	return key("FP#"+hash, "C#"+customer)
}
func codeKey(code string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s("CODE#" + code)}
}

// LeaderboardKey is the StatsTable item counting a referrer's successful referrals of a day.
func LeaderboardKey(day, referrer string) map[string]types.AttributeValue {
	return key("LB#"+day+"#"+strconv.Itoa(referral.Shard(referrer, LeaderboardShards)), referrer)
}

// leaderboardAdd adds delta to a referrer's count of a day. customer_id (the referrer, the item's
// sk) puts leaderboard items, and no other counter of the table, in the sparse by_customer index
// erasure finds them by; set when the item is created, so later counts write no index entry.
func leaderboardAdd(table, day, referrer string, delta int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(table), Key: LeaderboardKey(day, referrer),
		UpdateExpression:          aws.String("ADD n :d SET customer_id = if_not_exists(customer_id, :c)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": n(delta), ":c": s(referrer)},
	}}
}

// guardItem is the ORDER#<order_id> item: one referral per order, and the order's refunds
// (refund_full from the route; refund_amount, the sum of the refund interactions whose ids are
// in refund_events). Without a referral it is a tombstone, with expires_at.
type guardItem struct {
	ReferralID   string `dynamodbav:"referral_id"`
	RequestHash  string `dynamodbav:"request_hash"`
	RefundFull   bool   `dynamodbav:"refund_full"`
	RefundAmount int64  `dynamodbav:"refund_amount"`
}

type codeItem struct {
	Code              string         `dynamodbav:"code"`
	CustomerID        string         `dynamodbav:"customer_id"`
	Program           string         `dynamodbav:"program"`
	Status            string         `dynamodbav:"status"`
	ExpiresAt         int64          `dynamodbav:"expires_at"`
	UseLimit          int            `dynamodbav:"use_limit"`
	Uses              int            `dynamodbav:"uses"`
	ReferrerReward    map[string]any `dynamodbav:"referrer_reward"`
	FriendOffer       map[string]any `dynamodbav:"friend_offer"`
	ReferrerEmailHash string         `dynamodbav:"referrer_email_hash"`
}

func decodeCode(item map[string]types.AttributeValue, code string) (*referral.Code, error) {
	if len(item) == 0 {
		return nil, nil
	}
	var c codeItem
	if err := attributevalue.UnmarshalMap(item, &c); err != nil {
		return nil, fmt.Errorf("unmarshal code %s: %w", code, err)
	}
	out := &referral.Code{Code: code, CustomerID: c.CustomerID, Program: c.Program, Status: c.Status,
		UseLimit: c.UseLimit, Uses: c.Uses, ReferrerReward: c.ReferrerReward, FriendOffer: c.FriendOffer,
		ReferrerEmailHash: c.ReferrerEmailHash}
	if c.ExpiresAt > 0 {
		out.ExpiresAt = time.Unix(c.ExpiresAt, 0).UTC()
	}
	return out, nil
}

// Load reads the code and the order's guard in one BatchGetItem (strongly consistent).
func (st *Store) Load(ctx context.Context, code, orderID string) (*referral.Code, *referral.OrderGuard, error) {
	req := map[string]types.KeysAndAttributes{
		st.t.Vouchers:  {Keys: []map[string]types.AttributeValue{codeKey(code)}, ConsistentRead: aws.Bool(true)},
		st.t.Referrals: {Keys: []map[string]types.AttributeValue{orderKey(orderID)}, ConsistentRead: aws.Bool(true)},
	}
	var codeIt, guardIt map[string]types.AttributeValue
	err := batchget.Get(ctx, st.db, req, func(table string, it map[string]types.AttributeValue) error {
		if table == st.t.Vouchers {
			codeIt = it
		} else {
			guardIt = it
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load code %s and order %s: %w", code, orderID, err)
	}
	c, err := decodeCode(codeIt, code)
	if err != nil {
		return nil, nil, err
	}
	g, err := decodeGuard(guardIt)
	return c, g, err
}

func decodeGuard(it map[string]types.AttributeValue) (*referral.OrderGuard, error) {
	if len(it) == 0 {
		return nil, nil
	}
	var g guardItem
	if err := attributevalue.UnmarshalMap(it, &g); err != nil {
		return nil, fmt.Errorf("unmarshal order guard: %w", err)
	}
	return &referral.OrderGuard{ReferralID: g.ReferralID, RequestHash: g.RequestHash,
		Refunds: referral.Refunds{Full: g.RefundFull, Amount: g.RefundAmount}}, nil
}

// OrderGuard reads an order's guard (nil: no referral for the order).
func (st *Store) OrderGuard(ctx context.Context, orderID string) (*referral.OrderGuard, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.t.Referrals), Key: orderKey(orderID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get order guard %s: %w", orderID, err)
	}
	return decodeGuard(out.Item)
}

// AddRefund implements referral.Store: one UpdateItem of the order's guard, conditional on the
// refund not counted yet (its event id in refund_events), creating a tombstone (with
// expires_at) when the order has no referral; a second one, without the expiry, when it has.
func (st *Store) AddRefund(ctx context.Context, orderID string, r referral.Refund, now time.Time) (*referral.OrderGuard, error) {
	var once expression.ConditionBuilder
	if !r.Full {
		once = expression.Not(expression.Contains(expression.Name("refund_events"), r.EventID))
	}
	update := func(tombstone bool) (*referral.OrderGuard, map[string]types.AttributeValue, error) {
		// Built afresh each time: an UpdateBuilder's operations live in a map its copies share.
		u := expression.Set(expression.Name("refunded_at"), expression.Value(now.UTC().Format(time.RFC3339)))
		if r.Full {
			u = u.Set(expression.Name("refund_full"), expression.Value(true))
		} else {
			u = u.Add(expression.Name("refund_amount"), expression.Value(r.Amount)).
				Add(expression.Name("refund_events"), expression.Value(&types.AttributeValueMemberSS{Value: []string{r.EventID}}))
		}
		cond := expression.AttributeExists(expression.Name("referral_id"))
		if tombstone {
			u = u.Set(expression.Name("expires_at"), expression.Value(now.Add(referral.TombstoneTTL).Unix()))
			cond = expression.AttributeNotExists(expression.Name("referral_id"))
		}
		if once.IsSet() {
			cond = cond.And(once)
		}
		expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(cond).Build()
		if err != nil {
			return nil, nil, err
		}
		out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(st.t.Referrals), Key: orderKey(orderID),
			UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			return nil, ccf.Item, nil
		case err != nil:
			return nil, nil, fmt.Errorf("add a refund to order %s: %w", orderID, err)
		}
		g, err := decodeGuard(out.Attributes)
		return g, nil, err
	}
	g, old, err := update(true)
	if err != nil || g != nil {
		return g, err
	}
	if _, redeemed := old["referral_id"]; !redeemed {
		return decodeGuard(old) // a tombstone that counts this refund already
	}
	if g, old, err = update(false); err != nil || g != nil {
		return g, err
	}
	return decodeGuard(old) // counted already
}

// referralItem is the stored referral: the domain's fields plus keys and the sparse GSI key.
type referralItem struct {
	PK string `dynamodbav:"pk"`
	SK string `dynamodbav:"sk"`
	referral.Referral
	DueShard string `dynamodbav:"due_shard,omitempty"`
	// The referrer again, as the key of the sparse by_customer index erasure finds a referrer's
	// referrals by (the friend's is found through their FRIEND# guard). Written with the
	// referral and never changed but by erasure: status changes write no index entry.
	Owner string `dynamodbav:"customer_id,omitempty"`
}

// Get reads a referral (strongly consistent); nil when there is none.
func (st *Store) Get(ctx context.Context, id string) (*referral.Referral, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.t.Referrals), Key: refKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get referral %s: %w", id, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	var it referralItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("unmarshal referral %s: %w", id, err)
	}
	return &it.Referral, nil
}

// ErrRetry and ErrStale are the domain's.
var (
	ErrRetry = referral.ErrRetry
	ErrStale = referral.ErrStale
)

type role int

const (
	roleCode role = iota
	roleOrder
	roleFriend
	roleEmail
	roleCap
	roleReferral
	roleFingerprint
	roleOther
)

// Redeem writes an accepted redemption in one transaction: the code's use (re-checking status,
// expiry and limit), the order, friend and email guards, the referrer's monthly cap, the
// referral (pending, in the due index), the fingerprint checks against the referrer and the
// friend's hashed fingerprints (90-day TTL), and the first_orders funnel counter. It returns a
// *referral.Refusal naming the reason when a condition fails, ErrRetry on a race.
func (st *Store) Redeem(ctx context.Context, ref referral.Referral, code *referral.Code, fps map[referral.FingerprintKind]string, cap int, now time.Time) error {
	var items []types.TransactWriteItem
	var roles []role
	add := func(r role, it types.TransactWriteItem) { items = append(items, it); roles = append(roles, r) }

	add(roleCode, types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(st.t.Vouchers), Key: codeKey(ref.Code),
		UpdateExpression: aws.String("SET uses = if_not_exists(uses, :zero) + :one"),
		ConditionExpression: aws.String("attribute_exists(pk) AND (attribute_not_exists(#st) OR #st = :active) AND " +
			"(attribute_not_exists(expires_at) OR expires_at > :now) AND " +
			"(attribute_not_exists(use_limit) OR use_limit = :zero OR attribute_not_exists(uses) OR uses < use_limit)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":zero": n(0), ":one": n(1), ":active": s(referral.StatusActive), ":now": n(now.Unix()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}})
	guard := func(r role, k map[string]types.AttributeValue, extra map[string]types.AttributeValue) {
		item := map[string]types.AttributeValue{"referral_id": s(ref.ID), "created_at": s(now.UTC().Format(time.RFC3339))}
		for kk, v := range k {
			item[kk] = v
		}
		for kk, v := range extra {
			item[kk] = v
		}
		add(r, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(st.t.Referrals), Item: item,
			ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	// The order's guard is an update: it may be the tombstone of refunds below the total
	// (AddRefund), whose sum it keeps for the refunds to come.
	add(roleOrder, types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(st.t.Referrals), Key: orderKey(ref.OrderID),
		UpdateExpression: aws.String("SET referral_id = :id, request_hash = :h, created_at = :now REMOVE expires_at"),
		ConditionExpression: aws.String("attribute_not_exists(pk) OR (attribute_not_exists(referral_id) AND " +
			"attribute_not_exists(refund_full) AND refund_amount < :total)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": s(ref.ID), ":h": s(ref.RequestHash),
			":now": s(now.UTC().Format(time.RFC3339)), ":total": n(ref.OrderTotal)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}})
	guard(roleFriend, friendKey(ref.FriendCustomerID), nil)
	if ref.FriendEmailHash != "" {
		guard(roleEmail, emailKey(ref.FriendEmailHash), map[string]types.AttributeValue{"customer_id": s(ref.FriendCustomerID)})
	}
	// customer_id puts the cap in the sparse by_customer index (erasure finds it there), set when
	// the counter is created: later redemptions write no index entry.
	add(roleCap, types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(st.t.Referrals), Key: capKey(ref.ReferrerID, referral.Month(now)),
		UpdateExpression:          aws.String("ADD n :one SET customer_id = if_not_exists(customer_id, :referrer)"),
		ConditionExpression:       aws.String("attribute_not_exists(n) OR n < :cap"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":cap": n(int64(cap)), ":referrer": s(ref.ReferrerID)},
	}})
	item, err := attributevalue.MarshalMap(referralItem{
		PK: "REF#" + ref.ID, SK: "REF", Referral: ref,
		DueShard: strconv.Itoa(referral.Shard(ref.ID, DueShards)), Owner: ref.ReferrerID,
	})
	if err != nil {
		return fmt.Errorf("marshal referral %s: %w", ref.ID, err)
	}
	add(roleReferral, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(st.t.Referrals), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}})
	expires := n(now.Add(referral.FingerprintTTL).Unix())
	for kind, h := range fps {
		add(roleFingerprint, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(st.t.Referrals), Key: fpKey(h, ref.ReferrerID),
			ConditionExpression:       aws.String("attribute_not_exists(pk) OR expires_at < :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(now.Unix())},
		}})
		fp := fpKey(h, ref.FriendCustomerID)
		fp["kind"], fp["customer_id"], fp["expires_at"] = s(string(kind)), s(ref.FriendCustomerID), expires
		add(roleOther, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(st.t.Referrals), Item: fp}})
	}
	if ref.Program != "" {
		if fi, err := funnel.TransactItem(st.t.Stats, ref.Program, funnel.FirstOrders, 1); err == nil {
			add(roleOther, fi)
		}
	}

	_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	reasons, ok := cancellation(err)
	if !ok {
		return fmt.Errorf("redeem %s on order %s: %w", ref.Code, ref.OrderID, err)
	}
	failed := map[role]types.CancellationReason{}
	for i, r := range reasons {
		c := aws.ToString(r.Code)
		if c == "TransactionConflict" {
			return ErrRetry
		}
		if c == "ConditionalCheckFailed" && i < len(roles) {
			failed[roles[i]] = r
		}
	}
	if _, ok := failed[roleOrder]; ok {
		return ErrRetry // the order is taken: the caller tells a replay from already_redeemed
	}
	if r, ok := failed[roleCode]; ok {
		if c, derr := decodeCode(r.Item, ref.Code); derr == nil && c != nil {
			if err := referral.CheckCode(c, now); err != nil {
				return err
			}
		}
		return ErrRetry // read the code again to name the reason
	}
	if _, ok := failed[roleFingerprint]; ok {
		return referral.Refuse(referral.SelfReferral, "a payment, address or device fingerprint of this order is the referrer's")
	}
	if r, ok := failed[roleEmail]; ok {
		var g struct {
			CustomerID string `dynamodbav:"customer_id"`
		}
		_ = attributevalue.UnmarshalMap(r.Item, &g)
		if g.CustomerID == ref.ReferrerID {
			return referral.Refuse(referral.SelfReferral, "the friend's email is the referrer's")
		}
		return referral.Refuse(referral.NotFirstPurchase, "this email already made a referred first purchase")
	}
	if _, ok := failed[roleFriend]; ok {
		return referral.Refuse(referral.NotFirstPurchase, "the friend's first order was already referred")
	}
	if _, ok := failed[roleCap]; ok {
		return referral.Refuse(referral.ReferrerCapReached, "the referrer reached %d successful referrals this month", cap)
	}
	return fmt.Errorf("redeem %s on order %s: cancelled: %w", ref.Code, ref.OrderID, err)
}

func cancellation(err error) ([]types.CancellationReason, bool) {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		return tce.CancellationReasons, true
	}
	var tc *types.TransactionConflictException
	if errors.As(err, &tc) {
		return []types.CancellationReason{{Code: aws.String("TransactionConflict")}}, true
	}
	return nil, false
}

func staleOr(err error, what string) error {
	if err == nil {
		return nil
	}
	if _, ok := cancellation(err); ok {
		return ErrStale
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrStale
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Grant moves a pending referral to granted in one transaction: the referral (leaving the due
// index), the ledger entry (conditional: once) and BALANCE, the referrer's leaderboard count of
// the day and the rewards_granted funnel counter.
func (st *Store) Grant(ctx context.Context, ref *referral.Referral, now time.Time) error {
	day := referral.Day(now)
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: aws.String(st.t.Referrals), Key: refKey(ref.ID),
		UpdateExpression:          aws.String("SET #st = :granted, granted_at = :at, grant_day = :day REMOVE due_shard"),
		ConditionExpression:       aws.String("#st = :pending"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":granted": s(referral.Granted), ":pending": s(referral.Pending), ":at": s(now.UTC().Format(time.RFC3339Nano)), ":day": s(day)},
	}}}
	li, err := ledger.Items(st.t.Ledger, ledger.Entry{CustomerID: ref.ReferrerID, ReferralID: ref.ID, Kind: ledger.KindGrant,
		Points: ref.Reward.Points, Reward: ref.Reward, OrderID: ref.OrderID, At: now.UTC()})
	if err != nil {
		return err
	}
	items = append(items, li...)
	items = append(items, leaderboardAdd(st.t.Stats, day, ref.ReferrerID, 1))
	if ref.Program != "" {
		if fi, err := funnel.TransactItem(st.t.Stats, ref.Program, funnel.RewardsGranted, 1); err == nil {
			items = append(items, fi)
		}
	}
	_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return staleOr(err, "grant "+ref.ID)
}

// Void moves a pending referral to voided (out of the due index): it will never be granted.
func (st *Store) Void(ctx context.Context, ref *referral.Referral, now time.Time) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.t.Referrals), Key: refKey(ref.ID),
		UpdateExpression:          aws.String("SET #st = :voided, voided_at = :at REMOVE due_shard"),
		ConditionExpression:       aws.String("#st = :pending"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":voided": s(referral.Voided), ":pending": s(referral.Pending), ":at": s(now.UTC().Format(time.RFC3339Nano))},
	})
	return staleOr(err, "void "+ref.ID)
}

// Reverse moves a granted referral to reversed in one transaction: the referral, a reversing
// ledger entry (once) with BALANCE, and the leaderboard count of the grant's day.
func (st *Store) Reverse(ctx context.Context, ref *referral.Referral, now time.Time) error {
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName: aws.String(st.t.Referrals), Key: refKey(ref.ID),
		UpdateExpression:          aws.String("SET #st = :reversed, reversed_at = :at"),
		ConditionExpression:       aws.String("#st = :granted"),
		ExpressionAttributeNames:  map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":reversed": s(referral.Reversed), ":granted": s(referral.Granted), ":at": s(now.UTC().Format(time.RFC3339Nano))},
	}}}
	li, err := ledger.Items(st.t.Ledger, ledger.Entry{CustomerID: ref.ReferrerID, ReferralID: ref.ID, Kind: ledger.KindReverse,
		Points: -ref.Reward.Points, Reward: ref.Reward, OrderID: ref.OrderID, At: now.UTC()})
	if err != nil {
		return err
	}
	items = append(items, li...)
	if ref.GrantDay != "" {
		items = append(items, leaderboardAdd(st.t.Stats, ref.GrantDay, ref.ReferrerID, -1))
	}
	_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return staleOr(err, "reverse "+ref.ID)
}

// Due calls fn with the ids of pending referrals whose release_at <= now, querying every shard
// of the sparse `due` index (keys only): the cost is in proportion to the rewards due.
func (st *Store) Due(ctx context.Context, now time.Time, fn func(ids []string) error) error {
	var wg sync.WaitGroup
	errs := make([]error, DueShards)
	var mu sync.Mutex // fn is called one page at a time
	for shard := range DueShards {
		wg.Go(func() {
			var start map[string]types.AttributeValue
			for {
				out, err := st.db.Query(ctx, &dynamodb.QueryInput{
					TableName: aws.String(st.t.Referrals), IndexName: aws.String(DueIndex), ExclusiveStartKey: start,
					KeyConditionExpression:    aws.String("due_shard = :s AND release_at <= :now"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":s": s(strconv.Itoa(shard)), ":now": n(now.Unix())},
				})
				if err != nil {
					errs[shard] = fmt.Errorf("query due shard %d: %w", shard, err)
					return
				}
				ids := make([]string, 0, len(out.Items))
				for _, it := range out.Items {
					if pk, ok := it["pk"].(*types.AttributeValueMemberS); ok {
						ids = append(ids, strings.TrimPrefix(pk.Value, "REF#"))
					}
				}
				if len(ids) > 0 {
					mu.Lock()
					err = fn(ids)
					mu.Unlock()
					if err != nil {
						errs[shard] = err
						return
					}
				}
				if start = out.LastEvaluatedKey; len(start) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Leader is one row of the leaderboard.
type Leader struct {
	CustomerID          string `json:"customer_id"`
	SuccessfulReferrals int64  `json:"successful_referrals"`
}

// Leaderboard sums the last `days` days (today included) of every leaderboard shard and returns
// the top `limit` referrers by successful referrals (ties by customer id).
func (st *Store) Leaderboard(ctx context.Context, days, limit int, now time.Time) ([]Leader, error) {
	counts := map[string]int64{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	sem := make(chan struct{}, 32)
	for d := range days {
		day := referral.Day(now.AddDate(0, 0, -d))
		for shard := range LeaderboardShards {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				var start map[string]types.AttributeValue
				for {
					out, err := st.db.Query(ctx, &dynamodb.QueryInput{
						TableName: aws.String(st.t.Stats), ExclusiveStartKey: start,
						KeyConditionExpression:    aws.String("pk = :pk"),
						ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("LB#" + day + "#" + strconv.Itoa(shard))},
					})
					mu.Lock()
					if err != nil {
						errs = append(errs, fmt.Errorf("query leaderboard %s/%d: %w", day, shard, err))
						mu.Unlock()
						return
					}
					for _, it := range out.Items {
						sk, _ := it["sk"].(*types.AttributeValueMemberS)
						nv, _ := it["n"].(*types.AttributeValueMemberN)
						if sk != nil && nv != nil {
							v, _ := strconv.ParseInt(nv.Value, 10, 64)
							counts[sk.Value] += v
						}
					}
					mu.Unlock()
					if start = out.LastEvaluatedKey; len(start) == 0 {
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return Top(counts, limit), nil
}

// Top returns the limit referrers with the most successful referrals (> 0).
func Top(counts map[string]int64, limit int) []Leader {
	out := make([]Leader, 0, len(counts))
	for id, c := range counts {
		if c > 0 {
			out = append(out, Leader{CustomerID: id, SuccessfulReferrals: c})
		}
	}
	sortLeaders(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
