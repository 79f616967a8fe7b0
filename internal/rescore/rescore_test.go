package rescore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/scoring"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// memory is an in-memory model of the two tables with the same conditional semantics as the
// DynamoDB adapters (which run the same scenarios against DynamoDB Local in dynamostore).
type memory struct {
	mu       sync.Mutex
	customer *aggregate.Customer
	rev      Revision
	stored   map[string]bool // event id -> applied mark
	// crash, when set, fails the named step once.
	crash string
	// counters are the segment counters as Put moves them ("<segment>" and "<segment>/<sub>");
	// badMembership records a Put whose prev.Membership is not what is stored.
	counters      map[string]int
	badMembership []string
}

func newMemory(ids ...string) *memory {
	m := &memory{stored: map[string]bool{}, counters: map[string]int{}}
	for _, id := range ids {
		m.stored[id] = false
	}
	return m
}

var errCrash = errors.New("simulated crash")

func (m *memory) fail(step string) bool {
	if m.crash == step {
		m.crash = ""
		return true
	}
	return false
}

func (m *memory) Get(_ context.Context, id string) (*aggregate.Customer, Revision, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.customer == nil {
		return aggregate.New(id), Revision{}, nil
	}
	c := *m.customer
	c.Spend = map[string]aggregate.Money{}
	for k, v := range m.customer.Spend {
		c.Spend[k] = v
	}
	return &c, Revision{Exists: true, Version: m.rev.Version, Pending: slices.Clone(m.rev.Pending), Outbox: slices.Clone(m.rev.Outbox), VoucherAsks: slices.Clone(m.rev.VoucherAsks),
		Membership: MembershipOf(m.customer)}, nil
}

func (m *memory) Put(_ context.Context, c *aggregate.Customer, prev, next Revision, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail("before-put") {
		return errCrash
	}
	if prev.Exists != (m.customer != nil) || prev.Version != m.rev.Version {
		return apperr.ErrConcurrentUpdate
	}
	stored := segment.Membership{}
	if m.customer != nil {
		stored = MembershipOf(m.customer)
	}
	if !reflect.DeepEqual(prev.Membership, stored) && (prev.Membership.Segment != "" || stored.Segment != "") {
		m.badMembership = append(m.badMembership, fmt.Sprintf("%v, stored %v", prev.Membership, stored))
	}
	for _, d := range segment.CounterDeltas(prev.Membership, MembershipOf(c)) {
		m.counters[d.Segment] += d.Members
		for sub, n := range d.SubSegments {
			m.counters[d.Segment+"/"+sub] += n
		}
	}
	m.customer, m.rev = c, Revision{Exists: true, Version: prev.Version + 1, Pending: next.Pending, Outbox: next.Outbox, VoucherAsks: next.VoucherAsks}
	return nil
}

func (m *memory) Marks(_ context.Context, _ string, ids []string) (map[string]Mark, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]Mark{}
	for _, id := range ids {
		applied, ok := m.stored[id]
		switch {
		case !ok:
			out[id] = Missing
		case applied:
			out[id] = Applied
		default:
			out[id] = Unapplied
		}
	}
	return out, nil
}

func (m *memory) MarkApplied(_ context.Context, _ string, ids []string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail("mark") {
		return errCrash
	}
	for _, id := range ids {
		if _, ok := m.stored[id]; ok {
			m.stored[id] = true
		}
	}
	return nil
}

func visits(ids ...string) []interaction.Interaction {
	out := make([]interaction.Interaction, len(ids))
	d := int64(60)
	for i, id := range ids {
		out[i] = interaction.Interaction{EventID: id, CustomerID: "c1", Type: interaction.Visit,
			OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Properties: interaction.Properties{DurationSeconds: &d}}
	}
	return out
}

