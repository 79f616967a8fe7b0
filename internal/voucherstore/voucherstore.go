// Package voucherstore keeps vouchers, campaigns and click counters in the VouchersTable
// (docs/referrals.md): a code item per code, an owner item per customer and program pointing at
// the current code, issued together in one transaction so that a customer has at most one
// current voucher per program however many requests race.
package voucherstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/batchget"
	"github.com/referral-engine/referral-engine/internal/funnel"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// Client is the subset of the DynamoDB API the store uses.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, opts ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store is the VouchersTable.
type Store struct {
	db    Client
	table string
	stats string // StatsTable counting vouchers_issued in the issue transaction; "" for none
}

// Option configures a Store.
type Option func(*Store)

// WithFunnel counts every voucher issued in the funnel's vouchers_issued counter of statsTable,
// inside the issuing transaction: exactly once per voucher.
func WithFunnel(statsTable string) Option { return func(s *Store) { s.stats = statsTable } }

// New builds the store; it rejects a nil client or an empty table name at wiring time.
func New(db Client, table string, opts ...Option) (*Store, error) {
	if db == nil || table == "" {
		return nil, errors.New("voucherstore: client and table are required")
	}
	s := &Store{db: db, table: table}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Keys of the items.
func codeKey(c voucher.Code) string              { return "CODE#" + string(c) }
func ownerKey(customerID, program string) string { return "OWNER#" + customerID + "#" + program }
func campaignKey(id string) string               { return "CAMPAIGN#" + id }

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
}

type offerItem struct {
	Type        string `dynamodbav:"type"`
	Value       int64  `dynamodbav:"value,omitempty"`
	Currency    string `dynamodbav:"currency,omitempty"`
	Description string `dynamodbav:"description,omitempty"`
}

type codeItem struct {
	PK             string    `dynamodbav:"pk"`
	Code           string    `dynamodbav:"code"`
	CustomerID     string    `dynamodbav:"customer_id"`
	Program        string    `dynamodbav:"program"`
	Status         string    `dynamodbav:"status"`
	CreatedAt      string    `dynamodbav:"created_at"`
	ExpiresAt      int64     `dynamodbav:"expires_at"`
	UseLimit       int       `dynamodbav:"use_limit"`
	Uses           int       `dynamodbav:"uses"`
	FriendOffer    offerItem `dynamodbav:"friend_offer"`
	ReferrerReward offerItem `dynamodbav:"referrer_reward"`
	Reason         string    `dynamodbav:"reason"`
	CampaignID     string    `dynamodbav:"campaign_id,omitempty"`
	PublishedAt    string    `dynamodbav:"published_at,omitempty"`
	// The referrer's email hash, read by redemption's self-referral rule.
	ReferrerEmailHash string `dynamodbav:"referrer_email_hash,omitempty"`
}

