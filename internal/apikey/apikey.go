// Package apikey stores API keys as SHA-256 hashes and checks the x-api-key header against them.
// Keys are random and long, so a fast unsalted hash is enough: the table never holds a usable key.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Scopes a key can hold.
const (
	ScopeIngest = "ingest" // storefronts and tools sending interactions and orders
	ScopeRead   = "read"   // marketing tools reading segments and stats
	ScopeAdmin  = "admin"  // everything, including key management and campaigns
)

// AllScopes is what the local development key holds.
var AllScopes = []string{ScopeIngest, ScopeRead, ScopeAdmin}

// Errors returned by Check; handlers map them to 401 and 403.
var (
	ErrMissing   = errors.New("missing API key")
	ErrInvalid   = errors.New("invalid API key")
	ErrForbidden = errors.New("API key lacks the scope for this route")
)

// Record is one stored key. Only the hash is kept.
type Record struct {
	KeyHash   string   `dynamodbav:"key_hash"`
	Name      string   `dynamodbav:"name"`
	Scopes    []string `dynamodbav:"scopes,stringset"`
	CreatedAt string   `dynamodbav:"created_at"`
	RevokedAt string   `dynamodbav:"revoked_at,omitempty"`
}

// Allows reports whether the key may use a route that needs scope.
func (r Record) Allows(scope string) bool {
	return r.RevokedAt == "" && (slices.Contains(r.Scopes, scope) || slices.Contains(r.Scopes, ScopeAdmin))
}

// Hash is the stored form of a key.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Generate makes a new random key: "rk_" and 32 base32 characters (160 bits).
func Generate() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "rk_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Getter is the one DynamoDB call Check needs.
type Getter interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Putter is the one DynamoDB call Put needs.
type Putter interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Put stores a key's record (creating or replacing it).
func Put(ctx context.Context, db Putter, table, key, name string, scopes []string) error {
	rec := Record{KeyHash: Hash(key), Name: name, Scopes: scopes, CreatedAt: time.Now().UTC().Format(time.RFC3339)}
	item, err := attributevalue.MarshalMap(rec)
	if err != nil {
		return fmt.Errorf("marshal api key %s: %w", name, err)
	}
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		return fmt.Errorf("put api key %s: %w", name, err)
	}
	return nil
}

// Checker verifies keys against the table, caching lookups for a short time so that a warm
// function does not pay a DynamoDB round trip per request. Revocation takes effect within TTL.
type Checker struct {
	db    Getter
	table string
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	rec     *Record // nil: no such key
	expires time.Time
}

// DefaultCacheTTL is how long a Checker trusts a lookup: a revoked key stops working within it.
const DefaultCacheTTL = time.Minute

// CacheTTLFromEnv reads API_KEY_CACHE_SECONDS (whole seconds, 0 disables the cache), else
// DefaultCacheTTL. A malformed value is an error, for the cold start to fail on.
func CacheTTLFromEnv() (time.Duration, error) {
	v := strings.TrimSpace(os.Getenv("API_KEY_CACHE_SECONDS"))
	if v == "" {
		return DefaultCacheTTL, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("configuration: API_KEY_CACHE_SECONDS=%q (want whole seconds >= 0)", v)
	}
	return time.Duration(n) * time.Second, nil
}

// NewChecker builds a Checker; it rejects a nil client or empty table at wiring time.
func NewChecker(db Getter, table string, ttl time.Duration) (*Checker, error) {
	if db == nil || table == "" {
		return nil, errors.New("apikey: client and table are required")
	}
	return &Checker{db: db, table: table, ttl: ttl, now: time.Now, cache: map[string]cached{}}, nil
}

// NewCheckerFromEnv builds a Checker whose cache lasts CacheTTLFromEnv.
func NewCheckerFromEnv(db Getter, table string) (*Checker, error) {
	ttl, err := CacheTTLFromEnv()
	if err != nil {
		return nil, err
	}
	return NewChecker(db, table, ttl)
}

