package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/referral"
)

// The template's default salts, which the e2e stack keeps.
const (
	defaultClickSalt       = "local-only-click-salt-change-me"
	defaultFingerprintSalt = "local-only-fingerprint-salt-change-me"
)

// clickFrom follows a referral link from another loopback address, so the click's hashed client
// is this test's alone.
func clickFrom(t *testing.T, ip, path string) int {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(stack.APIURL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// tableItems is every item of every table of the stack, as JSON, by table.
func tableItems(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for id := range stack.Resources {
		if !strings.HasSuffix(id, "Table") {
			continue
		}
		for _, it := range scanAll(t, id) {
			b, _ := json.Marshal(it)
			out[id] = append(out[id], string(b))
		}
	}
	return out
}

// A customer with interactions (profile data with a birthday), a voucher asked with an email, a
// click on their link, a redemption as a friend (email, fingerprints), a redemption as a
// referrer (the friend's email and fingerprints) and a granted reward is erased: no item of any
// table holds their id, email (clear or hashed), the click's IP hash or their fingerprint
// hashes; the ledger balances under the pseudonym.
func TestEraseCustomer(t *testing.T) {
	n := time.Now().UnixNano()
	erin := fmt.Sprintf("gdpr-erin-%d", n)
	email := fmt.Sprintf("Erin.Example+shop%d@Example.com", n)
	ref, friend := fmt.Sprintf("gdpr-ref-%d", n), fmt.Sprintf("gdpr-friend-%d", n)
	fpErin := fmt.Sprintf("erin-device-%d", n)
	fpFriend := fmt.Sprintf("friend-device-%d", n)
	const ip = "127.0.0.77"

	// Another referrer's code, which Erin redeems as a friend.
	newCustomer(t, ref)
	if st, v := askVoucher(t, ref, `{}`); st != 201 {
		t.Fatalf("referrer's voucher: %d", st)
	} else {
		mustRedeem(t, redemption{Code: v.Code, Order: fmt.Sprintf("gdpr-o1-%d", n), Friend: erin, Email: email, Fingerprints: map[string]string{"device": fpErin}})
	}

	// Erin's interactions, among them a partial refund of her referred order (it is added up on
	// the order's guard, which must not keep her id).
	batch := fmt.Sprintf(`{"interactions":[
	 {"event_id":"e1","customer_id":"%[1]s","type":"visit","occurred_at":"2026-11-01T10:00:00Z","properties":{"duration_seconds":120}},
	 {"event_id":"e2","customer_id":"%[1]s","type":"profile_update","occurred_at":"2026-11-01T10:01:00Z","properties":{"fields":{"birthday":"04-12","preferences":["shoes"]}}},
	 {"event_id":"e3","customer_id":"%[1]s","type":"review","occurred_at":"2026-11-01T10:02:00Z","properties":{"stars":4,"review_id":"rv-%[1]s"}},
	 {"event_id":"e4","customer_id":"%[1]s","type":"email_open","occurred_at":"2026-11-01T10:03:00Z","properties":{"campaign_id":"c1"}},
	 {"event_id":"e5","customer_id":"%[1]s","type":"refund","occurred_at":"2026-11-01T10:04:00Z","properties":{"order_id":"gdpr-o1-%[2]d","amount":100}}]}`, erin, n)
	if r := post(t, "/v1/interactions", []byte(batch)); r.Status != 202 {
		t.Fatalf("interactions: %d %s", r.Status, r.Body)
	}
	eventually(t, 30*time.Second, erin+"'s aggregates", func() bool { st, _ := customer(t, erin); return st == 200 })

	// Her voucher, asked with her email; a click on her link; a friend's redemption; the grant.
	st, v := askVoucher(t, erin, fmt.Sprintf(`{"email":%q,"program":"ambassador"}`, email))
	if st != 201 {
		t.Fatalf("voucher: %d", st)
	}
	if got := clickFrom(t, ip, "/r/"+v.Code); got != 302 {
		t.Fatalf("click: %d", got)
	}
	red := mustRedeem(t, redemption{Code: v.Code, Order: fmt.Sprintf("gdpr-o2-%d", n), Friend: friend, Fingerprints: map[string]string{"device": fpFriend}})
	// A second friend's order, its reward still held when Erin is erased.
	held := mustRedeem(t, redemption{Code: v.Code, Order: fmt.Sprintf("gdpr-o3-%d", n), Friend: friend + "-2"})
	makeDue(t, red.ReferralID)
	sendBatch(t, "GrantQueue", grantMessage(red.ReferralID))
	queueEmpty(t, "GrantQueue")
	entries, balance := ledgerOf(t, erin)
	if len(entries) != 1 || balance <= 0 {
		t.Fatalf("ledger before erasure: %v %d", entries, balance)
	}
	for _, q := range []string{"RedeemQueue", "VoucherQueue", "RescoreQueue"} {
		queueEmpty(t, q)
	}

	emailHash, err := referral.EmailHash(email)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte(defaultClickSalt)) // click.Service.ClientHash
	m.Write([]byte(ip))
	ipHash := hex.EncodeToString(m.Sum(nil)[:16])
	fpErinHash := referral.FingerprintHash([]byte(defaultFingerprintSalt), referral.Device, fpErin)
	fpFriendHash := referral.FingerprintHash([]byte(defaultFingerprintSalt), referral.Device, fpFriend)
	secrets := map[string]string{"customer id": erin, "email": strings.ToLower(email), "email hash": emailHash,
		"click IP hash": ipHash, "her fingerprint hash": fpErinHash}

	// Before: every secret is somewhere (the test looks where it should).
	before := tableItems(t)
	for what, sec := range secrets {
		if what == "email" {
			continue // never stored in clear
		}
		if !anyContains(before, sec) {
			t.Errorf("before erasure no item holds the %s %s: the test misses a data path", what, sec)
		}
	}

	r := call(t, http.MethodDelete, "/v1/customers/"+erin, nil, stack.APIKey)
	if r.Status != 200 {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	var res struct {
		Pseudonym     string         `json:"pseudonym"`
		Erased        map[string]int `json:"erased"`
		AlreadyErased bool           `json:"already_erased"`
	}
	r.json(t, &res)
	t.Logf("erased: %s", r.Body)
	if !strings.HasPrefix(res.Pseudonym, "erased-") || res.AlreadyErased || res.Erased["interactions_deleted"] < 4 ||
		res.Erased["vouchers_pseudonymised"] != 1 || res.Erased["click_counters_deleted"] != 1 || res.Erased["ledger_items_moved"] != 2 ||
		res.Erased["referrals_pseudonymised"] != 3 || res.Erased["pending_rewards_voided"] != 1 || res.Erased["leaderboard_items_moved"] != 1 {
		t.Errorf("erase answer %s", r.Body)
	}

	// It found them without reading the tables whole: the audit logs each action the function
	// calls (AWS_CALL_AUDIT), and a Scan is none of them.
	if b, err := os.ReadFile(stack.LogPath("EraseCustomerFunction")); err != nil {
		t.Errorf("erase-customer log: %v", err)
	} else if !strings.Contains(string(b), `"action":"dynamodb:Query"`) {
		t.Errorf("erase-customer's log holds no audited call: the check below would see nothing")
	} else if strings.Contains(string(b), `"action":"dynamodb:Scan"`) {
		t.Errorf("erasure scanned a table:\n%s", b)
	}

	after := tableItems(t)
	for table, items := range after {
		for _, it := range items {
			for what, sec := range secrets {
				if strings.Contains(strings.ToLower(it), strings.ToLower(sec)) {
					t.Errorf("%s still holds the %s: %s", table, what, it)
				}
			}
		}
	}
	// The friend's own fingerprint stays (it is theirs, for their future referrals) and names
	// only the friend.
	if !anyContains(after, fpFriendHash) {
		t.Errorf("the friend's fingerprint was deleted")
	}

	// The ledger: same entries and balance, under the pseudonym, balanced.
	pe, pb := ledgerOf(t, res.Pseudonym)
	sum := int64(0)
	for _, p := range pe {
		sum += p
	}
	if len(pe) != len(entries) || pb != balance || sum != pb {
		t.Errorf("pseudonymous ledger %v balance %d, want %d entries summing to %d", pe, pb, len(entries), balance)
	}
	if got := getReferral(t, red.ReferralID); got["referrer_id"] != res.Pseudonym || got["status"] != "granted" {
		t.Errorf("referral after erasure: %v", got)
	}

	// Downstream systems hear of it, to erase their copies.
	if ev := outboundEvent(t, "customer.erased:"+res.Pseudonym); ev == nil || ev["type"] != "customer.erased" || ev["customer_id"] != erin {
		t.Errorf("customer.erased event: %v", ev)
	}
	if got := getReferral(t, held.ReferralID); got["referrer_id"] != res.Pseudonym || got["status"] != "voided" || got["due_shard"] != nil {
		t.Errorf("held referral after erasure: %v", got)
	}
	if st, _ := customer(t, erin); st != 404 {
		t.Errorf("GET erased customer: %d", st)
	}
	// Again: nothing left to do, the same pseudonym.
	r = call(t, http.MethodDelete, "/v1/customers/"+erin, nil, stack.APIKey)
	var again struct {
		Pseudonym     string `json:"pseudonym"`
		AlreadyErased bool   `json:"already_erased"`
	}
	if r.Status != 200 {
		t.Fatalf("erase again: %d %s", r.Status, r.Body)
	}
	r.json(t, &again)
	if !again.AlreadyErased || again.Pseudonym != res.Pseudonym {
		t.Errorf("erase again: %s", r.Body)
	}
	if r := call(t, http.MethodDelete, fmt.Sprintf("/v1/customers/gdpr-nobody-%d", n), nil, stack.APIKey); r.Status != 404 {
		t.Errorf("erase unknown: %d %s", r.Status, r.Body)
	}
}

func anyContains(items map[string][]string, sec string) bool {
	for _, its := range items {
		for _, it := range its {
			if strings.Contains(strings.ToLower(it), strings.ToLower(sec)) {
				return true
			}
		}
	}
	return false
}

// An erasure whose process died after erasing, before publishing customer.erased and writing
// its record (found by the kill drill): the retry finds nothing of the customer any more, yet
// finishes the erasure instead of answering 404. Simulated: the data erased by a first DELETE,
// then its record put back as begun.
func TestEraseRetryAfterACrashFinishes(t *testing.T) {
	id := fmt.Sprintf("gdpr-crash-%d", time.Now().UnixNano())
	newCustomer(t, id)
	r := call(t, http.MethodDelete, "/v1/customers/"+id, nil, stack.APIKey)
	var first struct {
		Pseudonym string `json:"pseudonym"`
	}
	if r.Status != 200 {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	r.json(t, &first)
	if ev := outboundEvent(t, "customer.erased:"+first.Pseudonym); ev == nil {
		t.Fatal("no customer.erased")
	}
	_, err := stack.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(stack.Resources["CustomersTable"]),
		Item: map[string]ddbtypes.AttributeValue{
			"customer_id": &ddbtypes.AttributeValueMemberS{Value: first.Pseudonym}, "sk": &ddbtypes.AttributeValueMemberS{Value: "ERASED"},
			"status": &ddbtypes.AttributeValueMemberS{Value: "erasing"}}})
	if err != nil {
		t.Fatal(err)
	}
	r = call(t, http.MethodDelete, "/v1/customers/"+id, nil, stack.APIKey)
	if r.Status != 200 || contains(string(r.Body), `"already_erased":true`) {
		t.Fatalf("retry after a crash: %d %s", r.Status, r.Body)
	}
	if ev := outboundEvent(t, "customer.erased:"+first.Pseudonym); ev == nil {
		t.Error("the retry did not publish customer.erased")
	}
	if r := call(t, http.MethodDelete, "/v1/customers/"+id, nil, stack.APIKey); r.Status != 200 || !contains(string(r.Body), `"already_erased":true`) {
		t.Errorf("after the retry: %d %s", r.Status, r.Body)
	}
	// An id never known leaves no record behind.
	nobody := fmt.Sprintf("gdpr-nobody-%d", time.Now().UnixNano())
	if r := call(t, http.MethodDelete, "/v1/customers/"+nobody, nil, stack.APIKey); r.Status != 404 {
		t.Fatalf("unknown: %d %s", r.Status, r.Body)
	}
	out, err := stack.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(stack.Resources["CustomersTable"]),
		KeyConditionExpression: aws.String("customer_id = :p"), ConsistentRead: aws.Bool(true),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": &ddbtypes.AttributeValueMemberS{Value: erasePseudonym(t, nobody)}}})
	if err != nil || len(out.Items) != 0 {
		t.Errorf("a 404 left %d items: %v", len(out.Items), err)
	}
}

// erasePseudonym is id's pseudonym under the template's default PseudonymSalt (the local stack's).
func erasePseudonym(t *testing.T, id string) string {
	t.Helper()
	return erase.Pseudonym([]byte("local-only-pseudonym-salt-change-me"), id)
}
