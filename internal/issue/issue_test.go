package issue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// ---- fakes: in-memory stand-ins with the adapters' semantics

type fakeVouchers struct {
	mu        sync.Mutex
	byOwner   map[string]voucher.Voucher // customer/program -> current voucher
	campaigns map[string]voucher.Campaign
	issueErr  error
	markErr   error
	issued    int
}

func newFakeVouchers() *fakeVouchers {
	return &fakeVouchers{byOwner: map[string]voucher.Voucher{}, campaigns: map[string]voucher.Campaign{}}
}

func (f *fakeVouchers) Issue(_ context.Context, req voucher.Request, now time.Time) (voucher.Voucher, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.issueErr != nil {
		return voucher.Voucher{}, false, f.issueErr
	}
	k := req.CustomerID + "/" + req.Terms.Program
	if v, ok := f.byOwner[k]; ok && v.Current(now) {
		return v, false, nil
	}
	v, err := voucher.New(req, "", now)
	if err != nil {
		return v, false, err
	}
	f.byOwner[k] = v
	f.issued++
	return v, true, nil
}

func (f *fakeVouchers) List(_ context.Context, customerID string, programs []string) ([]voucher.Voucher, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []voucher.Voucher
	for _, p := range programs {
		if v, ok := f.byOwner[customerID+"/"+p]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

func (f *fakeVouchers) RememberEmail(_ context.Context, code voucher.Code, emailHash string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range f.byOwner {
		if v.Code == code && v.EmailHash == "" {
			v.EmailHash = emailHash
			f.byOwner[k] = v
		}
	}
	return nil
}

func (f *fakeVouchers) MarkPublished(_ context.Context, code voucher.Code, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.markErr != nil {
		return f.markErr
	}
	for k, v := range f.byOwner {
		if v.Code == code {
			v.PublishedAt = &at
			f.byOwner[k] = v
		}
	}
	return nil
}

func (f *fakeVouchers) Campaign(_ context.Context, id string) (*voucher.Campaign, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.campaigns[id]; ok {
		return &c, nil
	}
	return nil, nil
}

func (f *fakeVouchers) CreateCampaign(_ context.Context, c voucher.Campaign) (bool, *voucher.Campaign, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.campaigns[c.ID]; ok {
		return false, &old, nil
	}
	f.campaigns[c.ID] = c
	return true, nil, nil
}

func (f *fakeVouchers) MarkCampaignLaunched(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.campaigns[id]
	c.Status = voucher.CampaignLaunched
	f.campaigns[id] = c
	return nil
}

type fakeProfiles struct {
	placements map[string]dynamostore.Placement
	members    map[string][]string // segment -> customer ids (sorted)
}

func (f *fakeProfiles) Placement(_ context.Context, id string) (dynamostore.Placement, error) {
	p, ok := f.placements[id]
	if !ok {
		return p, apperr.NotFound("no customer %q", id)
	}
	return p, nil
}

func (f *fakeProfiles) shard(segment string, shard int, sub string) []string {
	var out []string
	for _, id := range f.members[segment] {
		if dynamostore.SegmentShard(segment, id) != fmt.Sprintf("%s#%02d", segment, shard) {
			continue
		}
		if sub != "" && !slices.Contains(f.placements[id].SubSegments, sub) {
			continue
		}
		out = append(out, id)
	}
	return out
}

func (f *fakeProfiles) CountSegment(_ context.Context, segment, sub string) (int, error) {
	n := 0
	for s := range dynamostore.SegmentShards {
		n += len(f.shard(segment, s, sub))
	}
	return n, nil
}

func (f *fakeProfiles) SegmentPage(_ context.Context, segment string, shard int, sub, cursor string, limit int) ([]string, string, error) {
	var out []string
	for _, id := range f.shard(segment, shard, sub) {
		if id > cursor {
			out = append(out, id)
		}
	}
	if len(out) > limit {
		return out[:limit], out[limit-1], nil
	}
	return out, "", nil
}

type fakePublisher struct {
	mu     sync.Mutex
	events []outbound.Event
	err    error
}

func (f *fakePublisher) Publish(_ context.Context, evs ...outbound.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.events = append(f.events, evs...)
	return nil
}

func (f *fakePublisher) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.events {
		out = append(out, e.ID)
	}
	sort.Strings(out)
	return out
}

type fakeQueue struct {
	mu      sync.Mutex
	bodies  []string
	delayed []delayedMessage
}

type delayedMessage struct {
	body  string
	delay time.Duration
}

func (f *fakeQueue) SendDelayed(_ context.Context, body string, delay time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delayed = append(f.delayed, delayedMessage{body, delay})
	return nil
}

func (f *fakeQueue) SendJSON(_ context.Context, bodies []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies = append(f.bodies, bodies...)
	return nil
}

func (f *fakeQueue) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bodies
	f.bodies = nil
	return b
}

