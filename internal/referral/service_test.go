package referral

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/outbound"
)

// memStore is an in-memory Store with the same rules as the transaction (code, order, friend).
type memStore struct {
	mu     sync.Mutex
	codes  map[string]*Code
	orders map[string]*OrderGuard
	refs   map[string]*Referral
	ledger map[string]int64
	// counted refund events, "<order> <event>"
	counted map[string]bool
}

func newMem() *memStore {
	return &memStore{codes: map[string]*Code{}, orders: map[string]*OrderGuard{}, refs: map[string]*Referral{}, ledger: map[string]int64{}}
}

func (m *memStore) Load(_ context.Context, code, order string) (*Code, *OrderGuard, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var c *Code
	if x := m.codes[code]; x != nil {
		cp := *x
		c = &cp
	}
	return c, m.orders[order], nil
}
func (m *memStore) OrderGuard(_ context.Context, order string) (*OrderGuard, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.orders[order], nil
}
func (m *memStore) Get(_ context.Context, id string) (*Referral, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.refs[id]; r != nil {
		cp := *r
		return &cp, nil
	}
	return nil, nil
}
func (m *memStore) Redeem(_ context.Context, ref Referral, _ *Code, _ map[FingerprintKind]string, _ int, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.orders[ref.OrderID]
	if g != nil && (g.ReferralID != "" || g.Refunds.Covers(ref.OrderTotal)) {
		return ErrRetry
	}
	c := m.codes[ref.Code]
	if err := CheckCode(c, now); err != nil {
		return err
	}
	c.Uses++
	ng := &OrderGuard{ReferralID: ref.ID, RequestHash: ref.RequestHash}
	if g != nil {
		ng.Refunds = g.Refunds // a tombstone's partial refunds are kept
	}
	m.orders[ref.OrderID] = ng
	m.refs[ref.ID] = &ref
	return nil
}
func (m *memStore) AddRefund(_ context.Context, order string, r Refund, _ time.Time) (*OrderGuard, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counted == nil {
		m.counted = map[string]bool{}
	}
	g := m.orders[order]
	if g == nil {
		g = &OrderGuard{}
		m.orders[order] = g
	}
	switch {
	case r.Full:
		g.Refunds.Full = true
	case !m.counted[order+" "+r.EventID]:
		m.counted[order+" "+r.EventID] = true
		g.Refunds.Amount += r.Amount
	}
	cp := *g
	return &cp, nil
}
func (m *memStore) move(id, from, to string, points int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.refs[id]
	if r.Status != from {
		return ErrStale
	}
	r.Status = to
	m.ledger[r.ReferrerID] += points
	return nil
}
func (m *memStore) Grant(_ context.Context, r *Referral, _ time.Time) error {
	return m.move(r.ID, Pending, Granted, r.Reward.Points)
}
func (m *memStore) Void(_ context.Context, r *Referral, _ time.Time) error {
	return m.move(r.ID, Pending, Voided, 0)
}
func (m *memStore) Reverse(_ context.Context, r *Referral, _ time.Time) error {
	return m.move(r.ID, Granted, Reversed, -r.Reward.Points)
}
func (m *memStore) Due(_ context.Context, now time.Time, fn func([]string) error) error {
	m.mu.Lock()
	var ids []string
	for id, r := range m.refs {
		if r.Status == Pending && r.Due(now) {
			ids = append(ids, id)
		}
	}
	m.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	return fn(ids)
}

type recorder struct {
	events []outbound.Event
	ins    []interaction.Interaction
	sent   []string
	pubErr error
}

func (r *recorder) Publish(_ context.Context, ev ...outbound.Event) error {
	if r.pubErr != nil {
		return r.pubErr
	}
	r.events = append(r.events, ev...)
	return nil
}
func (r *recorder) RecordParsed(_ context.Context, ins []interaction.Interaction, _ time.Time) (ingest.Result, error) {
	r.ins = append(r.ins, ins...)
	return ingest.Result{Accepted: len(ins)}, nil
}
func (r *recorder) SendJSON(_ context.Context, b []string) error {
	r.sent = append(r.sent, b...)
	return nil
}

