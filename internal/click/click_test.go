package click

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/metrics"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

type codesFunc func(ctx context.Context, code voucher.Code) (*voucher.Voucher, error)

func (f codesFunc) Get(ctx context.Context, code voucher.Code) (*voucher.Voucher, error) {
	return f(ctx, code)
}

type counter struct {
	n      map[string]int
	keys   []string
	owners []string
	err    error
}

func (c *counter) CountClick(_ context.Context, code, owner, client string, at time.Time, limit int) (bool, error) {
	if c.err != nil {
		return false, c.err
	}
	c.owners = append(c.owners, owner)
	k := code + "#" + client + "#" + at.Format("2006010215")
	c.keys = append(c.keys, k)
	c.n[k]++
	return c.n[k] <= limit, nil
}

type funnelCount map[string]int64

func (f funnelCount) Incr(_ context.Context, program, stage string, n int64) error {
	f[program+"/"+stage] += n
	return nil
}

type recorder struct {
	ins []interaction.Interaction
	err error
}

func (r *recorder) RecordParsed(_ context.Context, ins []interaction.Interaction, _ time.Time) (ingest.Result, error) {
	if r.err != nil {
		return ingest.Result{}, r.err
	}
	r.ins = append(r.ins, ins...)
	return ingest.Result{Accepted: len(ins)}, nil
}

