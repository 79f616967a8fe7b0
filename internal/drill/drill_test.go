package drill

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/localrun"
)

// params bring failed messages back after 3 s (production: 180 s) and lift the per-client click
// limit (every click comes from 127.0.0.1). With maxReceiveCount 5, a message survives about
// 15 s of failing deliveries before its DLQ: the outages below are spaced to stay under that,
// as 15 min of outage would be on AWS.
// A 2 s publish grace lets a killed issuer's publish check come within the play (production
// waits 60 s, above the functions' timeouts).
// The sweep takes clicks left unapplied after 1 s (production: 10 min): the play sweeps once
// the stack is idle, before the erasures.
var params = map[string]string{"ConsumerVisibilityTimeout": "3", "ClickLimitPerHour": "1000", "VoucherPublishGraceSeconds": "2",
	"SweepGraceSeconds": "1"}

// fault runs beside a play until ctx ends and says what it did.
type fault func(ctx context.Context, t *testing.T, st *localrun.Stack, p *Player, r *rand.Rand) string

// The drills. Faults stop when the play starts settling: a drill checks that the stack recovers
// to the clean run's state, not that it works while an emulator is down.
var drills = []struct {
	name  string
	dups  bool
	fault fault
}{
	{"dynamodb-stop-restart", false, dynamoDBOutages},
	{"sqs-stop", false, sqsOutages("stopped (connections refused)", (*localrun.Stack).StopSQS, (*localrun.Stack).StartSQS)},
	{"sqs-freeze", false, sqsOutages("frozen (calls hang)", (*localrun.Stack).PauseSQS, (*localrun.Stack).ResumeSQS)},
	{"kill-functions-mid-batch", false, kills},
	{"every-message-twice", true, nil},
}

func TestDrills(t *testing.T) {
	if testing.Short() {
		t.Skip("drills run the whole stack several times")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DRILL_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("DRILL_SEED: %v", err)
		}
	}
	t.Logf("workload seed %d (rerun with DRILL_SEED=%d)", seed, seed)
	w := Generate(seed, 40, 8)
	byRoute, asInteractions := 0, 0
	for _, r := range w.Referrers {
		for _, f := range r.Friends {
			switch {
			case f.Fraud != "" || !(f.RefundBeforeRelease || f.RefundAfterGrant):
			case f.RefundParts == 0:
				byRoute++
			default:
				asInteractions++
			}
		}
	}
	t.Logf("refunds of referred orders: %d through the route, %d as refund interactions", byRoute, asInteractions)
	base := time.Now()
	clean, res, _ := run(t, "clean", w, base, false, nil)
	t.Logf("clean run: %d interactions accepted, %d requests, %d vouchers, %d referrals accepted, %s",
		w.Accepted(), res.Requests, res.Vouchers, res.Referrals, res.Took.Round(time.Millisecond))
	if len(clean["CustomersTable"]) < 40 || len(clean["LedgerTable"]) == 0 || len(clean["ReferralsTable"]) == 0 {
		t.Fatalf("the clean run left too little to compare: %d customers, %d ledger items, %d referral items",
			len(clean["CustomersTable"]), len(clean["LedgerTable"]), len(clean["ReferralsTable"]))
	}
	// Each drill must equal the clean run, whose segment counters must be exact themselves.
	if !slices.Contains(clean["StatsTable"], countersExact) {
		t.Fatalf("the clean run's segment counters are wrong:\n%s", strings.Join(clean["StatsTable"], "\n"))
	}
	for _, d := range drills {
		t.Run(d.name, func(t *testing.T) {
			got, res, st := run(t, d.name, w, base, d.dups, d.fault)
			t.Logf("%s: %d requests, %d retried, %s", d.name, res.Requests, res.Retries, res.Took.Round(time.Millisecond))
			if diff := Diff(clean, got); len(diff) > 0 {
				t.Errorf("%d differences from the clean run:\n%s", len(diff), strings.Join(diff[:min(len(diff), 40)], "\n"))
				logTails(t, st)
			}
		})
	}
}

