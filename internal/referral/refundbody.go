package referral

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/referral-engine/referral-engine/internal/apperr"
)

// RefundRequest is the optional body of POST /v1/orders/{order_id}/refunds: none (or {}) is a
// full refund; {"refund_id", "amount"} is one partial refund, counted once per refund_id, the
// reward being cancelled once the order's refunds add up to its total.
type RefundRequest struct {
	RefundID string
	Amount   int64
}

// Full reports a request for a full refund.
func (r RefundRequest) Full() bool { return r.RefundID == "" }

// DecodeRefund validates the refunds route's body, naming the field at fault.
func DecodeRefund(body []byte) (RefundRequest, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return RefundRequest{}, nil
	}
	var raw struct {
		RefundID *string          `json:"refund_id"`
		Amount   *json.RawMessage `json:"amount"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return RefundRequest{}, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return RefundRequest{}, apperr.BadJSON("body", "body must hold exactly one JSON object")
	}
	if raw.RefundID == nil && raw.Amount == nil {
		return RefundRequest{}, nil
	}
	id, err := requiredID("refund_id", raw.RefundID)
	if err != nil {
		return RefundRequest{}, err
	}
	if raw.Amount == nil || string(*raw.Amount) == "null" {
		return RefundRequest{}, apperr.Invalid("amount", "is required with refund_id (minor units refunded)")
	}
	n, err := strconv.ParseInt(string(*raw.Amount), 10, 64)
	if err != nil || n <= 0 || n > maxMoney {
		return RefundRequest{}, apperr.Invalid("amount", "must be a whole number of minor units from 1 to %d, got %s", int64(maxMoney), truncate(string(*raw.Amount)))
	}
	return RefundRequest{RefundID: id, Amount: n}, nil
}