type fixture struct {
	svc      *Service
	vouchers *fakeVouchers
	profiles *fakeProfiles
	pub      *fakePublisher
	queue    *fakeQueue
	now      time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{vouchers: newFakeVouchers(), pub: &fakePublisher{}, queue: &fakeQueue{},
		profiles: &fakeProfiles{placements: map[string]dynamostore.Placement{}, members: map[string][]string{}},
		now:      time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	svc, err := New(Config{Vouchers: f.vouchers, Profiles: f.profiles, Publisher: f.pub, Queue: f.queue,
		Rules: voucher.DefaultRules(), ShareBase: "https://r.example", Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

func (f *fixture) customer(id, segment, program string, subs ...string) {
	f.profiles.placements[id] = dynamostore.Placement{Segment: segment, Program: program, SubSegments: subs}
	if segment != "" {
		f.profiles.members[segment] = append(f.profiles.members[segment], id)
		sort.Strings(f.profiles.members[segment])
	}
}

// drain runs every queued message through Handle, as the worker would, until none is left.
func (f *fixture) drain(t *testing.T) {
	t.Helper()
	for range 1000 {
		bodies := f.queue.take()
		if len(bodies) == 0 {
			return
		}
		for _, b := range bodies {
			m, err := Decode(b)
			if err != nil {
				t.Fatalf("queued message %s: %v", b, err)
			}
			if err := f.svc.Handle(context.Background(), m); err != nil {
				t.Fatalf("handle %s: %v", b, err)
			}
		}
	}
	t.Fatal("the queue never drained")
}

// ---- tests

func TestNewRejectsMissingDependencies(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("empty config accepted")
	}
}

func TestForCustomer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, segment, program, ask, want string
	}{
		{"not segmented", "", "", "", "accelerator"},
		{"ambassador", "ambassador", "ambassador", "", "ambassador"},
		{"segment only", "opportunist", "", "", "loyalty"},
		{"asked explicitly", "opportunist", "loyalty", "ambassador", "ambassador"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.customer("c1", tc.segment, tc.program)
			v, created, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c1", Program: tc.ask, FirstName: "Anna"})
			if err != nil || !created || v.Program != tc.want || v.Code.Prefix() != "ANNA" || v.ShareURL != "https://r.example/r/"+string(v.Code) {
				t.Fatalf("first: %+v %v %v", v, created, err)
			}
			again, created, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c1", Program: tc.ask, ShareBase: "http://local"})
			if err != nil || created || again.Code != v.Code || again.ShareURL != "http://local/r/"+string(v.Code) {
				t.Fatalf("again: %+v %v %v", again, created, err)
			}
			if ids := f.pub.ids(); !slices.Equal(ids, []string{"voucher.issued:" + string(v.Code)}) {
				t.Errorf("events %v", ids)
			}
		})
	}
	// A voucher issued without the referrer's email (a campaign, a review) learns it from the
	// first request that gives it, and keeps it.
	f := newFixture(t)
	f.customer("c2", "", "")
	first, _, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c2"})
	if err != nil || first.EmailHash != "" {
		t.Fatalf("%+v %v", first, err)
	}
	for _, h := range []string{"h1", "h2"} {
		if v, _, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c2", EmailHash: h}); err != nil || v.EmailHash != "h1" || v.Code != first.Code {
			t.Errorf("with email %s: %+v %v", h, v, err)
		}
	}
	f = newFixture(t)
	_, _, err = f.svc.ForCustomer(ctx, Ask{CustomerID: "nobody"})
	if e, ok := apperr.As(err); !ok || e.Status != 404 {
		t.Errorf("unknown customer: %v", err)
	}
	f.customer("c1", "", "")
	_, _, err = f.svc.ForCustomer(ctx, Ask{CustomerID: "c1", Program: "gold"})
	if e, ok := apperr.As(err); !ok || e.Field != "program" {
		t.Errorf("unknown program: %v", err)
	}
	if f.vouchers.issued != 0 {
		t.Error("a refused request issued a voucher")
	}
}

