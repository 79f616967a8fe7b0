package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// ---- helpers of the voucher tests

type voucherView struct {
	Code           string         `json:"code"`
	CustomerID     string         `json:"customer_id"`
	Program        string         `json:"program"`
	Status         string         `json:"status"`
	ShareURL       string         `json:"share_url"`
	FriendOffer    map[string]any `json:"friend_offer"`
	ReferrerReward map[string]any `json:"referrer_reward"`
	ExpiresAt      time.Time      `json:"expires_at"`
	UseLimit       int            `json:"use_limit"`
	Uses           int            `json:"uses"`
	Reason         string         `json:"reason"`
	CampaignID     string         `json:"campaign_id"`
}

// newCustomer records one interaction for id and waits for its aggregates.
func newCustomer(t *testing.T, id string) {
	t.Helper()
	body := fmt.Sprintf(`{"event_id":"%s-visit","customer_id":"%s","type":"visit","occurred_at":"2026-11-01T10:00:00Z","properties":{"duration_seconds":60}}`, id, id)
	if r := post(t, "/v1/interactions", []byte(body)); r.Status != 202 {
		t.Fatalf("POST interaction for %s: %d %s", id, r.Status, r.Body)
	}
	eventually(t, 30*time.Second, id+"'s aggregates", func() bool {
		status, _ := customer(t, id)
		return status == 200
	})
}

func askVoucher(t *testing.T, id, body string) (int, voucherView) {
	t.Helper()
	r := post(t, "/v1/customers/"+id+"/vouchers", []byte(body))
	var v voucherView
	if r.Status == 200 || r.Status == 201 {
		r.json(t, &v)
	}
	return r.Status, v
}

// place puts a customer in a segment through rescore's own write (dynamostore.Customers.Put:
// the versioned write that moves the segment counters with it), for campaigns to find.
func place(t *testing.T, id, segment, program string, subs ...string) {
	t.Helper()
	ctx := context.Background()
	cs, err := dynamostore.NewCustomers(stack.DynamoDB, stack.Resources["CustomersTable"])
	if err == nil {
		cs, err = cs.WithCounters(stack.Resources["StatsTable"])
	}
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		c, rev, err := cs.Get(ctx, id)
		if err != nil || !rev.Exists {
			t.Fatalf("place %s: %v (exists %v)", id, err, rev.Exists)
		}
		c.Segment, c.Program, c.SubSegments = segment, program, subs
		err = cs.Put(ctx, c, rev, rev, time.Now())
		if errors.Is(err, apperr.ErrConcurrentUpdate) && attempt < 5 {
			continue // rescore wrote it meanwhile
		}
		if err != nil {
			t.Fatalf("place %s: %v", id, err)
		}
		return
	}
}

// vouchersOf reads a customer's code items straight from the VouchersTable (every program).
func vouchersOf(t *testing.T, id string) []voucherView {
	t.Helper()
	var out []voucherView
	for _, it := range scanAll(t, "VouchersTable") {
		if it["customer_id"] == id && strings.HasPrefix(fmt.Sprint(it["pk"]), "CODE#") {
			delete(it, "expires_at") // unix seconds here, RFC 3339 in the API
			b, _ := json.Marshal(it)
			var v voucherView
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("code item %s: %v", b, err)
			}
			out = append(out, v)
		}
	}
	return out
}