// run plays w on a fresh stack (with fault f beside it) and snapshots the result. The stack is
// closed; it is returned for its function logs (LogPath), kept per drill.
func run(t *testing.T, name string, w Workload, base time.Time, dups bool, f fault) (Snapshot, Result, *localrun.Stack) {
	t.Helper()
	cfg := localrun.Config{Quiet: true, ManualSchedules: true, ResourcePrefix: "drill-" + name + "-", Parameters: params,
		DynamoDBPath: filepath.Join(t.TempDir(), "dynamodb"), FaultProxies: true}
	if dups {
		cfg.Duplicates = &localrun.Duplicates{MaxDelay: 400 * time.Millisecond, Seed: w.Seed}
	}
	st, err := localrun.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start the %s stack: %v", name, err)
	}
	defer func() {
		if t.Failed() {
			logTails(t, st)
		}
		_ = st.Close()
	}()
	p := &Player{Stack: st, Now: base, Log: t.Logf, Gate: &sync.Mutex{}}
	var did string
	var wg sync.WaitGroup
	ctx, stop := context.WithCancel(context.Background())
	if f != nil {
		wg.Go(func() { did = f(ctx, t, st, p, rand.New(rand.NewPCG(w.Seed, 7))) })
	}
	res, err := p.Play(context.Background(), w)
	stop()
	wg.Wait()
	if did != "" {
		t.Logf("%s: %s", name, did)
	}
	if err != nil {
		t.Fatalf("%s: play (phase %s): %v", name, p.Phase(), err)
	}
	if dups {
		t.Logf("%s: %d batches delivered twice", name, st.DuplicatesDelivered())
		if st.DuplicatesDelivered() == 0 {
			t.Error("no batch was delivered twice")
		}
	}
	snap, err := Take(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if dlq, err := DLQDepths(context.Background(), st); err != nil || len(dlq) > 0 {
		t.Errorf("%s: dead-letter queues after the play: %v %v", name, dlq, err)
	}
	return snap, res, st
}

// active reports whether faults may still be injected: until the play settles. During the
// clicks it waits unless clicks is set: a click is recorded best effort by design (package
// click: redirected, counted in ClicksLost when its store fails), and only an SQS outage leaves
// it for the sweeper instead of losing it.
func active(ctx context.Context, p *Player, clicks bool) bool {
	for !clicks && p.Phase() == "clicks" && ctx.Err() == nil {
		_ = sleep(ctx, 50*time.Millisecond)
	}
	switch p.Phase() {
	case "settling", "done":
		return false
	}
	return ctx.Err() == nil
}

// outage runs do holding the play's gate, unless the play has reached the clicks or settles
// meanwhile: an outage never overlaps the click phase. With clicks set (SQS outages), it runs
// without the gate, into the clicks too.
func outage(ctx context.Context, p *Player, clicks bool, do func()) bool {
	if !clicks {
		p.Gate.Lock()
		defer p.Gate.Unlock()
	}
	if !active(ctx, p, clicks) || (!clicks && p.Phase() == "clicks") {
		return false
	}
	do()
	return true
}

func pause(ctx context.Context, r *rand.Rand, lo, hi time.Duration) {
	_ = sleep(ctx, lo+time.Duration(r.Int64N(int64(hi-lo))))
}

// dynamoDBOutages stops DynamoDB Local for 0.5-1.5 s (plus its restart, 2-4 s), every 4-7 s,
// until the play settles.
func dynamoDBOutages(ctx context.Context, t *testing.T, st *localrun.Stack, p *Player, r *rand.Rand) string {
	var n int
	var phases []string
	for pause(ctx, r, 500*time.Millisecond, 2*time.Second); active(ctx, p, false); pause(ctx, r, 4*time.Second, 7*time.Second) {
		down := time.Duration(500+r.IntN(1000)) * time.Millisecond
		var failed bool
		if !outage(ctx, p, false, func() {
			phases = append(phases, p.Phase())
			if err := st.StopDynamoDB(); err != nil {
				t.Errorf("stop DynamoDB Local: %v", err)
				failed = true
				return
			}
			_ = sleep(context.Background(), down)
			if err := st.RestartDynamoDB(context.Background()); err != nil {
				t.Errorf("restart DynamoDB Local: %v", err)
				failed = true
			}
		}) {
			continue
		}
		if failed {
			return ""
		}
		n++
	}
	if n == 0 {
		t.Error("DynamoDB Local was never stopped: the play ended first")
	}
	return fmt.Sprintf("DynamoDB Local stopped and restarted %d times (phases %v)", n, phases)
}

// maxSQSOutages bounds a run's SQS outages: each can cost a message one receive it never sees
// (a cut long poll still served by fauxqs), and five receives send it to its DLQ.
const maxSQSOutages = 3