// A voucher created but not published (the publisher failed) fails the request; the retry
// returns it and publishes it once it is stale, not before.
func TestForCustomerPublishesLostEvents(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.customer("c1", "", "")
	f.pub.err = errors.New("sqs down")
	if _, _, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c1"}); err == nil {
		t.Fatal("a lost voucher.issued was not reported")
	}
	f.pub.err = nil
	v, created, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c1"})
	if err != nil || created || len(f.pub.ids()) != 0 {
		t.Fatalf("retry right away: %v %v %v (racing requests must not publish)", created, err, f.pub.ids())
	}
	f.now = f.now.Add(StaleAfter)
	if _, _, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if ids := f.pub.ids(); !slices.Equal(ids, []string{"voucher.issued:" + string(v.Code)}) {
		t.Errorf("events %v", ids)
	}
}

// The issuer of a voucher dies between creating it and publishing voucher.issued, and nobody
// asks for the voucher again: the publish check it sent first publishes it once stale.
func TestPublishCheckCoversADeadIssuer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.customer("c1", "", "")
	f.pub.err = errors.New("killed before publishing")
	if _, _, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c1"}); err == nil {
		t.Fatal("no error")
	}
	f.pub.err = nil
	if len(f.queue.delayed) != 1 || f.queue.delayed[0].delay != StaleAfter+publishCheckMargin {
		t.Fatalf("publish checks %+v", f.queue.delayed)
	}
	m, err := Decode(f.queue.delayed[0].body)
	if err != nil || m.Reason != ReasonPublishCheck || m.CustomerID != "c1" || m.Program != "accelerator" {
		t.Fatalf("check %+v %v", m, err)
	}
	// Delivered early (clock skew): not stale yet, retried later; nothing published.
	if err := f.svc.Handle(ctx, m); !errors.Is(err, errNotStale) || len(f.pub.ids()) != 0 {
		t.Fatalf("early check: %v %v", err, f.pub.ids())
	}
	f.now = f.now.Add(StaleAfter + publishCheckMargin)
	for range 2 { // delivered twice: published once
		if err := f.svc.Handle(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	vs, _ := f.vouchers.List(ctx, "c1", []string{"accelerator"})
	if ids := f.pub.ids(); len(vs) != 1 || !slices.Equal(ids, []string{"voucher.issued:" + string(vs[0].Code)}) {
		t.Errorf("events %v", ids)
	}
	// A check for a voucher never created (the request died before) does nothing.
	if err := f.svc.Handle(ctx, Message{Reason: ReasonPublishCheck, CustomerID: "nobody", Program: "loyalty"}); err != nil || len(f.pub.ids()) != 1 {
		t.Errorf("check of nothing: %v %v", err, f.pub.ids())
	}
	// A customer who already has a voucher gets no check.
	f.queue.delayed = nil
	if _, _, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "c1"}); err != nil || len(f.queue.delayed) != 0 {
		t.Errorf("existing voucher: %v, %d checks", err, len(f.queue.delayed))
	}
	if _, err := Decode(`{"reason":"publish_check","customer_id":"c1"}`); !errors.Is(err, ErrBadMessage) {
		t.Errorf("a check without program: %v", err)
	}
}

