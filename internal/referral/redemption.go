// Package referral is the referral lifecycle's domain (SPEC §4.3–4.4), plain Go without AWS
// types: the redemption request and its validation, the fraud rules with their reason codes,
// deterministic ids and the reward terms. The stores (internal/referralstore, internal/ledger)
// enforce the same rules atomically in DynamoDB transactions.
package referral

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/charset"
)

// MaxBody is the largest redemption request body accepted.
const MaxBody = 16 << 10

// maxMoney bounds order totals (minor units), as interactions do.
const maxMoney = 1_000_000_000_000

var (
	idPattern       = charset.New("A-Za-z0-9._:@/+=|-", 1, 128)
	codePattern     = charset.New("A-Za-z0-9-", 3, 32)
	currencyPattern = charset.New("A-Z", 3, 3)
	// Fingerprints are hashes computed by the storefront (hex, base64 or base64url).
	fingerprintPattern = charset.New("A-Za-z0-9+/=_:-", 8, 256)
)

// Fingerprints are the storefront's hashes of the order's payment instrument, delivery address
// and device. They are never stored as given: see FingerprintHash.
type Fingerprints struct {
	Payment string `json:"payment,omitempty"`
	Address string `json:"address,omitempty"`
	Device  string `json:"device,omitempty"`
}

// Redemption is a validated redemption: the friend's email only as its SHA-256 hash.
type Redemption struct {
	Code             string // upper case
	OrderID          string
	FriendCustomerID string
	FriendEmailHash  string // hex SHA-256 of the normalised email; "" when unknown (queue path)
	OrderTotal       int64
	Currency         string
	Fingerprints     Fingerprints
}

// RequestHash identifies what was asked (code, order, friend): replaying the same accepted
// request answers the same referral; a different request for a used order is already_redeemed.
func (r Redemption) RequestHash() string {
	sum := sha256.Sum256([]byte(r.Code + "\x00" + r.OrderID + "\x00" + r.FriendCustomerID))
	return hex.EncodeToString(sum[:16])
}

type rawRequest struct {
	Code             *string          `json:"code"`
	OrderID          *string          `json:"order_id"`
	FriendCustomerID *string          `json:"friend_customer_id"`
	FriendEmail      *string          `json:"friend_email"`
	OrderTotal       *json.RawMessage `json:"order_total"`
	Currency         *string          `json:"currency"`
	Fingerprints     *json.RawMessage `json:"fingerprints"`
}

// DecodeRedemption parses and validates a POST /v1/referrals body. Every error is an
// *apperr.Error (400) naming the field at fault.
func DecodeRedemption(body []byte) (Redemption, error) {
	var raw rawRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Redemption{}, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Redemption{}, apperr.BadJSON("body", "body must hold exactly one JSON object")
	}
	var r Redemption
	var err error
	if r.Code, err = requiredCode("code", raw.Code); err != nil {
		return Redemption{}, err
	}
	if r.OrderID, err = requiredID("order_id", raw.OrderID); err != nil {
		return Redemption{}, err
	}
	if r.FriendCustomerID, err = requiredID("friend_customer_id", raw.FriendCustomerID); err != nil {
		return Redemption{}, err
	}
	if raw.FriendEmail == nil {
		return Redemption{}, apperr.Invalid("friend_email", "is required")
	}
	if r.FriendEmailHash, err = EmailHash(*raw.FriendEmail); err != nil {
		return Redemption{}, apperr.Invalid("friend_email", "%s", err.Error())
	}
	if raw.OrderTotal == nil || string(*raw.OrderTotal) == "null" {
		return Redemption{}, apperr.Invalid("order_total", "is required")
	}
	n, err := strconv.ParseInt(string(*raw.OrderTotal), 10, 64)
	if err != nil || n < 0 || n > maxMoney {
		return Redemption{}, apperr.Invalid("order_total", "must be a whole number of minor units from 0 to %d, got %s", int64(maxMoney), truncate(string(*raw.OrderTotal)))
	}
	r.OrderTotal = n
	if raw.Currency == nil {
		return Redemption{}, apperr.Invalid("currency", "is required")
	}
	if !currencyPattern.MatchString(*raw.Currency) {
		return Redemption{}, apperr.Invalid("currency", "must be an ISO 4217 code in upper case (e.g. EUR), got %q", truncate(*raw.Currency))
	}
	r.Currency = *raw.Currency
	if raw.Fingerprints != nil && string(*raw.Fingerprints) != "null" {
		if r.Fingerprints, err = decodeFingerprints(*raw.Fingerprints); err != nil {
			return Redemption{}, err
		}
	}
	return r, nil
}