func service(t *testing.T, window time.Duration) (*Service, *memStore, *recorder, *time.Time) {
	t.Helper()
	st, rec := newMem(), &recorder{}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	terms := DefaultTerms()
	terms.ReturnWindow = window
	svc, err := NewService(Deps{Store: st, Events: rec, Recorder: rec, Grants: rec, Terms: terms, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	st.codes["ANNA-1"] = &Code{Code: "ANNA-1", CustomerID: "anna", Program: "ambassador", Status: "active", ExpiresAt: now.Add(time.Hour), UseLimit: 5}
	return svc, st, rec, &now
}

func TestZeroWindowGrantsAtOnce(t *testing.T) {
	svc, st, rec, _ := service(t, 0)
	ans, err := svc.Redeem(context.Background(), Redemption{Code: "ANNA-1", OrderID: "o1", FriendCustomerID: "marco"})
	if err != nil || ans.Status != Pending {
		t.Fatal(ans, err)
	}
	if len(rec.sent) != 1 || rec.sent[0] != `{"v":1,"referral_id":"`+ans.ReferralID+`"}` {
		t.Fatalf("grant not enqueued: %v", rec.sent)
	}
	for range 3 {
		if _, err := svc.Grant(context.Background(), ans.ReferralID); err != nil {
			t.Fatal(err)
		}
	}
	if st.ledger["anna"] != 500 {
		t.Errorf("balance %d", st.ledger["anna"])
	}
	ids := map[string]int{}
	for _, e := range rec.events {
		ids[e.ID]++
	}
	if ids["referral.redeemed:"+ans.ReferralID] != 1 || ids["reward.granted:"+ans.ReferralID] != 3 {
		t.Errorf("events %v", ids)
	}
	if len(rec.ins) != 4 || rec.ins[0].EventID != "signup-"+ans.ReferralID || rec.ins[1].EventID != "success-"+ans.ReferralID {
		t.Errorf("interactions %v", rec.ins)
	}
}

// A grant commits, its process dies before publishing, the order is refunded, then the grant
// message comes back: the reward was granted (and reversed), so reward.granted and
// referral_success are published after all (found by the kill drill).
func TestGrantRedeliveredAfterAReversal(t *testing.T) {
	svc, st, rec, _ := service(t, 0)
	ctx := context.Background()
	ans, err := svc.Redeem(ctx, Redemption{Code: "ANNA-1", OrderID: "o1", FriendCustomerID: "marco"})
	if err != nil {
		t.Fatal(err)
	}
	rec.pubErr = errors.New("killed")
	if _, err := svc.Grant(ctx, ans.ReferralID); err == nil {
		t.Fatal("no error")
	}
	rec.pubErr = nil
	if r, err := svc.Refund(ctx, "o1"); err != nil || r.Status != Reversed {
		t.Fatal(r, err)
	}
	if out, err := svc.Grant(ctx, ans.ReferralID); err != nil || out != AlreadyGranted {
		t.Fatalf("redelivered grant: %s %v", out, err)
	}
	ids := map[string]int{}
	for _, e := range rec.events {
		ids[e.ID]++
	}
	success := 0
	for _, in := range rec.ins {
		if in.EventID == "success-"+ans.ReferralID {
			success++
		}
	}
	if ids["reward.granted:"+ans.ReferralID] != 1 || ids["reward.reversed:"+ans.ReferralID] != 1 || success < 1 || st.ledger["anna"] != 0 {
		t.Errorf("events %v, %d referral_success, balance %d", ids, success, st.ledger["anna"])
	}
}

func TestHoldReleaseRefund(t *testing.T) {
	svc, st, rec, now := service(t, 14*24*time.Hour)
	ctx := context.Background()
	a, _ := svc.Redeem(ctx, Redemption{Code: "ANNA-1", OrderID: "o1", FriendCustomerID: "f1"})
	b, _ := svc.Redeem(ctx, Redemption{Code: "ANNA-1", OrderID: "o2", FriendCustomerID: "f2"})
	if len(rec.sent) != 0 {
		t.Fatal("enqueued before the hold")
	}
	if out, _ := svc.Grant(ctx, a.ReferralID); out != NotDue {
		t.Fatalf("grant before the hold: %s", out)
	}
	if r, err := svc.Refund(ctx, "o1"); err != nil || r.Status != Voided {
		t.Fatal(r, err)
	}
	*now = now.Add(15 * 24 * time.Hour)
	if n, err := svc.Release(ctx); err != nil || n != 1 {
		t.Fatalf("released %d %v", n, err)
	}
	if out, _ := svc.Grant(ctx, a.ReferralID); out != Closed {
		t.Errorf("voided referral: %s", out)
	}
	if out, _ := svc.Grant(ctx, b.ReferralID); out != GrantedNow {
		t.Errorf("due referral: %s", out)
	}
	for range 2 {
		if r, err := svc.Refund(ctx, "o2"); err != nil || r.Status != Reversed {
			t.Fatal(r, err)
		}
	}
	if st.ledger["anna"] != 0 {
		t.Errorf("balance %d", st.ledger["anna"])
	}
	if r, err := svc.Refund(ctx, "nope"); err != nil || r.Status != NoReferral {
		t.Errorf("unknown order: %+v %v", r, err)
	}
	// Replays and different requests for a used order.
	if ans, err := svc.Redeem(ctx, Redemption{Code: "ANNA-1", OrderID: "o2", FriendCustomerID: "f2"}); err != nil || ans.ReferralID != b.ReferralID {
		t.Errorf("replay: %v %v", ans, err)
	}
	_, err := svc.Redeem(ctx, Redemption{Code: "ANNA-1", OrderID: "o2", FriendCustomerID: "other"})
	if r, ok := AsRefusal(err); !ok || r.Reason != AlreadyRedeemed {
		t.Errorf("different request: %v", err)
	}
}

func isStatus(err error, status int) bool {
	e, ok := apperr.As(err)
	return ok && e.Status == status
}

// Refund interactions cancel the reward once they add up to the order's total (each counted
// once), before or after the redemption is processed (both travel the RedeemQueue, in no order);
// below the total they change nothing; the refunds route is a full refund.
func TestRefundInteractions(t *testing.T) {
	n := 0
	refund := func(order string, amount int64) interaction.Interaction {
		n++
		return interaction.Interaction{EventID: fmt.Sprintf("rf-%s-%d", order, n), CustomerID: "friend", Type: interaction.Refund,
			Properties: interaction.Properties{OrderID: order, Amount: &amount}}
	}
	red := func(order string) Redemption {
		return Redemption{Code: "ANNA-1", OrderID: order, FriendCustomerID: "f-" + order, OrderTotal: 5000, Currency: "EUR"}
	}
	for _, tt := range []struct {
		name       string
		steps      func(t *testing.T, svc *Service) error // returns the redemption's error
		wantStatus string                                 // the referral's, "" for none
		wantRefuse string
	}{
		{"full refund after the redemption voids", func(t *testing.T, svc *Service) error {
			_, err := svc.Redeem(context.Background(), red("o1"))
			if ans, rerr := svc.RefundInteraction(context.Background(), refund("o1", 5000)); rerr != nil || ans.Status != Voided {
				t.Fatalf("refund: %+v %v", ans, rerr)
			}
			return err
		}, Voided, ""},
		{"partial refund after the redemption changes nothing", func(t *testing.T, svc *Service) error {
			_, err := svc.Redeem(context.Background(), red("o1"))
			if ans, rerr := svc.RefundInteraction(context.Background(), refund("o1", 4999)); rerr != nil || ans.Status != Pending {
				t.Fatalf("refund: %+v %v", ans, rerr)
			}
			return err
		}, Pending, ""},
		{"full refund first: the redemption is refused", func(t *testing.T, svc *Service) error {
			if ans, rerr := svc.RefundInteraction(context.Background(), refund("o1", 6000)); rerr != nil || ans.Status != NoReferral {
				t.Fatalf("refund: %+v %v", ans, rerr)
			}
			_, err := svc.Redeem(context.Background(), red("o1"))
			return err
		}, "", OrderRefunded},
		{"partial refund first: the redemption goes through", func(t *testing.T, svc *Service) error {
			if _, rerr := svc.RefundInteraction(context.Background(), refund("o1", 100)); rerr != nil {
				t.Fatal(rerr)
			}
			_, err := svc.Redeem(context.Background(), red("o1"))
			return err
		}, Pending, ""},
		{"two partial refunds adding up to the total void", func(t *testing.T, svc *Service) error {
			_, err := svc.Redeem(context.Background(), red("o1"))
			for _, a := range []int64{2000, 3000} {
				if _, rerr := svc.RefundInteraction(context.Background(), refund("o1", a)); rerr != nil {
					t.Fatal(rerr)
				}
			}
			return err
		}, Voided, ""},
		{"one refund delivered twice counts once", func(t *testing.T, svc *Service) error {
			_, err := svc.Redeem(context.Background(), red("o1"))
			in := refund("o1", 2500)
			for range 2 {
				if ans, rerr := svc.RefundInteraction(context.Background(), in); rerr != nil || ans.Status != Pending {
					t.Fatalf("refund: %+v %v", ans, rerr)
				}
			}
			return err
		}, Pending, ""},
		{"a partial refund before the redemption counts with one after", func(t *testing.T, svc *Service) error {
			if _, rerr := svc.RefundInteraction(context.Background(), refund("o1", 2500)); rerr != nil {
				t.Fatal(rerr)
			}
			_, err := svc.Redeem(context.Background(), red("o1"))
			if _, rerr := svc.RefundInteraction(context.Background(), refund("o1", 2500)); rerr != nil {
				t.Fatal(rerr)
			}
			return err
		}, Voided, ""},
		{"partial refunds adding up first: refused", func(t *testing.T, svc *Service) error {
			for _, a := range []int64{100, 4800, 100} {
				if _, rerr := svc.RefundInteraction(context.Background(), refund("o1", a)); rerr != nil {
					t.Fatal(rerr)
				}
			}
			_, err := svc.Redeem(context.Background(), red("o1"))
			return err
		}, "", OrderRefunded},
		{"the route first, whatever the total: refused", func(t *testing.T, svc *Service) error {
			if ans, rerr := svc.Refund(context.Background(), "o1"); rerr != nil || ans.Status != NoReferral {
				t.Fatalf("refund: %+v %v", ans, rerr)
			}
			_, err := svc.Redeem(context.Background(), red("o1"))
			return err
		}, "", OrderRefunded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc, st, _, _ := service(t, 14*24*time.Hour)
			err := tt.steps(t, svc)
			if rf, ok := AsRefusal(err); tt.wantRefuse != "" && (!ok || rf.Reason != tt.wantRefuse) {
				t.Fatalf("redemption: %v, want %s", err, tt.wantRefuse)
			} else if tt.wantRefuse == "" && err != nil {
				t.Fatalf("redemption: %v", err)
			}
			var got string
			if g := st.orders["o1"]; g != nil && g.ReferralID != "" {
				got = st.refs[g.ReferralID].Status
			}
			if got != tt.wantStatus {
				t.Errorf("referral status %q, want %q", got, tt.wantStatus)
			}
		})
	}
}
