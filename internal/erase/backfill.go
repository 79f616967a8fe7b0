package erase

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BackfillClient is what the backfill of the by-customer indexes needs. It scans: it is run by
// hand once after upgrading (scripts/erase-index), never by an erasure.
type BackfillClient interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Table kinds whose items the backfill gives the by_customer key.
const (
	KindVouchers  = "vouchers"
	KindReferrals = "referrals"
	KindStats     = "stats"
)

// IndexOwner says whose item (pk, sk; referrer: its referrer_id) of a table kind is in its
// by_customer index, for items written before the index: owner is the customer id read from
// the item; code, for a click counter, is the code whose customer_id is the owner; ok is false
// for items not indexed by customer (codes and email guards always had customer_id; campaigns,
// order and friend guards, funnel and segment counters are no one's).
func IndexOwner(kind, pk, sk, referrer string) (owner, code string, ok bool) {
	cutLast := func(s string) (string, bool) {
		i := strings.LastIndex(s, "#")
		if i <= 0 {
			return "", false
		}
		return s[:i], true
	}
	switch kind {
	case KindVouchers:
		if rest, found := strings.CutPrefix(pk, "OWNER#"); found { // OWNER#<id>#<program>
			owner, ok = cutLast(rest)
			return owner, "", ok
		}
		if rest, found := strings.CutPrefix(pk, "CLICK#"); found { // CLICK#<CODE>#<client hash>#<hour>
			code, _, found = strings.Cut(rest, "#")
			return "", code, found && code != ""
		}
	case KindReferrals:
		if strings.HasPrefix(pk, "REF#") { // a referral, under its referrer
			return referrer, "", referrer != ""
		}
		if rest, found := strings.CutPrefix(pk, "CAP#"); found { // CAP#<id>#<YYYY-MM>
			owner, ok = cutLast(rest)
			return owner, "", ok
		}
		if strings.HasPrefix(pk, "FP#") { // FP#<hmac> / C#<id>
			owner, ok = strings.CutPrefix(sk, "C#")
			return owner, "", ok && owner != ""
		}
	case KindStats:
		if strings.HasPrefix(pk, "LB#") && sk != "" { // LB#<day>#<shard> / <id>
			return sk, "", true
		}
	}
	return "", "", false
}

// BackfillCount says what a backfill found in one table.
type BackfillCount struct {
	Scanned    int            // items read
	Missing    map[string]int // items that lack the index key, by key prefix (OWNER#, CLICK#...)
	Set        int            // given it (none with dry run)
	Unresolved int            // click counters of a code that no longer exists: left to expire
}

// Backfill gives every item of table (of kind) that erasure must find and that lacks it the
// by_customer key customer_id, with one paginated Scan of the items without it. It is
// idempotent: each update is conditional on the item existing without customer_id, so a run
// again, or a store writing the item meanwhile, changes nothing. dryRun counts only.
func Backfill(ctx context.Context, db BackfillClient, kind, table, vouchersTable string, dryRun bool) (BackfillCount, error) {
	res := BackfillCount{Missing: map[string]int{}}
	filter, err := expression.NewBuilder().WithFilter(expression.AttributeNotExists(expression.Name(AttrCustomerID))).Build()
	if err != nil {
		return res, err
	}
	owners := map[string]string{} // code -> its customer_id, for click counters
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
		TableName: aws.String(table), FilterExpression: filter.Filter(),
		ExpressionAttributeNames: filter.Names(), ExpressionAttributeValues: filter.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return res, fmt.Errorf("scan %s: %w", table, err)
		}
		res.Scanned += int(page.ScannedCount)
		for _, it := range page.Items {
			pk, sk := str(it, "pk"), str(it, "sk")
			owner, code, ok := IndexOwner(kind, pk, sk, str(it, "referrer_id"))
			if !ok {
				continue
			}
			prefix, _, _ := strings.Cut(pk, "#")
			res.Missing[prefix+"#"]++
			if code != "" {
				o, known := owners[code]
				if !known {
					out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(vouchersTable), Key: key("pk", "CODE#"+code), ConsistentRead: aws.Bool(true)})
					if err != nil {
						return res, fmt.Errorf("read code %s: %w", code, err)
					}
					o = str(out.Item, AttrCustomerID)
					owners[code] = o
				}
				if owner = o; owner == "" {
					res.Unresolved++
					continue
				}
			}
			if dryRun {
				continue
			}
			k := key("pk", pk)
			if sk != "" {
				k["sk"] = s(sk)
			}
			set, err := setOwner(ctx, db, table, k, owner)
			if err != nil {
				return res, err
			}
			if set {
				res.Set++
			}
		}
	}
	return res, nil
}

// setOwner sets customer_id on an existing item without one; false if it has one by now or is
// gone (erased, expired).
func setOwner(ctx context.Context, db BackfillClient, table string, k map[string]types.AttributeValue, owner string) (bool, error) {
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name(AttrCustomerID), expression.Value(owner))).
		WithCondition(expression.AttributeExists(expression.Name("pk")).And(expression.AttributeNotExists(expression.Name(AttrCustomerID)))).
		Build()
	if err != nil {
		return false, err
	}
	_, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: k,
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("set the owner of %s in %s: %w", str(k, "pk"), table, err)
	}
	return true, nil
}