func TestLaunchCampaign(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var want []string
	for i := range 250 {
		id := fmt.Sprintf("m%03d", i)
		subs := []string{}
		if i%5 == 0 {
			subs = append(subs, "best_buyer")
			want = append(want, id)
		}
		f.customer(id, "ambassador", "ambassador", subs...)
	}
	f.customer("fa", "future_ambassador", "accelerator", "best_buyer")
	// One member already has a voucher: kept, not published again.
	had, _, err := f.svc.ForCustomer(ctx, Ask{CustomerID: "m000"})
	if err != nil {
		t.Fatal(err)
	}
	c, relaunched, err := f.svc.Launch(ctx, CampaignRequest{Segment: "ambassador", SubSegment: "best_buyer"})
	if err != nil || relaunched || c.Count != 50 || c.Program != "ambassador" || c.Status != voucher.CampaignLaunched {
		t.Fatalf("launch: %+v %v %v", c, relaunched, err)
	}
	if n := len(f.queue.bodies); n != dynamostore.SegmentShards {
		t.Fatalf("%d scan messages, want one per shard", n)
	}
	f.drain(t)
	var gotIDs []string
	for _, id := range want {
		v, ok := f.vouchers.byOwner[id+"/ambassador"]
		if !ok {
			t.Fatalf("%s has no voucher", id)
		}
		if id == "m000" {
			if v.Code != had.Code || v.Reason != voucher.ReasonRequest {
				t.Errorf("m000's voucher was replaced: %+v", v)
			}
		} else if v.Reason != voucher.ReasonCampaign || v.CampaignID != c.ID {
			t.Errorf("%s: %+v", id, v)
		}
		gotIDs = append(gotIDs, "voucher.issued:"+string(v.Code))
	}
	if f.vouchers.issued != 50 {
		t.Errorf("%d vouchers issued, want 50", f.vouchers.issued)
	}
	sort.Strings(gotIDs)
	if ids := f.pub.ids(); !slices.Equal(ids, gotIDs) {
		t.Errorf("events %d, want %d (one per voucher)", len(ids), len(gotIDs))
	}
	// Relaunch: nothing enqueued, nothing issued.
	again, relaunched, err := f.svc.Launch(ctx, CampaignRequest{Segment: "ambassador", SubSegment: "best_buyer"})
	if err != nil || !relaunched || again.ID != c.ID || again.Count != 50 || len(f.queue.bodies) != 0 {
		t.Fatalf("relaunch: %+v %v %v queued %d", again, relaunched, err, len(f.queue.bodies))
	}
	// A launcher that died before enqueuing: the next launch, once stale, resumes it.
	f.vouchers.campaigns["cmp_dead"] = voucher.Campaign{ID: "cmp_dead", Status: voucher.CampaignLaunching, CreatedAt: f.now}
	id := voucher.CampaignID("opportunist", "", "loyalty", "x")
	f.vouchers.campaigns[id] = voucher.Campaign{ID: id, Segment: "opportunist", Program: "loyalty", Status: voucher.CampaignLaunching, CreatedAt: f.now}
	if _, _, err := f.svc.Launch(ctx, CampaignRequest{Segment: "opportunist", CampaignID: "x"}); err != nil || len(f.queue.bodies) != 0 {
		t.Fatalf("a fresh launching campaign was re-enqueued: %v %d", err, len(f.queue.bodies))
	}
	f.now = f.now.Add(StaleAfter)
	c2, _, err := f.svc.Launch(ctx, CampaignRequest{Segment: "opportunist", CampaignID: "x"})
	if err != nil || c2.Status != voucher.CampaignLaunched || len(f.queue.bodies) != dynamostore.SegmentShards {
		t.Fatalf("resume: %+v %v %d", c2, err, len(f.queue.bodies))
	}
	f.drain(t)
}

func TestLaunchValidates(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		r     CampaignRequest
		field string
	}{
		{CampaignRequest{Segment: "vip"}, "segment"},
		{CampaignRequest{Segment: "ambassador", SubSegment: "vip"}, "sub_segment"},
		{CampaignRequest{Segment: "ambassador", Program: "gold"}, "program"},
		{CampaignRequest{Segment: "ambassador", CampaignID: "a/b"}, "campaign_id"},
		{CampaignRequest{Segment: "ambassador", CampaignID: strings.Repeat("x", 65)}, "campaign_id"},
	} {
		_, _, err := f.svc.Launch(context.Background(), tc.r)
		if e, ok := apperr.As(err); !ok || e.Field != tc.field {
			t.Errorf("%+v: %v", tc.r, err)
		}
	}
	if len(f.vouchers.campaigns) != 0 || len(f.queue.bodies) != 0 {
		t.Error("a refused launch recorded or enqueued something")
	}
}