func TestApplyExactlyOnce(t *testing.T) {
	cases := []struct {
		name       string
		deliveries [][]string // each a batch delivered to Apply, in order
		crashes    []string   // crash step before each delivery ("" none)
		stored     []string
		wantVisits int
	}{
		{"one delivery", [][]string{{"a", "b"}}, nil, []string{"a", "b"}, 2},
		{"same batch twice", [][]string{{"a", "b"}, {"a", "b"}}, nil, []string{"a", "b"}, 2},
		{"duplicate inside a batch", [][]string{{"a", "a", "b"}}, nil, []string{"a", "b"}, 2},
		{"overlapping batches", [][]string{{"a", "b"}, {"b", "c"}, {"a", "c", "d"}}, nil, []string{"a", "b", "c", "d"}, 4},
		{"redelivery long after: pending already marked and cleared", [][]string{{"a"}, {"b"}, {"c"}, {"a"}}, nil, []string{"a", "b", "c"}, 3},
		{"crash before the write: retried delivery applies", [][]string{{"a"}, {"a"}}, []string{"before-put", ""}, []string{"a"}, 1},
		{"crash while marking pending: nothing lost or doubled", [][]string{{"a"}, {"b"}, {"b"}, {"a", "b"}}, []string{"", "mark", "", ""}, []string{"a", "b"}, 2},
		{"erased interaction is not applied", [][]string{{"a", "gone"}}, nil, []string{"a"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemory(tc.stored...)
			svc, err := New(m, m, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i, batch := range tc.deliveries {
				if i < len(tc.crashes) {
					m.crash = tc.crashes[i]
				}
				_, err := svc.Apply(context.Background(), "c1", visits(batch...))
				if err != nil && !errors.Is(err, errCrash) {
					t.Fatalf("delivery %d: %v", i, err)
				}
			}
			if m.customer == nil || m.customer.Visits != tc.wantVisits {
				t.Fatalf("visits = %v, want %d", m.customer, tc.wantVisits)
			}
		})
	}
}

func TestApplyConcurrentConsumers(t *testing.T) {
	var ids []string
	for i := range 30 {
		ids = append(ids, fmt.Sprintf("e%02d", i))
	}
	m := newMemory(ids...)
	svc, _ := New(m, m, Options{})
	svc.maxAttempts = 100
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each consumer gets an overlapping slice of the same events.
			batch := ids[g%10 : g%10+20]
			if _, err := svc.Apply(context.Background(), "c1", visits(batch...)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m.customer.Visits != 29 { // e00..e28 are covered by the slices
		t.Fatalf("visits = %d, want 29", m.customer.Visits)
	}
}

func TestApplyRefusesAnotherCustomersInteraction(t *testing.T) {
	m := newMemory("a")
	svc, _ := New(m, m, Options{})
	ins := visits("a")
	ins[0].CustomerID = "c2"
	if _, err := svc.Apply(context.Background(), "c1", ins); err == nil {
		t.Fatal("applied an interaction of another customer")
	}
}

// visitsEvaluator puts a customer in "busy" from 3 visits on.
type visitsEvaluator struct{}

func (visitsEvaluator) Evaluate(c *aggregate.Customer, _ *scoring.Signals, now time.Time) scoring.Result {
	seg := "quiet"
	if c.Visits >= 3 {
		seg = "busy"
	}
	return scoring.Result{Segment: seg, At: now}
}

type sink struct {
	fail     int // fail this many calls first
	recorded []string
}

func (s *sink) Record(_ context.Context, ch segment.Change) error {
	if s.fail > 0 {
		s.fail--
		return errCrash
	}
	s.recorded = append(s.recorded, ch.From+">"+ch.To)
	return nil
}

// A segment change is written with the aggregate and published after; a consumer that dies
// before publishing leaves it in the outbox, and the next delivery publishes it.
func TestSegmentChangesGoOutThroughTheOutbox(t *testing.T) {
	m := newMemory("a", "b", "c", "d")
	sk := &sink{}
	svc, _ := New(m, m, Options{Evaluator: visitsEvaluator{}, Changes: sk})
	ctx := context.Background()
	if _, err := svc.Apply(ctx, "c1", visits("a")); err != nil {
		t.Fatal(err)
	}
	sk.fail = 1 // dies publishing quiet>busy
	if _, err := svc.Apply(ctx, "c1", visits("b", "c")); !errors.Is(err, errCrash) {
		t.Fatalf("want the simulated crash, got %v", err)
	}
	if len(m.rev.Outbox) != 1 || m.customer.Segment != "busy" {
		t.Fatalf("outbox %v segment %s", m.rev.Outbox, m.customer.Segment)
	}
	// Redelivery of the same batch: nothing new to apply, but the outbox goes out.
	if _, err := svc.Apply(ctx, "c1", visits("b", "c")); err != nil {
		t.Fatal(err)
	}
	if len(m.rev.Outbox) != 0 || m.customer.Visits != 3 {
		t.Fatalf("outbox %v visits %d", m.rev.Outbox, m.customer.Visits)
	}
	if want := []string{">quiet", "quiet>busy"}; !slices.Equal(sk.recorded, want) {
		t.Fatalf("recorded %v, want %v", sk.recorded, want)
	}
	// A review with nothing changed records nothing more.
	if _, err := svc.Review(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if len(sk.recorded) != 2 {
		t.Fatalf("recorded %v", sk.recorded)
	}
	// Through the crash, the redelivery and the outbox's clearing write, the counters moved
	// once per change, from the membership each write replaced.
	if want := map[string]int{"quiet": 0, "busy": 1}; !maps.Equal(m.counters, want) || m.badMembership != nil {
		t.Fatalf("counters %v (want %v), wrong previous memberships %v", m.counters, want, m.badMembership)
	}
}

type asks struct {
	fail int
	sent []string
}

func (a *asks) RequestVoucher(_ context.Context, customerID, reason, reviewID string) error {
	if a.fail > 0 {
		a.fail--
		return errCrash
	}
	a.sent = append(a.sent, customerID+"/"+reason+"/"+reviewID)
	return nil
}

// The review-tool link survives a consumer that dies before asking for the voucher.
func TestFiveStarVoucherAskSurvivesACrash(t *testing.T) {
	m := newMemory("r1", "r2")
	a := &asks{fail: 1}
	svc, _ := New(m, m, Options{Vouchers: a})
	five, three := int64(5), int64(3)
	review := func(id string, stars *int64) interaction.Interaction {
		return interaction.Interaction{EventID: id, CustomerID: "c1", Type: interaction.Review, OccurredAt: time.Now(),
			Properties: interaction.Properties{Stars: stars, ReviewID: "rev-" + id}}
	}
	ctx := context.Background()
	if _, err := svc.Apply(ctx, "c1", []interaction.Interaction{review("r1", &five), review("r2", &three)}); !errors.Is(err, errCrash) {
		t.Fatalf("want the simulated crash, got %v", err)
	}
	if len(m.rev.VoucherAsks) != 1 {
		t.Fatalf("asks kept %v", m.rev.VoucherAsks)
	}
	if _, err := svc.Apply(ctx, "c1", []interaction.Interaction{review("r1", &five), review("r2", &three)}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"c1/five_star_review/rev-r1"}; !slices.Equal(a.sent, want) || len(m.rev.VoucherAsks) != 0 || m.customer.FiveStarReviews() != 1 {
		t.Fatalf("sent %v, kept %v, five-star reviews %d", a.sent, m.rev.VoucherAsks, m.customer.FiveStarReviews())
	}
}