type ownerItem struct {
	PK        string `dynamodbav:"pk"`
	Code      string `dynamodbav:"code"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
	// The key of the sparse by_customer index, by which erasure finds the item.
	CustomerID string `dynamodbav:"customer_id"`
}

func toItem(v voucher.Voucher) codeItem {
	it := codeItem{
		PK: codeKey(v.Code), Code: string(v.Code), CustomerID: v.CustomerID, Program: v.Program,
		Status: v.Status, CreatedAt: v.CreatedAt.UTC().Format(time.RFC3339), ExpiresAt: v.ExpiresAt.Unix(),
		UseLimit: v.UseLimit, Uses: v.Uses, FriendOffer: offerItem(v.FriendOffer),
		ReferrerReward: offerItem(v.ReferrerReward), Reason: v.Reason, CampaignID: v.CampaignID,
		ReferrerEmailHash: v.EmailHash,
	}
	if v.PublishedAt != nil {
		it.PublishedAt = v.PublishedAt.UTC().Format(time.RFC3339)
	}
	return it
}

func (it codeItem) voucher() voucher.Voucher {
	created, _ := time.Parse(time.RFC3339, it.CreatedAt)
	v := voucher.Voucher{
		Code: voucher.Code(it.Code), CustomerID: it.CustomerID, Program: it.Program, Status: it.Status,
		FriendOffer: voucher.Offer(it.FriendOffer), ReferrerReward: voucher.Offer(it.ReferrerReward),
		CreatedAt: created, ExpiresAt: time.Unix(it.ExpiresAt, 0).UTC(), UseLimit: it.UseLimit, Uses: it.Uses,
		Reason: it.Reason, CampaignID: it.CampaignID, EmailHash: it.ReferrerEmailHash,
	}
	if it.PublishedAt != "" {
		if t, err := time.Parse(time.RFC3339, it.PublishedAt); err == nil {
			v.PublishedAt = &t
		}
	}
	return v
}

// maxIssueAttempts bounds Issue's loop: races and code collisions are rare, so a handful of
// attempts is plenty; a persistent failure is reported.
const maxIssueAttempts = 10

// Issue returns the customer's current voucher in the request's program, or issues one with a
// new code: TransactWriteItems [owner if none current, code if new]. A lost race returns the
// winner's voucher; a code collision retries with a new code. created tells which.
func (s *Store) Issue(ctx context.Context, req voucher.Request, now time.Time) (v voucher.Voucher, created bool, err error) {
	if err := req.Validate(); err != nil {
		return voucher.Voucher{}, false, err
	}
	program := req.Terms.Program
	for attempt := 0; attempt < maxIssueAttempts; attempt++ {
		if attempt > 0 {
			// Jittered backoff: racing transactions on one owner item conflict until one wins.
			d := time.Duration(10*attempt*attempt+rand.IntN(20)) * time.Millisecond
			select {
			case <-ctx.Done():
				return voucher.Voucher{}, false, ctx.Err()
			case <-time.After(d):
			}
		}
		cur, err := s.Current(ctx, req.CustomerID, program, now)
		if err != nil {
			return voucher.Voucher{}, false, err
		}
		if cur != nil {
			return *cur, false, nil
		}
		nv, err := voucher.New(req, "", now)
		if err != nil {
			return voucher.Voucher{}, false, err
		}
		err = s.put(ctx, nv, now)
		if err == nil {
			return nv, true, nil
		}
		if !errors.Is(err, errRetry) {
			return voucher.Voucher{}, false, err
		}
	}
	return voucher.Voucher{}, false, fmt.Errorf("issue voucher for %s/%s: still conflicting after %d attempts", req.CustomerID, program, maxIssueAttempts)
}

// errRetry: the transaction was cancelled by a race, a code collision or a transaction conflict.
var errRetry = errors.New("retry")

func (s *Store) put(ctx context.Context, v voucher.Voucher, now time.Time) error {
	code, err := attributevalue.MarshalMap(toItem(v))
	if err != nil {
		return fmt.Errorf("marshal voucher %s: %w", v.Code, err)
	}
	owner, err := attributevalue.MarshalMap(ownerItem{PK: ownerKey(v.CustomerID, v.Program), Code: string(v.Code), ExpiresAt: v.ExpiresAt.Unix(), CustomerID: v.CustomerID})
	if err != nil {
		return fmt.Errorf("marshal owner of %s: %w", v.Code, err)
	}
	ownerCond, err := expression.NewBuilder().WithCondition(expression.Or(
		expression.AttributeNotExists(expression.Name("pk")),
		expression.Name("expires_at").LessThanEqual(expression.Value(now.Unix())),
	)).Build()
	if err != nil {
		return err
	}
	codeCond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(s.table), Item: owner, ConditionExpression: ownerCond.Condition(),
			ExpressionAttributeNames: ownerCond.Names(), ExpressionAttributeValues: ownerCond.Values()}},
		{Put: &types.Put{TableName: aws.String(s.table), Item: code, ConditionExpression: codeCond.Condition(),
			ExpressionAttributeNames: codeCond.Names()}},
	}
	if s.stats != "" {
		count, err := funnel.TransactItem(s.stats, v.Program, funnel.VouchersIssued, 1)
		if err != nil {
			return err
		}
		items = append(items, count)
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*types.TransactionCanceledException](err); ok {
		// Owner condition failed: another request won, read its voucher. Code condition
		// failed: a collision, try another code. Conflict: a racing transaction, try again.
		return errRetry
	}
	if _, ok := errors.AsType[*types.TransactionConflictException](err); ok {
		return errRetry
	}
	return fmt.Errorf("issue voucher %s for %s/%s: %w", v.Code, v.CustomerID, v.Program, err)
}

// Current returns the customer's current voucher in program (not expired), nil if none;
// strongly consistent, so that a request racing an issue sees the winner.
func (s *Store) Current(ctx context.Context, customerID, program string, now time.Time) (*voucher.Voucher, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(ownerKey(customerID, program)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get voucher owner %s/%s: %w", customerID, program, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	var o ownerItem
	if err := attributevalue.UnmarshalMap(out.Item, &o); err != nil {
		return nil, fmt.Errorf("unmarshal voucher owner %s/%s: %w", customerID, program, err)
	}
	if o.ExpiresAt <= now.Unix() {
		return nil, nil
	}
	v, err := s.get(ctx, voucher.Code(o.Code), true)
	if err != nil {
		return nil, err
	}
	if v == nil {
		// The transaction writes both items or neither; only a manual deletion gets here.
		return nil, fmt.Errorf("voucher owner %s/%s points at missing code %s", customerID, program, o.Code)
	}
	return v, nil
}

// Get returns the voucher with code, nil if there is none (eventually consistent: a click
// within a second of issuing may miss it, which only loses the ref).
func (s *Store) Get(ctx context.Context, code voucher.Code) (*voucher.Voucher, error) {
	return s.get(ctx, code, false)
}

func (s *Store) get(ctx context.Context, code voucher.Code, consistent bool) (*voucher.Voucher, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(codeKey(code)), ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		return nil, fmt.Errorf("get voucher %s: %w", code, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	var it codeItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("unmarshal voucher %s: %w", code, err)
	}
	v := it.voucher()
	return &v, nil
}

// List returns the vouchers the customer's owner items point at, one per program at most
// (expired ones included: the caller tells them apart), in the order of programs: a
// BatchGetItem of the owner items, then one of the codes.
func (s *Store) List(ctx context.Context, customerID string, programs []string) ([]voucher.Voucher, error) {
	pks := make([]string, len(programs))
	for i, p := range programs {
		pks[i] = ownerKey(customerID, p)
	}
	owners, err := s.batchGet(ctx, pks)
	if err != nil {
		return nil, fmt.Errorf("list vouchers of %s: %w", customerID, err)
	}
	var codes []string
	for _, pk := range pks {
		if it, ok := owners[pk]; ok {
			var o ownerItem
			if err := attributevalue.UnmarshalMap(it, &o); err != nil {
				return nil, fmt.Errorf("unmarshal owner %s: %w", pk, err)
			}
			codes = append(codes, codeKey(voucher.Code(o.Code)))
		}
	}
	if len(codes) == 0 {
		return nil, nil
	}
	items, err := s.batchGet(ctx, codes)
	if err != nil {
		return nil, fmt.Errorf("list vouchers of %s: %w", customerID, err)
	}
	out := make([]voucher.Voucher, 0, len(codes))
	for _, pk := range codes {
		if it, ok := items[pk]; ok {
			var c codeItem
			if err := attributevalue.UnmarshalMap(it, &c); err != nil {
				return nil, fmt.Errorf("unmarshal %s: %w", pk, err)
			}
			out = append(out, c.voucher())
		}
	}
	return out, nil
}

// batchGet reads up to 100 items by pk, retrying unprocessed keys.
func (s *Store) batchGet(ctx context.Context, pks []string) (map[string]map[string]types.AttributeValue, error) {
	if len(pks) > 100 {
		return nil, fmt.Errorf("batch get of %d keys: at most 100", len(pks))
	}
	out := map[string]map[string]types.AttributeValue{}
	keys := make([]map[string]types.AttributeValue, len(pks))
	for i, pk := range pks {
		keys[i] = key(pk)
	}
	err := batchget.Get(ctx, s.db, map[string]types.KeysAndAttributes{s.table: {Keys: keys}}, func(_ string, it map[string]types.AttributeValue) error {
		if pk, ok := it["pk"].(*types.AttributeValueMemberS); ok {
			out[pk.Value] = it
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("batch get: %w", err)
	}
	return out, nil
}

// MarkPublished records that voucher.issued was published for code.
func (s *Store) MarkPublished(ctx context.Context, code voucher.Code, at time.Time) error {
	err := s.setIfExists(ctx, codeKey(code), expression.Set(expression.Name("published_at"), expression.Value(at.UTC().Format(time.RFC3339))), nil)
	if err != nil {
		return fmt.Errorf("mark voucher %s published: %w", code, err)
	}
	return nil
}

// RememberEmail records the referrer's email hash on a voucher issued without one (by a
// campaign or a review), so that a friend using the referrer's own email is refused as a
// self-referral whichever way the voucher came. A hash already there is kept: it is the one the
// friend's redemptions were checked against.
func (s *Store) RememberEmail(ctx context.Context, code voucher.Code, emailHash string) error {
	onlyIfNone := expression.AttributeNotExists(expression.Name("referrer_email_hash"))
	err := s.setIfExists(ctx, codeKey(code), expression.Set(expression.Name("referrer_email_hash"), expression.Value(emailHash)), &onlyIfNone)
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("remember the email of voucher %s: %w", code, err)
	}
	return nil
}

// setIfExists applies update to the item with primary key pk if it exists (and extra holds):
// a missing item is a ConditionalCheckFailedException, never a new item.
func (s *Store) setIfExists(ctx context.Context, pk string, update expression.UpdateBuilder, extra *expression.ConditionBuilder) error {
	cond := expression.AttributeExists(expression.Name("pk"))
	if extra != nil {
		cond = cond.And(*extra)
	}
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(pk), UpdateExpression: expr.Update(),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	return err
}

func isConditionFailed(err error) bool {
	_, ok := errors.AsType[*types.ConditionalCheckFailedException](err)
	return ok
}
