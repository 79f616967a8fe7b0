package referral

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/referral-engine/referral-engine/internal/apperr"
)

// Reason codes of a refused redemption (SPEC §4.3), the `code` of the 422 body.
const (
	UnknownCode        = "unknown_code"
	CodeExpired        = "code_expired"
	CodeLimitReached   = "code_limit_reached"
	SelfReferral       = "self_referral"
	NotFirstPurchase   = "not_first_purchase"
	AlreadyRedeemed    = "already_redeemed"
	ReferrerCapReached = "referrer_cap_reached"
	// OrderRefunded extends SPEC §4.3: the order was refunded in full before it was redeemed
	// (a refund interaction can be processed before the purchase that carries the code).
	OrderRefunded = "order_refunded"
)

// Reasons lists every refusal reason.
var Reasons = []string{UnknownCode, CodeExpired, CodeLimitReached, SelfReferral, NotFirstPurchase, AlreadyRedeemed, ReferrerCapReached, OrderRefunded}

// Refusal is a refused redemption: nothing is stored.
type Refusal struct {
	Reason  string
	Message string
}

func (r *Refusal) Error() string { return r.Reason + ": " + r.Message }

// Refuse builds a refusal.
func Refuse(reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// AsRefusal returns the refusal in err's chain.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// HTTP turns a refusal into the 422 of SPEC §5; other errors pass through.
func HTTP(err error) error {
	if r, ok := AsRefusal(err); ok {
		return apperr.Refused(r.Reason, "%s", r.Message)
	}
	return err
}

// Code is what redemption needs of a voucher code item (VouchersTable CODE#<CODE>).
type Code struct {
	Code           string
	CustomerID     string // the referrer
	Program        string
	Status         string // active, revoked
	ExpiresAt      time.Time
	UseLimit       int // 0: no limit
	Uses           int
	ReferrerReward map[string]any
	FriendOffer    map[string]any
	// ReferrerEmailHash is the referrer's known email hash, if the code item carries one.
	ReferrerEmailHash string
}

// StatusActive is the status of a usable code.
const StatusActive = "active"

// CheckCode applies the code rules to a code read before the transaction (nil: no such code).
// The transaction re-checks status, expiry and uses atomically.
func CheckCode(c *Code, now time.Time) error {
	switch {
	case c == nil:
		return Refuse(UnknownCode, "no referral code matches")
	case c.Status != "" && c.Status != StatusActive:
		return Refuse(CodeExpired, "the referral code %s is no longer active", c.Code)
	case !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt):
		return Refuse(CodeExpired, "the referral code %s expired at %s", c.Code, c.ExpiresAt.UTC().Format(time.RFC3339))
	case c.UseLimit > 0 && c.Uses >= c.UseLimit:
		return Refuse(CodeLimitReached, "the referral code %s has been used %d of %d times", c.Code, c.Uses, c.UseLimit)
	}
	return nil
}

// Friend is what is known of the friend before the order.
type Friend struct {
	// Orders is the number of the friend's orders known, and ThisOrderCounted whether this
	// order is among them (the purchase interaction may have been applied already).
	Orders           int
	ThisOrderCounted bool
}

// CheckParties applies the rules on who refers whom, before the transaction: self-referral by
// customer id or known email hash, and the friend's first purchase. Fingerprints, the friend and
// email guards and the monthly cap are checked inside the transaction.
func CheckParties(r Redemption, c *Code, f Friend) error {
	if r.FriendCustomerID == c.CustomerID {
		return Refuse(SelfReferral, "the friend is the referrer")
	}
	if c.ReferrerEmailHash != "" && r.FriendEmailHash == c.ReferrerEmailHash {
		return Refuse(SelfReferral, "the friend's email is the referrer's")
	}
	before := f.Orders
	if f.ThisOrderCounted {
		before--
	}
	if before > 0 {
		return Refuse(NotFirstPurchase, "the friend already has %d order(s)", before)
	}
	return nil
}

// ReferralID is deterministic: one referral per order.
func ReferralID(orderID string) string {
	sum := sha256.Sum256([]byte("order\x00" + orderID))
	return "ref_" + hex.EncodeToString(sum[:12])
}

// Shard spreads a key over n shards, deterministically.
func Shard(key string, n int) int {
	sum := sha256.Sum256([]byte(key))
	return int(binary.BigEndian.Uint32(sum[:4]) % uint32(n))
}

// Month is the cap period of t: the calendar month in UTC, "2026-11".
func Month(t time.Time) string { return t.UTC().Format("2006-01") }

// Day is the leaderboard period of t, "2026-11-23".
func Day(t time.Time) string { return t.UTC().Format("2006-01-02") }