func TestClicks(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	good, _ := voucher.NewCode("ANNA")
	expired, _ := voucher.NewCode("")
	used, _ := voucher.NewCode("")
	revoked, _ := voucher.NewCode("")
	unknown, _ := voucher.NewCode("")
	broken, _ := voucher.NewCode("")
	vouchers := map[voucher.Code]voucher.Voucher{
		good:    {Code: good, CustomerID: "anna", Program: "ambassador", Status: voucher.StatusActive, ExpiresAt: now.Add(time.Hour), UseLimit: 3},
		expired: {Code: expired, CustomerID: "anna", Status: voucher.StatusActive, ExpiresAt: now, UseLimit: 3},
		used:    {Code: used, CustomerID: "anna", Status: voucher.StatusActive, ExpiresAt: now.Add(time.Hour), UseLimit: 3, Uses: 3},
		revoked: {Code: revoked, CustomerID: "anna", Status: voucher.StatusRevoked, ExpiresAt: now.Add(time.Hour), UseLimit: 3},
	}
	reads := 0
	codes := codesFunc(func(_ context.Context, c voucher.Code) (*voucher.Voucher, error) {
		reads++
		if c == broken {
			return nil, errors.New("ddb down")
		}
		if v, ok := vouchers[c]; ok {
			return &v, nil
		}
		return nil, nil
	})
	cnt := &counter{n: map[string]int{}}
	rec := &recorder{}
	fun := funnelCount{}
	svc, err := New(Config{Codes: codes, Counter: cnt, Recorder: rec, Funnel: fun, Storefront: "https://shop.example.com/?lang=de",
		Salt: "a-salt-of-16-bytes", Limit: 2, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	base := "https://shop.example.com/?lang=de"
	withRef := base + "&ref=" + string(good)
	for _, tc := range []struct {
		name      string
		click     Click
		loc       string
		outcome   Outcome
		readsMore int
	}{
		{"good", Click{Code: string(good), ClientIP: "1.2.3.4", RequestID: "r1"}, withRef, Counted, 1},
		{"lower case", Click{Code: strings.ToLower(string(good)), ClientIP: "1.2.3.4", RequestID: "r2"}, withRef, Counted, 1},
		{"over the limit", Click{Code: string(good), ClientIP: "1.2.3.4", RequestID: "r3"}, withRef, Limited, 1},
		{"another client", Click{Code: string(good), ClientIP: "5.6.7.8", RequestID: "r4"}, withRef, Counted, 1},
		{"robot", Click{Code: string(good), ClientIP: "9.9.9.9", UserAgent: "WhatsApp/2.23.20", RequestID: "r5"}, withRef, Robot, 1},
		{"malformed", Click{Code: "hello", ClientIP: "1.2.3.4"}, base, Malformed, 0},
		{"typo", Click{Code: string(good[:len(good)-1]) + "2", ClientIP: "1.2.3.4"}, base, Malformed, 0},
		{"unknown", Click{Code: string(unknown)}, base, Unknown, 1},
		{"expired", Click{Code: string(expired)}, base, Unusable, 1},
		{"at its limit", Click{Code: string(used)}, base, Unusable, 1},
		{"revoked", Click{Code: string(revoked)}, base, Unusable, 1},
		{"store error: redirected with ref all the same", Click{Code: string(broken)}, base + "&ref=" + string(broken), Failed, 1},
		{"campaign tags", Click{Code: "nope", Query: url.Values{"utm_source": {"mail"}, "ref": {"X"}}}, base + "&utm_source=mail", Malformed, 0},
	} {
		before := reads
		loc, out := svc.Handle(context.Background(), tc.click)
		if loc != tc.loc || out != tc.outcome || reads-before != tc.readsMore {
			t.Errorf("%s: %s %s (%d reads), want %s %s (%d)", tc.name, loc, out, reads-before, tc.loc, tc.outcome, tc.readsMore)
		}
	}
	if len(fun) != 1 || fun["ambassador/clicks"] != 3 {
		t.Errorf("funnel %v, want 3 ambassador clicks", fun)
	}
	if len(rec.ins) != 3 {
		t.Fatalf("recorded %d clicks, want 3: %+v", len(rec.ins), rec.ins)
	}
	in := rec.ins[0]
	if in.EventID != "click-r1" || in.CustomerID != "anna" || in.Type != interaction.ReferralClick || in.Properties.Code != string(good) || !in.OccurredAt.Equal(now) {
		t.Errorf("interaction %+v", in)
	}
	for _, o := range cnt.owners {
		if o != "anna" {
			t.Errorf("counter owner %q, want the code's customer (erasure finds the counter by it)", o)
		}
	}
	for _, k := range cnt.keys {
		if strings.Contains(k, "1.2.3.4") || strings.Contains(k, "5.6.7.8") {
			t.Errorf("counter key %s holds an IP", k)
		}
	}
	if svc.ClientHash("1.2.3.4") == svc.ClientHash("1.2.3.5") || len(svc.ClientHash("1.2.3.4")) != 32 {
		t.Error("client hash")
	}
	other, _ := New(Config{Codes: codes, Counter: cnt, Recorder: rec, Storefront: base, Salt: "another-salt-16-bytes", Limit: 2})
	if other.ClientHash("1.2.3.4") == svc.ClientHash("1.2.3.4") {
		t.Error("the salt does not change the hash")
	}

	// Counter and recorder failures still redirect with ref.
	cnt.err = errors.New("throttled")
	if loc, out := svc.Handle(context.Background(), Click{Code: string(good), ClientIP: "7.7.7.7"}); loc != withRef || out != Failed {
		t.Errorf("counter down: %s %s", loc, out)
	}
	cnt.err, rec.err = nil, errors.New("sqs down")
	if loc, out := svc.Handle(context.Background(), Click{Code: string(good), ClientIP: "8.8.8.8"}); loc != withRef || out != Failed {
		t.Errorf("recorder down: %s %s", loc, out)
	}
}

func TestNewValidates(t *testing.T) {
	codes := codesFunc(func(context.Context, voucher.Code) (*voucher.Voucher, error) { return nil, nil })
	ok := Config{Codes: codes, Counter: &counter{}, Recorder: &recorder{}, Storefront: "https://shop.example.com", Salt: "0123456789abcdef", Limit: 1}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no codes":       func(c *Config) { c.Codes = nil },
		"no recorder":    func(c *Config) { c.Recorder = nil },
		"relative URL":   func(c *Config) { c.Storefront = "/shop" },
		"ftp URL":        func(c *Config) { c.Storefront = "ftp://shop" },
		"short salt":     func(c *Config) { c.Salt = "short" },
		"no limit":       func(c *Config) { c.Limit = 0 },
		"javascript URL": func(c *Config) { c.Storefront = "javascript:alert(1)" },
	} {
		c := ok
		mut(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// A store that hangs does not hold the shopper: the redirect comes after Budget, with ref, and
// the lost click is counted.
func TestHungStoreRedirectsWithinBudget(t *testing.T) {
	var buf bytes.Buffer
	prev := metrics.SetDefault(metrics.New(&buf, "re-ClickRedirectFunction", nil))
	defer metrics.SetDefault(prev)
	code, err := voucher.NewCode("ANNA")
	if err != nil {
		t.Fatal(err)
	}
	hung := codesFunc(func(ctx context.Context, _ voucher.Code) (*voucher.Voucher, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	svc, err := New(Config{Codes: hung, Counter: &counter{n: map[string]int{}}, Recorder: &recorder{}, Storefront: "https://shop.example.com",
		Salt: "a-salt-of-16-bytes", Limit: 2, Budget: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	loc, out := svc.Handle(context.Background(), Click{Code: string(code), ClientIP: "1.2.3.4", RequestID: "r1"})
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("the redirect waited %s on a hung store", took)
	}
	if out != Failed || !strings.Contains(loc, "ref="+string(code)) {
		t.Errorf("%s %s, want a redirect with ref", loc, out)
	}
	if !strings.Contains(buf.String(), `"ClicksLost":1`) {
		t.Errorf("no ClicksLost metric: %s", buf.String())
	}
}

// hungQueue stores, then waits on the queue until its context ends, as ingest does when SQS
// hangs: the click is stored, not enqueued.
type hungQueue struct{ recorder }

func (r *hungQueue) RecordParsed(ctx context.Context, ins []interaction.Interaction, _ time.Time) (ingest.Result, error) {
	r.ins = append(r.ins, ins...)
	<-ctx.Done()
	return ingest.Result{}, fmt.Errorf("enqueue for rescoring: %w: %w", ingest.ErrNotEnqueued, ctx.Err())
}

// ctxFunnel counts only while its context is alive, as the DynamoDB counter does.
type ctxFunnel struct{ funnelCount }

func (f ctxFunnel) Incr(ctx context.Context, program, stage string, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.funnelCount.Incr(ctx, program, stage, n)
}

// A click stored while the queue hangs is left to the sweeper: counted in the funnel (the last
// fifth of the budget is kept for it), not lost, and the redirect still comes within Budget.
func TestHungQueueLeavesTheClickToTheSweeper(t *testing.T) {
	var buf bytes.Buffer
	prev := metrics.SetDefault(metrics.New(&buf, "re-ClickRedirectFunction", nil))
	defer metrics.SetDefault(prev)
	code, err := voucher.NewCode("ANNA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	codes := codesFunc(func(context.Context, voucher.Code) (*voucher.Voucher, error) {
		return &voucher.Voucher{Code: code, CustomerID: "anna", Program: "ambassador", Status: voucher.StatusActive, ExpiresAt: now.Add(time.Hour), UseLimit: 3}, nil
	})
	rec, fun := &hungQueue{}, ctxFunnel{funnelCount{}}
	const budget = time.Second // its last fifth (200 ms) is ample for the funnel, even on a loaded machine
	svc, err := New(Config{Codes: codes, Counter: &counter{n: map[string]int{}}, Recorder: rec, Funnel: fun, Storefront: "https://shop.example.com",
		Salt: "a-salt-of-16-bytes", Limit: 2, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	loc, out := svc.Handle(context.Background(), Click{Code: string(code), ClientIP: "1.2.3.4", RequestID: "r1"})
	if took := time.Since(began); took > budget+500*time.Millisecond {
		t.Errorf("the redirect waited %s on a hung queue", took)
	}
	if out != Deferred || !strings.Contains(loc, "ref="+string(code)) || len(rec.ins) != 1 {
		t.Errorf("%s %s (%d stored), want a deferred click redirected with ref", loc, out, len(rec.ins))
	}
	if fun.funnelCount["ambassador/clicks"] != 1 {
		t.Errorf("funnel %v, want the click counted", fun.funnelCount)
	}
	if strings.Contains(buf.String(), "ClicksLost") {
		t.Errorf("a stored click counted lost: %s", buf.String())
	}
}
