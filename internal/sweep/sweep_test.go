package sweep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/metrics"
)

func click(customer, event string) interaction.Interaction {
	return interaction.Interaction{CustomerID: customer, EventID: event, Type: interaction.ReferralClick,
		Properties: interaction.Properties{Code: "ANNA-7KQ2XH"}}
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ins     []interaction.Interaction
		pending map[string][]string
		mark    map[string][]string
		orphans []string // event ids
	}{
		{"nothing", nil, nil, map[string][]string{}, nil},
		{"orphans keep their order", []interaction.Interaction{click("a", "1"), click("b", "2"), click("a", "3")}, nil,
			map[string][]string{}, []string{"1", "2", "3"}},
		{"the pending set holds it: applied, only marked", []interaction.Interaction{click("a", "1"), click("a", "2")},
			map[string][]string{"a": {"2", "9"}}, map[string][]string{"a": {"2"}}, []string{"1"}},
		{"another customer's pending set does not count", []interaction.Interaction{click("a", "1"), click("b", "1")},
			map[string][]string{"b": {"1"}}, map[string][]string{"b": {"1"}}, []string{"1"}},
	} {
		mark, orphans := Plan(tc.ins, tc.pending)
		var ids []string
		for _, in := range orphans {
			ids = append(ids, in.EventID)
		}
		if !reflect.DeepEqual(mark, tc.mark) || !slices.Equal(ids, tc.orphans) {
			t.Errorf("%s: mark %v orphans %v, want %v %v", tc.name, mark, ids, tc.mark, tc.orphans)
		}
	}
}

// stored is an in-memory interactions table with its pending index.
type stored struct {
	mu      sync.Mutex
	items   map[Key]interaction.Interaction
	at      map[Key]time.Time // pending index: received time, absent once marked
	applied map[Key]bool
	pending map[string][]string
	sent    []interaction.Envelope
	limits  []int
	sendErr error
}

func newStored() *stored {
	return &stored{items: map[Key]interaction.Interaction{}, at: map[Key]time.Time{}, applied: map[Key]bool{}, pending: map[string][]string{}}
}

func (s *stored) put(in interaction.Interaction, at time.Time) {
	k := Key{in.CustomerID, in.EventID}
	s.items[k], s.at[k] = in, at
}

func shardOf(k Key) int { return len(k.CustomerID+k.EventID) % 4 }

func (s *stored) Stale(_ context.Context, shard int, cutoff time.Time, limit int) ([]Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = append(s.limits, limit)
	var out []Key
	for k, at := range s.at {
		if shardOf(k) == shard && !at.After(cutoff) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b Key) int { return s.at[a].Compare(s.at[b]) })
	return out[:min(len(out), limit)], nil
}

func (s *stored) Unapplied(_ context.Context, keys []Key) ([]interaction.Interaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []interaction.Interaction
	for _, k := range keys {
		if in, ok := s.items[k]; ok && !s.applied[k] {
			out = append(out, in)
		}
	}
	return out, nil
}

func (s *stored) MarkApplied(_ context.Context, customerID string, ids []string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		k := Key{customerID, id}
		s.applied[k] = true
		delete(s.at, k)
	}
	return nil
}

func (s *stored) Pending(_ context.Context, customerID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending[customerID], nil
}

func (s *stored) Enqueue(_ context.Context, envs []interaction.Envelope) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sendErr != nil {
		return s.sendErr
	}
	s.sent = append(s.sent, envs...)
	return nil
}