// issuedEvents drains the OutboundQueue of its voucher.issued events of the given codes and
// counts them by code; every other message is put back.
func issuedEvents(t *testing.T, codes ...string) map[string]int {
	t.Helper()
	queueEmpty(t, "VoucherQueue")
	want := map[string]bool{}
	for _, c := range codes {
		want["voucher.issued:"+c] = true
	}
	got := map[string]int{}
	for _, ev := range takeOutbound(t, func(id string) bool { return want[id] }, 0) {
		data, _ := ev["data"].(map[string]any)
		if ev["type"] != "voucher.issued" || data["code"] == nil || data["share_url"] == nil {
			t.Errorf("event %v", ev)
		}
		got[strings.TrimPrefix(ev["id"].(string), "voucher.issued:")]++
	}
	return got
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// follow requests a referral link as a browser would, without following the redirect.
func follow(t *testing.T, path, userAgent string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, stack.APIURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if userAgent != "" {
		req.Header.Set("user-agent", userAgent)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("location"), resp.Header
}

// ---- tests

// Asking twice returns the same code (201, then 200), published once; errors name the field.
func TestVoucherAskTwice(t *testing.T) {
	newCustomer(t, "v-vera")
	status, v := askVoucher(t, "v-vera", `{"first_name":"Véra"}`)
	if status != 201 {
		t.Fatalf("first ask: %d", status)
	}
	if _, err := voucher.Parse(v.Code); err != nil || !strings.HasPrefix(v.Code, "VRA-") {
		t.Errorf("code %q: %v", v.Code, err)
	}
	// Not segmented yet: the accelerator program, its terms from the scoring config.
	if v.Program != "accelerator" || v.CustomerID != "v-vera" || v.Status != "active" || v.Reason != "request" ||
		v.UseLimit != 5 || v.Uses != 0 || v.FriendOffer["type"] != "percent_off" || v.FriendOffer["value"] != 10.0 ||
		v.ReferrerReward["type"] == nil || v.ShareURL != stack.APIURL+"/r/"+v.Code {
		t.Errorf("voucher %+v", v)
	}
	if d := time.Until(v.ExpiresAt); d < 59*24*time.Hour || d > 60*24*time.Hour {
		t.Errorf("expires in %s, want 60 days", d)
	}
	status, again := askVoucher(t, "v-vera", ``)
	if status != 200 || again.Code != v.Code || again.ShareURL != v.ShareURL {
		t.Errorf("second ask: %d %+v", status, again)
	}
	// Another program asked for explicitly is another voucher.
	status, amb := askVoucher(t, "v-vera", `{"program":"ambassador"}`)
	if status != 201 || amb.Code == v.Code || amb.Program != "ambassador" || amb.UseLimit != 10 || strings.Contains(amb.Code, "-") {
		t.Errorf("ambassador voucher: %d %+v", status, amb)
	}
	if got := issuedEvents(t, v.Code, amb.Code); got[v.Code] != 1 || got[amb.Code] != 1 {
		t.Errorf("voucher.issued events %v, want one per voucher", got)
	}

	for _, tc := range []struct {
		id, body, field string
		status          int
	}{
		{"v-nobody-at-all", ``, "", 404},
		{"v-vera", `{"program":"gold"}`, "program", 400},
		{"v-vera", `{"colour":"red"}`, "colour", 400},
		{"v-vera", `{"program":7}`, "program", 400},
		{"v-vera", `[`, "body", 400},
	} {
		r := post(t, "/v1/customers/"+tc.id+"/vouchers", []byte(tc.body))
		var e errorBody
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != tc.status || e.Error.Field != tc.field {
			t.Errorf("%s %s: %d %s", tc.id, tc.body, r.Status, r.Body)
		}
	}
	if r := call(t, "POST", "/v1/customers/v-vera/vouchers", nil, ""); r.Status != 401 {
		t.Errorf("without a key: %d", r.Status)
	}
	if got := vouchersOf(t, "v-nobody-at-all"); len(got) != 0 {
		t.Errorf("a refused request stored %v", got)
	}
}

// GET /r/{code}: 302 to the storefront with ref for a usable code, without it otherwise; the
// click counts for the referrer, at most ClickLimitPerHour (5) times per client and hour.
func TestClickRedirect(t *testing.T) {
	hour := time.Now().UTC().Truncate(time.Hour) // the limit is per clock hour
	newCustomer(t, "v-clara")
	status, v := askVoucher(t, "v-clara", ``)
	if status != 201 {
		t.Fatalf("ask: %d", status)
	}
	code, loc, h := follow(t, "/r/"+v.Code, "Mozilla/5.0")
	if code != 302 || loc != "https://shop.example.com?ref="+v.Code || h.Get("cache-control") != "no-store" {
		t.Errorf("GET /r/%s: %d %q %v", v.Code, code, loc, h)
	}
	// Case-insensitive; the click's campaign tags are passed on, its ref is not.
	code, loc, _ = follow(t, "/r/"+strings.ToLower(v.Code)+"?utm_source=whatsapp&ref=EVIL", "Mozilla/5.0")
	if code != 302 || loc != "https://shop.example.com?ref="+v.Code+"&utm_source=whatsapp" {
		t.Errorf("lower case: %d %q", code, loc)
	}
	unknown, _ := voucher.NewCode("")
	typo := v.Code[:len(v.Code)-1] + "Z" // another check symbol: malformed
	if strings.HasSuffix(v.Code, "Z") {
		typo = v.Code[:len(v.Code)-1] + "Y"
	}
	for _, path := range []string{"/r/" + string(unknown), "/r/not-a-code", "/r/%00%01", "/r/" + typo} {
		code, loc, h := follow(t, path, "")
		if code != 302 || loc != "https://shop.example.com" || h.Get("cache-control") != "no-store" {
			t.Errorf("GET %s: %d %q", path, code, loc)
		}
	}
	// A link preview is redirected, not counted.
	if code, loc, _ := follow(t, "/r/"+v.Code, "WhatsApp/2.23"); code != 302 || !strings.Contains(loc, "ref=") {
		t.Errorf("robot: %d %q", code, loc)
	}
	eventually(t, 30*time.Second, "2 link clicks on v-clara", func() bool {
		_, m := customer(t, "v-clara")
		return m["link_clicks"] == 2.0
	})
	// 6 more clicks from the same client this hour: 3 more count (5 in all), the rest redirect.
	for range 6 {
		if code, loc, _ := follow(t, "/r/"+v.Code, "Mozilla/5.0"); code != 302 || !strings.HasSuffix(loc, "ref="+v.Code) {
			t.Errorf("click over the limit: %d %q", code, loc)
		}
	}
	sameHour := time.Now().UTC().Truncate(time.Hour).Equal(hour)
	eventually(t, 30*time.Second, "5 link clicks on v-clara", func() bool {
		_, m := customer(t, "v-clara")
		n, _ := m["link_clicks"].(float64)
		return n >= 5
	})
	queueIdle(t)
	if _, m := customer(t, "v-clara"); m["link_clicks"] != 5.0 && sameHour {
		t.Errorf("link clicks %v, want 5 (the limit)", m["link_clicks"])
	}
	// The click record keeps a hashed client, never the IP, and expires.
	for _, it := range scanAll(t, "VouchersTable") {
		pk := fmt.Sprint(it["pk"])
		if strings.HasPrefix(pk, "CLICK#"+v.Code+"#") {
			if strings.Contains(pk, "127.0.0.1") || it["purge_at"] == nil {
				t.Errorf("click record %v", it)
			}
		}
	}
}

// A campaign issues one voucher to each member of the segment (sub-segment), publishes each once;
// launching it again issues nothing; a customer who had a voucher keeps it.
func TestCampaign(t *testing.T) {
	ids := []string{"v-camp-1", "v-camp-2", "v-camp-3", "v-camp-had", "v-camp-other-sub"}
	for _, id := range ids {
		newCustomer(t, id)
	}
	queueIdle(t)
	for _, id := range ids[:4] {
		place(t, id, "ambassador", "ambassador", "social_follower")
	}
	place(t, "v-camp-other-sub", "ambassador", "ambassador", "best_buyer")
	status, had := askVoucher(t, "v-camp-had", ``)
	if status != 201 || had.Program != "ambassador" {
		t.Fatalf("ask before the campaign: %d %+v", status, had)
	}
	runID := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
	body := fmt.Sprintf(`{"segment":"ambassador","sub_segment":"social_follower","campaign_id":%q}`, runID)
	r := post(t, "/v1/campaigns", []byte(body))
	var c struct {
		CampaignID string `json:"campaign_id"`
		Count      int    `json:"count"`
		Program    string `json:"program"`
		Status     string `json:"status"`
		Relaunched bool   `json:"relaunched"`
	}
	r.json(t, &c)
	if r.Status != 202 || !strings.HasPrefix(c.CampaignID, "cmp_") || c.Count < 4 || c.Program != "ambassador" || c.Relaunched {
		t.Fatalf("POST /v1/campaigns: %d %s", r.Status, r.Body)
	}
	codes := map[string]string{}
	eventually(t, 60*time.Second, "a voucher for each member", func() bool {
		for _, id := range ids[:3] {
			if vs := vouchersOf(t, id); len(vs) == 1 {
				codes[id] = vs[0].Code
			}
		}
		return len(codes) == 3
	})
	queueEmpty(t, "VoucherQueue")
	for _, id := range ids[:3] {
		vs := vouchersOf(t, id)
		if len(vs) != 1 || vs[0].Reason != "campaign" || vs[0].CampaignID != c.CampaignID || vs[0].Program != "ambassador" {
			t.Errorf("%s: %+v", id, vs)
		}
	}
	if vs := vouchersOf(t, "v-camp-had"); len(vs) != 1 || vs[0].Code != had.Code || vs[0].Reason != "request" {
		t.Errorf("v-camp-had: %+v", vs)
	}
	if vs := vouchersOf(t, "v-camp-other-sub"); len(vs) != 0 {
		t.Errorf("a customer outside the sub-segment got %+v", vs)
	}

	// Relaunch: the same campaign id, nothing issued.
	r = post(t, "/v1/campaigns", []byte(body))
	var again struct {
		CampaignID string `json:"campaign_id"`
		Count      int    `json:"count"`
		Relaunched bool   `json:"relaunched"`
	}
	r.json(t, &again)
	if r.Status != 202 || again.CampaignID != c.CampaignID || again.Count != c.Count || !again.Relaunched {
		t.Errorf("relaunch: %d %s", r.Status, r.Body)
	}
	// Another campaign to the same members: their vouchers are per customer and program.
	r = post(t, "/v1/campaigns", []byte(`{"segment":"ambassador","sub_segment":"social_follower","campaign_id":"`+runID+`-b"}`))
	if r.Status != 202 {
		t.Errorf("second campaign: %d %s", r.Status, r.Body)
	}
	queueEmpty(t, "VoucherQueue")
	for _, id := range ids[:3] {
		if vs := vouchersOf(t, id); len(vs) != 1 || vs[0].Code != codes[id] {
			t.Errorf("%s after relaunches: %+v", id, vs)
		}
	}
	all := []string{had.Code}
	for _, code := range codes {
		all = append(all, code)
	}
	got := issuedEvents(t, all...)
	for _, code := range all {
		if got[code] != 1 {
			t.Errorf("voucher.issued for %s: %d events, want 1 (%v)", code, got[code], got)
		}
	}

	for _, bad := range []struct{ body, field string }{
		{`{"segment":"vip"}`, "segment"},
		{`{}`, "segment"},
		{`{"segment":"ambassador","sub_segment":"nope"}`, "sub_segment"},
		{`{"segment":"ambassador","program":"gold"}`, "program"},
		{`{"segment":"ambassador","campaign_id":"a b"}`, "campaign_id"},
	} {
		r := post(t, "/v1/campaigns", []byte(bad.body))
		var e errorBody
		_ = json.Unmarshal(r.Body, &e)
		if r.Status != 400 || e.Error.Field != bad.field {
			t.Errorf("%s: %d %s", bad.body, r.Status, r.Body)
		}
	}
}

// A message that can never be processed ends in the VoucherDLQ after its retries, while the
// good messages of its batch succeed: here a five-star-review request, published once.
func TestVoucherPoisonMessage(t *testing.T) {
	newCustomer(t, "v-reviewer")
	poison := `{"reason":"campaign","campaign_id":"cmp_x","program":"ambassador","customer_ids":"not a list"}`
	sendBatch(t, "VoucherQueue", poison,
		`{"reason":"five_star_review","customer_id":"v-reviewer","review_id":"rev-1"}`,
		`{"reason":"no_such_reason"}`)
	var vs []voucherView
	eventually(t, 30*time.Second, "v-reviewer's voucher", func() bool {
		vs = vouchersOf(t, "v-reviewer")
		return len(vs) == 1
	})
	if vs[0].Reason != "five_star_review" || vs[0].CampaignID != "review:rev-1" || vs[0].Program != "accelerator" {
		t.Errorf("voucher %+v", vs[0])
	}
	dead := drainDLQ(t, "VoucherDLQ", 2)
	if len(dead) != 2 || !(dead[0] == poison || dead[1] == poison) {
		t.Errorf("VoucherDLQ holds %v", dead)
	}
	// The same request again (a redelivery, or rescore asking twice) issues nothing new.
	sendBatch(t, "VoucherQueue", `{"reason":"five_star_review","customer_id":"v-reviewer","review_id":"rev-1"}`)
	if got := issuedEvents(t, vs[0].Code); got[vs[0].Code] != 1 {
		t.Errorf("voucher.issued for %s: %v, want 1", vs[0].Code, got)
	}
	if again := vouchersOf(t, "v-reviewer"); len(again) != 1 || again[0].Code != vs[0].Code {
		t.Errorf("after the repeat: %+v", again)
	}
}

// An issuer that died between creating a voucher and publishing voucher.issued (here: the mark
// removed and the voucher aged by hand) is covered by its publish check: the campaign worker
// publishes the event once, and a second check publishes nothing.
func TestPublishCheckPublishesAnOrphanVoucher(t *testing.T) {
	newCustomer(t, "pc-anna")
	status, v := askVoucher(t, "pc-anna", `{"first_name":"Anna"}`)
	if status != 201 {
		t.Fatalf("issue: %d %+v", status, v)
	}
	if got := issuedEvents(t, v.Code); got[v.Code] != 1 {
		t.Fatalf("the request's own event: %v", got)
	}
	_, err := stack.DynamoDB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(stack.Resources["VouchersTable"]),
		Key:              map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "CODE#" + v.Code}},
		UpdateExpression: aws.String("REMOVE published_at SET created_at = :old"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":old": &ddbtypes.AttributeValueMemberS{Value: time.Now().Add(-5 * time.Minute).UTC().Format(time.RFC3339)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	check := `{"reason":"publish_check","customer_id":"pc-anna","program":"` + v.Program + `"}`
	sendBatch(t, "VoucherQueue", check)
	if got := issuedEvents(t, v.Code); got[v.Code] != 1 {
		t.Fatalf("after the publish check: %v", got)
	}
	sendBatch(t, "VoucherQueue", check)
	if got := issuedEvents(t, v.Code); len(got) != 0 {
		t.Errorf("a second check published again: %v", got)
	}
}
