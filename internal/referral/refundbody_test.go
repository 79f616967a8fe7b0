package referral

import (
	"testing"

	"github.com/referral-engine/referral-engine/internal/apperr"
)

func TestDecodeRefund(t *testing.T) {
	for _, tt := range []struct {
		body, field string
		want        RefundRequest
	}{
		{"", "", RefundRequest{}},
		{"  ", "", RefundRequest{}},
		{"{}", "", RefundRequest{}},
		{`{"refund_id":"rf-1","amount":1200}`, "", RefundRequest{RefundID: "rf-1", Amount: 1200}},
		{`{"amount":1200}`, "refund_id", RefundRequest{}},
		{`{"refund_id":"rf-1"}`, "amount", RefundRequest{}},
		{`{"refund_id":"rf-1","amount":0}`, "amount", RefundRequest{}},
		{`{"refund_id":"rf-1","amount":-5}`, "amount", RefundRequest{}},
		{`{"refund_id":"rf-1","amount":12.5}`, "amount", RefundRequest{}},
		{`{"refund_id":"rf-1","amount":"12"}`, "amount", RefundRequest{}},
		{`{"refund_id":"","amount":12}`, "refund_id", RefundRequest{}},
		{`{"refund_id":"rf-1","amount":12,"reason":"x"}`, "reason", RefundRequest{}},
		{`{"refund_id":"rf-1","amount":12} {}`, "body", RefundRequest{}},
		{`[1]`, "body", RefundRequest{}},
	} {
		got, err := DecodeRefund([]byte(tt.body))
		if tt.field == "" {
			if err != nil || got != tt.want {
				t.Errorf("%s: %+v %v, want %+v", tt.body, got, err, tt.want)
			}
			continue
		}
		e, ok := apperr.As(err)
		if !ok || e.Status != 400 || e.Field != tt.field {
			t.Errorf("%s: %v, want a 400 on %s", tt.body, err, tt.field)
		}
	}
}