// sqsOutages makes SQS unavailable for 1.5-3.5 s, every 2-4 s, at most maxSQSOutages times:
// stop begins an outage, start ends it. One overlaps the clicks (the last is kept for them, and
// any begins as they do): the clicks stored then are applied by the sweep.
func sqsOutages(what string, stop, start func(*localrun.Stack) error) fault {
	return func(ctx context.Context, t *testing.T, st *localrun.Stack, p *Player, r *rand.Rand) string {
		var n int
		var phases []string
		var clicksHit bool // an outage overlapped the clicks
		// wait pauses between outages, cut short when the clicks begin; the last outage waits
		// for them if none has overlapped them yet.
		wait := func(lo, hi time.Duration) {
			if n == maxSQSOutages-1 && !clicksHit {
				for beforeClicks(p.Phase()) && ctx.Err() == nil {
					_ = sleep(ctx, 10*time.Millisecond)
				}
				return
			}
			end := time.Now().Add(lo + time.Duration(r.Int64N(int64(hi-lo))))
			for time.Now().Before(end) && ctx.Err() == nil && (clicksHit || p.Phase() != "clicks") {
				_ = sleep(ctx, 10*time.Millisecond)
			}
		}
		for wait(time.Second, 2500*time.Millisecond); active(ctx, p, true) && n < maxSQSOutages; wait(2*time.Second, 4*time.Second) {
			down := time.Duration(1500+r.IntN(2000)) * time.Millisecond
			var failed bool
			if !outage(ctx, p, true, func() {
				began := p.Phase()
				phases = append(phases, began)
				if err := stop(st); err != nil {
					t.Errorf("SQS outage: %v", err)
					failed = true
					return
				}
				_ = sleep(context.Background(), down)
				clicksHit = clicksHit || began == "clicks" || (beforeClicks(began) && !beforeClicks(p.Phase()))
				if err := start(st); err != nil {
					t.Errorf("end the SQS outage: %v", err)
					failed = true
				}
			}) {
				continue
			}
			if failed {
				return ""
			}
			n++
		}
		if n == 0 {
			t.Error("SQS was never made unavailable: the play ended first")
		}
		return fmt.Sprintf("SQS %s %d times (phases %v; during the clicks: %v)", what, n, phases, clicksHit)
	}
}

// beforeClicks reports whether the play has not reached the clicks yet.
func beforeClicks(phase string) bool {
	switch phase {
	case "", "interactions", "vouchers", "referrals":
		return true
	}
	return false
}

// maxKills bounds the kills of one function: below the queues' maxReceiveCount (5), so that
// no message can be killed into its DLQ (which is what the DLQ is for, not what the drill tests).
const maxKills = 3

// kills SIGKILLs the processes of a function while it runs an invocation, every 0.15-0.6 s, at
// most maxKills times per function. The click redirect is left alone (best effort by design).
func kills(ctx context.Context, t *testing.T, st *localrun.Stack, p *Player, r *rand.Rand) string {
	var hit atomic.Int64
	by := map[string]int{}
	for active(ctx, p, false) {
		pause(ctx, r, 150*time.Millisecond, 600*time.Millisecond)
		var busy []string
		for _, fn := range st.Busy() {
			if by[fn] < maxKills && fn != "ClickRedirectFunction" {
				busy = append(busy, fn)
			}
		}
		if len(busy) == 0 || !active(ctx, p, false) {
			continue
		}
		fn := busy[r.IntN(len(busy))]
		if n, err := st.KillFunction(fn); err == nil && n > 0 {
			hit.Add(1)
			by[fn]++
		}
	}
	if hit.Load() < 3 {
		t.Errorf("only %d kills landed mid-invocation", hit.Load())
	}
	return fmt.Sprintf("%d kills mid-invocation: %v", hit.Load(), by)
}

// logTails logs the end of the busiest functions' logs, and every error line of all of them.
func logTails(t *testing.T, st *localrun.Stack) {
	for _, fn := range []string{"RecordInteractionFunction", "RescoreCustomerFunction", "RedeemReferralFunction", "GrantRewardFunction",
		"IssueVoucherFunction", "CampaignWorkerFunction", "ReleaseRewardsFunction", "ClickRedirectFunction"} {
		b, err := os.ReadFile(st.LogPath(fn))
		if err != nil {
			continue
		}
		var errs []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, "Runtime.") {
				errs = append(errs, tail(l, 400))
			}
		}
		t.Logf("%s: %d error lines (last 10):\n%s\nlog tail:\n%s", fn, len(errs), strings.Join(errs[max(0, len(errs)-10):], "\n"), tail(string(b), 1500))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