func decodeFingerprints(b []byte) (Fingerprints, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Fingerprints{}, apperr.Invalid("fingerprints", "must be an object with payment, address and/or device")
	}
	var fp Fingerprints
	for name, v := range raw {
		var dst *string
		switch name {
		case "payment":
			dst = &fp.Payment
		case "address":
			dst = &fp.Address
		case "device":
			dst = &fp.Device
		default:
			return Fingerprints{}, apperr.Invalid("fingerprints."+truncate(name), "unknown field; fingerprints are payment, address and device")
		}
		var s *string
		if err := json.Unmarshal(v, &s); err != nil {
			return Fingerprints{}, apperr.Invalid("fingerprints."+name, "must be a string")
		}
		if s == nil {
			continue
		}
		if !fingerprintPattern.MatchString(*s) {
			return Fingerprints{}, apperr.Invalid("fingerprints."+name, "must be the storefront's hash of the value (8-256 characters of hex or base64), never the value itself")
		}
		*dst = *s
	}
	return fp, nil
}

func requiredID(field string, v *string) (string, error) {
	if v == nil {
		return "", apperr.Invalid(field, "is required")
	}
	if !idPattern.MatchString(*v) {
		return "", apperr.Invalid(field, "must be 1-128 characters of letters, digits and ._:@/+=|-, got %q", truncate(*v))
	}
	return *v, nil
}

func requiredCode(field string, v *string) (string, error) {
	if v == nil {
		return "", apperr.Invalid(field, "is required")
	}
	c, ok := NormalizeCode(*v)
	if !ok {
		return "", apperr.Invalid(field, "must be a referral code (3-32 letters, digits and -), got %q", truncate(*v))
	}
	return c, nil
}

// NormalizeCode upper-cases a code (codes are case-insensitive) and checks its shape.
func NormalizeCode(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !codePattern.MatchString(s) {
		return "", false
	}
	return strings.ToUpper(s), true
}

// EmailHash normalises an email and returns its hex SHA-256. Normalising (trimmed, lower case,
// a "+tag" dropped, and for Gmail the dots of the local part and googlemail.com) makes the aliases
// of one mailbox hash alike, so a friend cannot pass the email guard with anna+2@ or a.nna@.
func EmailHash(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" || len(e) > 254 || !utf8.ValidString(e) {
		return "", errors.New("must be an email address of at most 254 characters")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" || !strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".") {
		return "", errors.New("must be a plain email address such as friend@example.com")
	}
	sum := sha256.Sum256([]byte(NormalizeEmail(e)))
	return hex.EncodeToString(sum[:]), nil
}

// NormalizeEmail maps the aliases of a mailbox to one address (see EmailHash).
func NormalizeEmail(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return e
	}
	local, domain := e[:at], e[at+1:]
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}

// FingerprintKind names a fingerprint.
type FingerprintKind string

// Fingerprint kinds.
const (
	Payment FingerprintKind = "payment"
	Address FingerprintKind = "address"
	Device  FingerprintKind = "device"
)

// Hashed returns the fingerprints hashed again with the deployment's salt (HMAC-SHA256), by
// kind, omitting absent ones. Only these are stored, for FingerprintTTL.
func (f Fingerprints) Hashed(salt []byte) map[FingerprintKind]string {
	out := map[FingerprintKind]string{}
	for k, v := range map[FingerprintKind]string{Payment: f.Payment, Address: f.Address, Device: f.Device} {
		if v != "" {
			out[k] = FingerprintHash(salt, k, v)
		}
	}
	return out
}

// FingerprintHash is HMAC-SHA256(salt, kind ":" value), hex.
func FingerprintHash(salt []byte, kind FingerprintKind, value string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(string(kind) + ":" + value))
	return hex.EncodeToString(m.Sum(nil))
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return apperr.BadJSON("body", "body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return apperr.BadJSON("body", "body must be a JSON object")
		}
		return apperr.Invalid(field, "has the wrong type (%s)", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if name == "" {
			return apperr.Invalid("body", "unknown field with an empty name")
		}
		return apperr.Invalid(truncate(name), "unknown field")
	}
	return apperr.BadJSON("body", "body is not the JSON expected: %s", truncate(err.Error()))
}

func truncate(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return s
}
