package voucherstore_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/funnel"
	"github.com/referral-engine/referral-engine/internal/voucher"
	"github.com/referral-engine/referral-engine/internal/voucherstore"
)

func newStore(t *testing.T) *voucherstore.Store {
	t.Helper()
	s, err := voucherstore.New(stack.DynamoDB, stack.Resources["VouchersTable"])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func terms(t *testing.T, program string) voucher.Terms {
	t.Helper()
	tm, ok := voucher.DefaultRules().Terms(program)
	if !ok {
		t.Fatalf("no program %s", program)
	}
	return tm
}

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestNewRejectsMissingWiring(t *testing.T) {
	if _, err := voucherstore.New(nil, "t"); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := voucherstore.New(stack.DynamoDB, ""); err == nil {
		t.Error("empty table accepted")
	}
}

func TestIssueReturnsTheCurrentVoucher(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	req := voucher.Request{CustomerID: "vs-anna", Terms: terms(t, "ambassador"), Reason: voucher.ReasonRequest, Prefix: "ANNA"}
	v, created, err := s.Issue(ctx, req, now)
	if err != nil || !created {
		t.Fatalf("first issue: %v created=%v", err, created)
	}
	if v.Code.Prefix() != "ANNA" || v.UseLimit != 10 || !v.ExpiresAt.Equal(now.Add(90*24*time.Hour)) || v.FriendOffer.Value != 15 {
		t.Errorf("voucher %+v", v)
	}
	again, created, err := s.Issue(ctx, voucher.Request{CustomerID: "vs-anna", Terms: terms(t, "ambassador"), Reason: voucher.ReasonCampaign, CampaignID: "cmp_x"}, now.Add(time.Hour))
	if err != nil || created || again.Code != v.Code || again.Reason != voucher.ReasonRequest || again.CampaignID != "" {
		t.Fatalf("second issue: %+v created=%v err=%v", again, created, err)
	}
	// Another program is another voucher.
	other, created, err := s.Issue(ctx, voucher.Request{CustomerID: "vs-anna", Terms: terms(t, "loyalty"), Reason: voucher.ReasonRequest}, now)
	if err != nil || !created || other.Code == v.Code {
		t.Fatalf("other program: %+v %v %v", other, created, err)
	}
	got, err := s.Get(ctx, v.Code)
	if err != nil || got == nil || got.Code != v.Code || got.CustomerID != "vs-anna" || got.Program != "ambassador" ||
		got.FriendOffer != v.FriendOffer || got.ReferrerReward != v.ReferrerReward || !got.CreatedAt.Equal(v.CreatedAt) ||
		!got.ExpiresAt.Equal(v.ExpiresAt) || got.Status != voucher.StatusActive || got.PublishedAt != nil {
		t.Errorf("Get = %+v, %v; want %+v", got, err, v)
	}
	if got, err := s.Get(ctx, "ZZZZZZZZ"); err != nil || got != nil {
		t.Errorf("unknown code: %+v %v", got, err)
	}
	list, err := s.List(ctx, "vs-anna", voucher.DefaultRules().Programs())
	if err != nil || len(list) != 2 || list[0].Program != "ambassador" || list[1].Program != "loyalty" {
		t.Errorf("List = %+v, %v", list, err)
	}
	if list, err := s.List(ctx, "vs-nobody", voucher.DefaultRules().Programs()); err != nil || len(list) != 0 {
		t.Errorf("List of nobody = %+v, %v", list, err)
	}
	// Codes and owner items are in the by_customer index, where erasure finds them.
	if got, want := byCustomer(t, "vs-anna"), []string{"CODE#" + string(min(v.Code, other.Code)), "CODE#" + string(max(v.Code, other.Code)),
		"OWNER#vs-anna#ambassador", "OWNER#vs-anna#loyalty"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("by_customer holds %v, want %v", got, want)
	}
	if err := s.MarkPublished(ctx, v.Code, now); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, v.Code); got.PublishedAt == nil || !got.PublishedAt.Equal(now) {
		t.Errorf("published at %v", got.PublishedAt)
	}
	if err := s.MarkPublished(ctx, "ZZZZZZZZ", now); err == nil {
		t.Error("marking an unknown code published succeeded")
	}
	// The referrer's email, given after the voucher was issued without it, is kept once.
	for _, h := range []string{"hash-1", "hash-2"} {
		if err := s.RememberEmail(ctx, v.Code, h); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.Get(ctx, v.Code); got.EmailHash != "hash-1" {
		t.Errorf("email hash %q, want the first one", got.EmailHash)
	}
}

func TestExpiredVoucherIsReplaced(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	tm := terms(t, "loyalty")
	req := voucher.Request{CustomerID: "vs-expiring", Terms: tm, Reason: voucher.ReasonRequest}
	v, _, err := s.Issue(ctx, req, now)
	if err != nil {
		t.Fatal(err)
	}
	later := v.ExpiresAt
	if cur, err := s.Current(ctx, "vs-expiring", "loyalty", later); err != nil || cur != nil {
		t.Fatalf("an expired voucher is current: %+v %v", cur, err)
	}
	w, created, err := s.Issue(ctx, req, later)
	if err != nil || !created || w.Code == v.Code {
		t.Fatalf("after expiry: %+v %v %v", w, created, err)
	}
	// The old code still exists (a late redemption says code_expired, not unknown_code).
	if old, err := s.Get(ctx, v.Code); err != nil || old == nil || old.Usable(later) {
		t.Errorf("old code: %+v %v", old, err)
	}
}

// 20 concurrent requests for one customer and program: one code, one creation, counted once in
// the funnel.
func TestIssueRace(t *testing.T) {
	ctx := context.Background()
	s, err := voucherstore.New(stack.DynamoDB, stack.Resources["VouchersTable"], voucherstore.WithFunnel(stack.Resources["StatsTable"]))
	if err != nil {
		t.Fatal(err)
	}
	counters, err := funnel.New(stack.DynamoDB, stack.Resources["StatsTable"])
	if err != nil {
		t.Fatal(err)
	}
	issuedBefore := issuedCount(t, counters)
	for round := range 3 {
		customer := fmt.Sprintf("vs-race-%d", round)
		const n = 20
		codes := make([]voucher.Code, n)
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				v, c, err := s.Issue(ctx, voucher.Request{CustomerID: customer, Terms: terms(t, "accelerator"), Reason: voucher.ReasonCampaign}, now)
				codes[i], created[i], errs[i] = v.Code, c, err
			})
		}
		close(start)
		wg.Wait()
		winners := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("request %d: %v", i, errs[i])
			}
			if codes[i] != codes[0] {
				t.Fatalf("request %d got %s, request 0 %s", i, codes[i], codes[0])
			}
			if created[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Fatalf("%d requests created a voucher, want 1", winners)
		}
		list, err := s.List(ctx, customer, []string{"accelerator"})
		if err != nil || len(list) != 1 || list[0].Code != codes[0] {
			t.Fatalf("stored %+v %v", list, err)
		}
	}
	if n := issuedCount(t, counters) - issuedBefore; n != 3 {
		t.Errorf("funnel counted %d vouchers issued, want 3", n)
	}
}