// A redelivered campaign page republishes what its first delivery issued but did not publish;
// a five-star request issues in the customer's program.
func TestRedeliveryAndFiveStar(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.customer("a", "ambassador", "ambassador")
	f.customer("b", "ambassador", "ambassador")
	m := Message{Reason: ReasonCampaign, CampaignID: "cmp_1", Program: "ambassador", CustomerIDs: []string{"a", "b"}}
	f.pub.err = errors.New("sqs down")
	if err := f.svc.Handle(ctx, m); err == nil {
		t.Fatal("a lost publish was not reported")
	}
	f.pub.err = nil
	if err := f.svc.Handle(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Handle(ctx, m); err != nil {
		t.Fatal(err)
	}
	if ids := f.pub.ids(); len(ids) != 2 || f.vouchers.issued != 2 {
		t.Errorf("events %v, issued %d", ids, f.vouchers.issued)
	}
	// Another campaign reaching the same members publishes nothing.
	if err := f.svc.Handle(ctx, Message{Reason: ReasonCampaign, CampaignID: "cmp_2", Program: "ambassador", CustomerIDs: []string{"a"}}); err != nil || len(f.pub.ids()) != 2 {
		t.Errorf("second campaign: %v %v", err, f.pub.ids())
	}

	f.customer("r", "opportunist", "loyalty")
	if err := f.svc.Handle(ctx, Message{Reason: ReasonFiveStarReview, CustomerID: "r", ReviewID: "rev-9"}); err != nil {
		t.Fatal(err)
	}
	v := f.vouchers.byOwner["r/loyalty"]
	if v.Reason != voucher.ReasonFiveStarReview || v.CampaignID != "review:rev-9" || len(f.pub.ids()) != 3 {
		t.Errorf("five-star voucher %+v, events %v", v, f.pub.ids())
	}
	var data IssuedData
	b, _ := json.Marshal(f.pub.events[2].Data)
	_ = json.Unmarshal(b, &data)
	if data.Code != v.Code || data.ShareURL != "https://r.example/r/"+string(v.Code) || data.Reason != "five_star_review" || f.pub.events[2].CustomerID != "r" {
		t.Errorf("event %+v", f.pub.events[2])
	}
	if err := f.svc.Handle(ctx, Message{Reason: ReasonFiveStarReview, CustomerID: "ghost"}); err == nil {
		t.Error("a review from an unknown customer succeeded")
	}
}

func TestDecode(t *testing.T) {
	for _, good := range []string{
		`{"reason":"campaign","campaign_id":"c","program":"ambassador","customer_ids":["a","b"]}`,
		`{"reason":"five_star_review","customer_id":"a"}`,
		`{"reason":"five_star_review","customer_id":"a","review_id":"r"}`,
		`{"reason":"campaign_scan","campaign_id":"c","segment":"ambassador","program":"ambassador","shard":0}`,
		`{"reason":"campaign_scan","campaign_id":"c","segment":"ambassador","program":"ambassador","shard":15,"cursor":"x"}`,
	} {
		if _, err := Decode(good); err != nil {
			t.Errorf("Decode(%s): %v", good, err)
		}
	}
	ids := make([]string, PageSize+1)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	tooMany, _ := json.Marshal(Message{Reason: ReasonCampaign, CampaignID: "c", Program: "p", CustomerIDs: ids})
	for _, bad := range []string{
		``, `[]`, `{"reason":"campaign","customer_ids":"x"}`, `{"reason":"nope"}`, `{"reason":"campaign","campaign_id":"c","program":"p"}`,
		`{"reason":"campaign","campaign_id":"c","program":"p","customer_ids":["a#b"]}`, `{"reason":"campaign","campaign_id":"c","program":"p","customer_ids":[""]}`,
		`{"reason":"five_star_review"}`, `{"reason":"five_star_review","customer_id":"a","extra":1}`,
		`{"reason":"campaign_scan","campaign_id":"c","segment":"s","program":"p"}`,
		`{"reason":"campaign_scan","campaign_id":"c","segment":"s","program":"p","shard":16}`,
		string(tooMany),
	} {
		if _, err := Decode(bad); !errors.Is(err, ErrBadMessage) {
			t.Errorf("Decode(%.80s) = %v, want ErrBadMessage", bad, err)
		}
	}
}
