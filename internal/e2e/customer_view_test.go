package e2e

import (
	"testing"
	"time"
)

// The review-tool link: a 5-star review from a customer without an active voucher issues one
// (reason five_star_review), and the customer view shows it with the referral stats and points.
func TestFiveStarReviewIssuesAVoucher(t *testing.T) {
	body := []byte(`{"interactions":[
	 {"event_id":"fs-1","customer_id":"cust-fivestar","type":"purchase","occurred_at":"2026-11-01T10:00:00Z","properties":{"order_id":"o-fs-1","total":8000,"currency":"EUR"}},
	 {"event_id":"fs-2","customer_id":"cust-fivestar","type":"review","occurred_at":"2026-11-02T10:00:00Z","properties":{"stars":5,"review_id":"rev-fs"}}]}`)
	if r := post(t, "/v1/interactions", body); r.Status != 202 {
		t.Fatalf("POST %d %s", r.Status, r.Body)
	}
	var view struct {
		Vouchers []struct {
			Code     string `json:"code"`
			Reason   string `json:"reason"`
			ShareURL string `json:"share_url"`
		} `json:"vouchers"`
		ReferralStats *struct {
			Shares, Clicks, Signups, Referrals int
		} `json:"referral_stats"`
		PointsBalance *int64 `json:"points_balance"`
		Rewards       []any  `json:"rewards"`
	}
	eventually(t, 60*time.Second, "a voucher for the 5-star reviewer", func() bool {
		r := get(t, "/v1/customers/cust-fivestar")
		if r.Status != 200 {
			return false
		}
		r.json(t, &view)
		return len(view.Vouchers) == 1
	})
	if v := view.Vouchers[0]; v.Reason != "five_star_review" || v.Code == "" || v.ShareURL != stack.APIURL+"/r/"+v.Code {
		t.Errorf("voucher %+v", view.Vouchers[0])
	}
	if view.ReferralStats == nil || view.PointsBalance == nil || *view.PointsBalance != 0 || view.Rewards == nil {
		t.Errorf("view lacks referral stats, points or rewards: %+v", view)
	}
	// A second 5-star review does not issue a second voucher.
	if r := post(t, "/v1/interactions", []byte(`{"event_id":"fs-3","customer_id":"cust-fivestar","type":"review","occurred_at":"2026-11-03T10:00:00Z","properties":{"stars":5,"review_id":"rev-fs-2"}}`)); r.Status != 202 {
		t.Fatalf("POST %d", r.Status)
	}
	queueIdle(t)
	time.Sleep(time.Second)
	r := get(t, "/v1/customers/cust-fivestar")
	r.json(t, &view)
	if len(view.Vouchers) != 1 {
		t.Errorf("%d vouchers after a second review", len(view.Vouchers))
	}
}

// A referrer who gave their email when asking for a voucher cannot redeem their own code under
// another customer id with an alias of that email.
func TestSelfReferralByEmailHash(t *testing.T) {
	if r := post(t, "/v1/interactions", []byte(`{"event_id":"sr-1","customer_id":"cust-selfref","type":"purchase","occurred_at":"2026-11-01T10:00:00Z","properties":{"order_id":"o-sr-1","total":5000,"currency":"EUR"}}`)); r.Status != 202 {
		t.Fatalf("POST %d", r.Status)
	}
	eventually(t, 30*time.Second, "cust-selfref applied", func() bool { return get(t, "/v1/customers/cust-selfref").Status == 200 })
	if r := post(t, "/v1/customers/cust-selfref/vouchers", []byte(`{"email":"not an email"}`)); r.Status != 400 {
		t.Errorf("bad email: %d %s", r.Status, r.Body)
	}
	r := post(t, "/v1/customers/cust-selfref/vouchers", []byte(`{"email":"Sam.Self@gmail.com"}`))
	var v struct {
		Code string `json:"code"`
	}
	r.json(t, &v)
	if r.Status != 201 || v.Code == "" {
		t.Fatalf("voucher: %d %s", r.Status, r.Body)
	}
	refuse(t, redemption{Code: v.Code, Order: "o-sr-friend", Friend: "cust-selfref-alias", Email: "samself+promo@googlemail.com"}, "self_referral")
	mustRedeem(t, redemption{Code: v.Code, Order: "o-sr-friend-2", Friend: "cust-selfref-friend", Email: "a.real.friend@example.com"})
}