func issuedCount(t *testing.T, c *funnel.Counters) int64 {
	t.Helper()
	f, err := c.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return f["accelerator"][funnel.VouchersIssued]
}

func TestIssueRefusesBadRequests(t *testing.T) {
	s := newStore(t)
	for _, req := range []voucher.Request{
		{CustomerID: "", Terms: terms(t, "loyalty"), Reason: voucher.ReasonRequest},
		{CustomerID: "a#b", Terms: terms(t, "loyalty"), Reason: voucher.ReasonRequest},
		{CustomerID: "c", Terms: voucher.Terms{}, Reason: voucher.ReasonRequest},
	} {
		if _, _, err := s.Issue(context.Background(), req, now); err == nil {
			t.Errorf("Issue(%+v) accepted", req)
		}
	}
}

func TestCampaignRecord(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	c := voucher.Campaign{ID: voucher.CampaignID("ambassador", "", "ambassador", "vs"), Segment: "ambassador", Program: "ambassador", Count: 3, Status: voucher.CampaignLaunching, CreatedAt: now}
	created, old, err := s.CreateCampaign(ctx, c)
	if err != nil || !created || old != nil {
		t.Fatalf("create: %v %+v %v", created, old, err)
	}
	c2 := c
	c2.Count = 99
	created, old, err = s.CreateCampaign(ctx, c2)
	if err != nil || created || old == nil || old.Count != 3 || old.Status != voucher.CampaignLaunching || !old.CreatedAt.Equal(now) {
		t.Fatalf("relaunch: %v %+v %v", created, old, err)
	}
	if err := s.MarkCampaignLaunched(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Campaign(ctx, c.ID); err != nil || got.Status != voucher.CampaignLaunched {
		t.Errorf("after launch: %+v %v", got, err)
	}
	if got, err := s.Campaign(ctx, "cmp_none"); err != nil || got != nil {
		t.Errorf("unknown campaign: %+v %v", got, err)
	}
}

func TestCountClick(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for i := 1; i <= 5; i++ {
		ok, err := s.CountClick(ctx, "ABCDEFGH", "vs-owner", "client-1", now, 3)
		if err != nil || ok != (i <= 3) {
			t.Fatalf("click %d: counted=%v err=%v", i, ok, err)
		}
	}
	// Another client, another hour: counted afresh.
	if ok, _ := s.CountClick(ctx, "ABCDEFGH", "vs-owner", "client-2", now, 3); !ok {
		t.Error("another client was not counted")
	}
	if ok, _ := s.CountClick(ctx, "ABCDEFGH", "vs-owner", "client-1", now.Add(time.Hour), 3); !ok {
		t.Error("the next hour was not counted")
	}
	// Each counter is in the by_customer index under the code's owner, for erasure.
	if got := byCustomer(t, "vs-owner"); len(got) != 3 {
		t.Errorf("by_customer holds %v, want the 3 click counters", got)
	}
}

// byCustomer lists the pks the VouchersTable's by_customer index holds for a customer.
func byCustomer(t *testing.T, id string) []string {
	t.Helper()
	out, err := stack.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{TableName: aws.String(stack.Resources["VouchersTable"]),
		IndexName: aws.String("by_customer"), KeyConditionExpression: aws.String("customer_id = :c"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":c": &types.AttributeValueMemberS{Value: id}}})
	if err != nil {
		t.Fatal(err)
	}
	var pks []string
	for _, it := range out.Items {
		pks = append(pks, it["pk"].(*types.AttributeValueMemberS).Value)
	}
	sort.Strings(pks)
	return pks
}