func newSweeper(t *testing.T, s *stored, limit int) *Sweeper {
	t.Helper()
	sw, err := New(Config{Index: s, Interactions: s, Pending: s, Queue: s, Shards: 4, Grace: 10 * time.Minute, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	return sw
}

func TestRun(t *testing.T) {
	var buf bytes.Buffer
	prev := metrics.SetDefault(metrics.New(&buf, "re-SweepInteractionsFunction", nil))
	defer metrics.SetDefault(prev)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := newStored()
	s.put(click("anna", "click-1"), now.Add(-time.Hour))      // orphan
	s.put(click("anna", "click-2"), now.Add(-11*time.Minute)) // orphan, same customer: one envelope
	s.put(click("ben", "click-3"), now.Add(-20*time.Minute))  // applied, in ben's pending set: marked
	s.put(click("cleo", "click-4"), now.Add(-20*time.Minute)) // marked applied, index not yet updated
	s.put(click("anna", "click-5"), now.Add(-5*time.Minute))  // within the grace: left alone
	s.applied[Key{"cleo", "click-4"}] = true
	s.pending["ben"] = []string{"click-3"}
	res, err := newSweeper(t, s, 100).Run(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if res != (Result{Found: 4, Enqueued: 2, Marked: 1}) {
		t.Errorf("result %+v", res)
	}
	if len(s.sent) != 1 || s.sent[0].CustomerID != "anna" || len(s.sent[0].Interactions) != 2 || s.sent[0].Version != interaction.EnvelopeVersion {
		t.Errorf("sent %+v, want one envelope of anna's two clicks", s.sent)
	}
	if _, ok := s.at[Key{"ben", "click-3"}]; ok || !s.applied[Key{"ben", "click-3"}] {
		t.Error("ben's applied click left unmarked")
	}
	if !strings.Contains(buf.String(), `"InteractionsSwept":2`) {
		t.Errorf("metric: %s", buf.String())
	}
	// Enqueued again until the consumer marks them: the rescore consumer is idempotent.
	s.MarkApplied(context.Background(), "anna", []string{"click-1", "click-2"}, now)
	// cleo's entry is still found (this index never catches up) and left out again.
	if res, err := newSweeper(t, s, 100).Run(context.Background(), now.Add(6*time.Minute)); err != nil || res != (Result{Found: 2, Enqueued: 1}) {
		t.Errorf("second run: %+v %v, want click-5 enqueued", res, err)
	}
}

// A run reads at most Limit entries, spread over the shards; the next runs take the rest.
func TestRunIsBounded(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := newStored()
	for i := range 200 {
		s.put(click(fmt.Sprintf("c%d", i%7), fmt.Sprintf("click-%03d", i)), now.Add(-time.Hour+time.Duration(i)*time.Second))
	}
	sw := newSweeper(t, s, 20)
	total := 0
	for run := 0; total < 200; run++ {
		if run > 40 {
			t.Fatalf("backlog not worked off: %d of 200 after %d runs", total, run)
		}
		res, err := sw.Run(context.Background(), now)
		if err != nil || res.Found > 20 || res.Found == 0 {
			t.Fatalf("run %d: %+v %v", run, res, err)
		}
		total += res.Enqueued
		for _, e := range s.sent {
			var ids []string
			for _, in := range e.Interactions {
				ids = append(ids, in.EventID)
			}
			s.MarkApplied(context.Background(), e.CustomerID, ids, now) // the consumer
		}
		s.sent = nil
	}
	for _, l := range s.limits {
		if l != 5 {
			t.Fatalf("per-shard limits %v, want 5 (20 over 4 shards)", s.limits)
		}
	}
}

func TestRunReportsAFailedSend(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := newStored()
	s.put(click("anna", "click-1"), now.Add(-time.Hour))
	s.sendErr = errors.New("sqs down")
	if res, err := newSweeper(t, s, 100).Run(context.Background(), now); err == nil || res.Enqueued != 0 {
		t.Errorf("%+v %v, want the send's error", res, err)
	}
	if _, ok := s.at[Key{"anna", "click-1"}]; !ok {
		t.Error("an unsent orphan left the index")
	}
}

func TestNewValidates(t *testing.T) {
	s := newStored()
	ok := Config{Index: s, Interactions: s, Pending: s, Queue: s, Shards: 16, Grace: time.Minute, Limit: 10}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no index":  func(c *Config) { c.Index = nil },
		"no queue":  func(c *Config) { c.Queue = nil },
		"no grace":  func(c *Config) { c.Grace = 0 },
		"no limit":  func(c *Config) { c.Limit = 0 },
		"no shards": func(c *Config) { c.Shards = 0 },
	} {
		c := ok
		mut(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