// Check returns the key's record if it exists, is not revoked and holds scope.
func (c *Checker) Check(ctx context.Context, key, scope string) (*Record, error) {
	if key == "" {
		return nil, ErrMissing
	}
	h := Hash(key)
	rec, err := c.lookup(ctx, h)
	if err != nil {
		return nil, err
	}
	// The lookup is by hash; compare again in constant time so a cache or table oddity can
	// never let a different key through.
	if rec == nil || subtle.ConstantTimeCompare([]byte(rec.KeyHash), []byte(h)) != 1 || rec.RevokedAt != "" {
		return nil, ErrInvalid
	}
	if !rec.Allows(scope) {
		return nil, ErrForbidden
	}
	return rec, nil
}

func (c *Checker) lookup(ctx context.Context, h string) (*Record, error) {
	now := c.now()
	c.mu.Lock()
	if e, ok := c.cache[h]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.rec, nil
	}
	c.mu.Unlock()

	out, err := c.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(c.table),
		Key:       map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: h}},
	})
	if err != nil {
		return nil, fmt.Errorf("get api key: %w", err)
	}
	var rec *Record
	if len(out.Item) > 0 {
		rec = &Record{}
		if err := attributevalue.UnmarshalMap(out.Item, rec); err != nil {
			return nil, fmt.Errorf("unmarshal api key: %w", err)
		}
	}
	c.mu.Lock()
	if len(c.cache) > 1000 { // keys are few; a flood of random keys must not grow memory
		clear(c.cache)
	}
	c.cache[h] = cached{rec: rec, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return rec, nil
}

// Store is what key management needs of DynamoDB (scripts/apikey).
type Store interface {
	Putter
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// ErrNotFound is returned by Revoke for a key (or hash) the table does not hold.
var ErrNotFound = errors.New("no such API key")

// Create generates a key with scopes, stores only its hash and returns the key: the only time
// it is ever visible.
func Create(ctx context.Context, db Putter, table, name string, scopes []string) (string, error) {
	for _, s := range scopes {
		if !slices.Contains(AllScopes, s) {
			return "", fmt.Errorf("unknown scope %q (want %s)", s, strings.Join(AllScopes, ", "))
		}
	}
	if len(scopes) == 0 || name == "" {
		return "", errors.New("a key needs a name and at least one scope")
	}
	key := Generate()
	if err := Put(ctx, db, table, key, name, scopes); err != nil {
		return "", err
	}
	return key, nil
}

// HashOf returns the stored hash of a key, or the argument itself when it already is a hash
// (64 lower-case hex characters).
func HashOf(keyOrHash string) string {
	if len(keyOrHash) == sha256.Size*2 {
		if _, err := hex.DecodeString(keyOrHash); err == nil && strings.ToLower(keyOrHash) == keyOrHash {
			return keyOrHash
		}
	}
	return Hash(keyOrHash)
}

// Revoke marks a key revoked (kept for the audit trail; Check refuses it once the Checkers'
// caches expire, within their TTL). Revoking twice keeps the first revocation time.
func Revoke(ctx context.Context, db Store, table, keyOrHash string, now time.Time) (*Record, error) {
	out, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: HashOf(keyOrHash)}},
		UpdateExpression:          aws.String("SET revoked_at = if_not_exists(revoked_at, :now)"),
		ConditionExpression:       aws.String("attribute_exists(key_hash)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": &types.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339)}},
		ReturnValues:              types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("revoke api key: %w", err)
	}
	var rec Record
	if err := attributevalue.UnmarshalMap(out.Attributes, &rec); err != nil {
		return nil, fmt.Errorf("unmarshal api key: %w", err)
	}
	return &rec, nil
}

// List returns every stored key record, by creation time.
func List(ctx context.Context, db Store, table string) ([]Record, error) {
	var recs []Record
	var start map[string]types.AttributeValue
	for {
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: start})
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		for _, it := range out.Items {
			var r Record
			if err := attributevalue.UnmarshalMap(it, &r); err != nil {
				return nil, fmt.Errorf("unmarshal api key: %w", err)
			}
			recs = append(recs, r)
		}
		if start = out.LastEvaluatedKey; len(start) == 0 {
			break
		}
	}
	slices.SortFunc(recs, func(a, b Record) int { return strings.Compare(a.CreatedAt+a.KeyHash, b.CreatedAt+b.KeyHash) })
	return recs, nil
}
