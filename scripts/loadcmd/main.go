// Command loadcmd (scripts/load, make bench-load) finds the interaction rate the local stack
// sustains: it times the emulators' own ceiling (bare PutItem and SendMessage loops), climbs a
// ladder of open-loop rates through POST /v1/interactions until a step is not held, checks that
// every accepted interaction reached its customer's aggregate and that the dead-letter queues
// are empty, and prints the sustained rate as a ratio to the ceiling. Everything listens on
// 127.0.0.1 and the run is bounded in interactions and time; it exits 1 on any loss.
//
//	scripts/load [-c 16] [-customers 200] [-start 50] [-factor 1.5] [-step 4s] [-max-n 40000] [-max-duration 110s]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/referral-engine/referral-engine/internal/loadgen"
	"github.com/referral-engine/referral-engine/internal/localrun"
)

type options struct {
	clients, customers, probes, maxN, inFlight, refine, retries int
	start, factor, maxRate                                      float64
	step, ceiling, maxDuration                                  time.Duration
	limits                                                      Limits
}

func main() {
	var o options
	flag.IntVar(&o.clients, "c", 16, "clients of the ceiling loops, and processes per function")
	flag.IntVar(&o.customers, "customers", 200, "customers the interactions are spread over")
	flag.IntVar(&o.probes, "probes", 16, "of which only receive lag probes, one in flight each")
	flag.IntVar(&o.inFlight, "in-flight", 256, "open-loop requests outstanding at most")
	flag.Float64Var(&o.start, "start", 50, "first target rate (interactions/s)")
	flag.Float64Var(&o.factor, "factor", 1.5, "each step's rate over the last")
	flag.Float64Var(&o.maxRate, "max-rate", 5000, "last target rate")
	flag.DurationVar(&o.step, "step", 4*time.Second, "time at each rate")
	flag.DurationVar(&o.ceiling, "ceiling", 3*time.Second, "time of each bare emulator loop")
	flag.IntVar(&o.refine, "refine", 2, "steps between the last rate held and the first not held")
	flag.IntVar(&o.retries, "retries", 1, "runs of a step not held before it counts as not held")
	flag.IntVar(&o.maxN, "max-n", 40000, "interactions the ladder sends at most")
	flag.DurationVar(&o.maxDuration, "max-duration", 110*time.Second, "the run at most once the stack is up")
	flag.DurationVar(&o.limits.MaxP99, "p99", 250*time.Millisecond, "API p99 a held step stays within")
	flag.DurationVar(&o.limits.MaxLag, "lag", 2*time.Second, "end-to-end lag p99 a held step stays within")
	flag.Parse()
	o.limits.MinShare = 0.95
	if o.probes >= o.customers || o.clients < 1 || o.step <= 0 {
		fmt.Fprintln(os.Stderr, "load: need -probes < -customers, -c >= 1, -step > 0")
		os.Exit(2)
	}
	r, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	r.Write(os.Stdout)
	if _, at := r.Sustained(); at < 0 || len(r.Loss.Problems()) > 0 { // no figure, or loss
		os.Exit(1)
	}
}

func run(o options) (Report, error) {
	started := time.Now()
	r := Report{Clients: o.clients, Customers: o.customers, StepTime: o.step, Retries: o.retries, Limits: o.limits}

	fmt.Println("starting the local stack on 127.0.0.1 (emulators, real function binaries)...")
	// Lambda would scale the functions with the load; -c processes each is the local stand-in.
	// Its own bound: a first run builds every function, and that is no part of the measurement.
	startCtx, cancelStart := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancelStart()
	st, err := localrun.Start(startCtx, localrun.Config{Quiet: true, ManualSchedules: true, ResourcePrefix: "load-", MaxInstances: o.clients})
	if err != nil {
		return r, err
	}
	defer st.Close()
	for _, u := range []string{st.APIURL, st.DynamoDBEndpoint, st.SQSEndpoint} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			return r, fmt.Errorf("%s is not on the loopback interface", u)
		}
	}
	fmt.Printf("stack up in %s\n", time.Since(started).Round(100*time.Millisecond))
	began := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), began.Add(o.maxDuration))
	defer cancel()
	interactions, customersTable, rescoreQueue := st.Resources["InteractionsTable"], st.Resources["CustomersTable"], st.Resources["RescoreQueue"]
	now := time.Now()

	scratch, err := st.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("load-scratch")})
	if err != nil {
		return r, err
	}
	// The ceiling's items belong to customers of their own: the consumer never meets them.
	ceil := func(i int) map[string]any {
		return loadgen.Purchase(fmt.Sprintf("ceil-%d", i), fmt.Sprintf("ceil-cust-%d", i%o.customers), "ord", now)
	}
	ceilings := func(d time.Duration) (put, send Ceiling) {
		put = ceiling(ctx, o.clients, d, func(i int) error {
			return loadgen.PutItem(ctx, st.DynamoDB, interactions, ceil(i))
		})
		send = ceiling(ctx, o.clients, d, func(i int) error {
			body, _ := json.Marshal(ceil(i))
			_, err := st.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: scratch.QueueUrl, MessageBody: aws.String(string(body))})
			return err
		})
		// Nobody reads the scratch queue: empty it so the next loop meets the same emulator.
		_, _ = st.SQS.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: scratch.QueueUrl})
		return put, send
	}
	fmt.Println("warming up, then timing the emulators' ceiling...")
	// A throwaway round first: the JVM's JIT and the emulators' first allocations are not the ceiling.
	_, _ = ceilings(o.ceiling)
	r.Put.Before, r.Send.Before = ceilings(o.ceiling)

	// The customers exist before the ladder (steady state: a first segmentation is a one-time cost).
	_, _ = loadgen.Closed(ctx, o.customers, o.clients, func(i int) error {
		return loadgen.Post(ctx, st.APIURL, st.APIKey, loadgen.Purchase(fmt.Sprintf("warm-%d", i), customer(i), fmt.Sprintf("ord-w%d", i), now))
	})
	if got := loadgen.WaitApplied(ctx, st.DynamoDB, customersTable, "load-cust-", o.customers, 30*time.Second); got != o.customers {
		return r, fmt.Errorf("warm-up: %d of %d interactions applied", got, o.customers)
	}
	loadgen.WaitIdle(ctx, st.SQS, rescoreQueue, 10*time.Second)

	probeIDs := make([]string, o.probes)
	for i := range probeIDs {
		probeIDs[i] = customer(i)
	}
	pr := newProber(st.DynamoDB, customersTable, probeIDs, 1)
	pctx, stopProbes := context.WithCancel(ctx)
	defer stopProbes()
	go pr.run(pctx)

	d := &driver{st: st, pr: pr, o: o, now: now, queue: rescoreQueue, drainLimit: o.limits.MaxLag + 2*time.Second}
	// What the run keeps after the ladder: the second ceiling and the loss check.
	d.climb(ctx, &r, began.Add(o.maxDuration).Add(-2*o.ceiling-20*time.Second))
	stopProbes()

	// Zero loss: every accepted interaction reaches its aggregate (bounded by what is left of
	// -max-duration), nothing sits in a dead-letter queue.
	fmt.Println("checking that every accepted interaction was applied...")
	left := time.Until(began.Add(o.maxDuration)) - 2*o.ceiling - 5*time.Second
	r.Loss.Applied = loadgen.WaitApplied(ctx, st.DynamoDB, customersTable, "load-cust-", o.customers+r.Loss.Accepted, max(left, 5*time.Second)) - o.customers
	if loadgen.WaitIdle(ctx, st.SQS, rescoreQueue, 5*time.Second) && r.Loss.Uncertain > 0 {
		// Uncertain requests may land after the sum first matched: count once more when idle.
		r.Loss.Applied = loadgen.WaitApplied(ctx, st.DynamoDB, customersTable, "load-cust-", 0, time.Second) - o.customers
	}
	r.Loss.DLQ = map[string]int{}
	for id, url := range st.Resources {
		if strings.HasSuffix(id, "DLQ") {
			n, err := loadgen.QueueDepth(ctx, st.SQS, url)
			if err != nil {
				return r, err
			}
			r.Loss.DLQ[id] = n
		}
	}
	for _, fs := range st.Stats() {
		r.Loss.FnErrors += fs.Errors
	}

	fmt.Println("timing the emulators' ceiling again...")
	r.Put.After, r.Send.After = ceilings(o.ceiling)
	r.Wall = time.Since(started)
	return r, nil
}

// ceiling runs f on conc closed-loop clients for d.
func ceiling(ctx context.Context, conc int, d time.Duration, f func(i int) error) Ceiling {
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	lat, wall := loadgen.Closed(cctx, 1<<30, conc, f)
	return Ceiling{PerSec: float64(len(lat)) / wall.Seconds(), P50: loadgen.Percentile(lat, 50), P99: loadgen.Percentile(lat, 99)}
}

// driver runs the ladder's steps.
type driver struct {
	st         *localrun.Stack
	pr         *prober
	o          options
	now        time.Time
	queue      string // the rescore queue, whose backlog is the consumer's
	drainLimit time.Duration
	seq        atomic.Int64 // interactions sent, for unique event ids
}

// Every probeEvery-th interaction is a probe when a probe customer is free.
const probeEvery = 8

// climb runs the ladder into r.Steps: rates up from o.start until one is not held, then up to
// o.refine rates between the last held and the first not held. No step starts that could not end
// (drain included) by deadline, or that would pass o.maxN interactions.
func (d *driver) climb(ctx context.Context, r *Report, deadline time.Time) {
	o := d.o
	budget := o.maxN
	ladder := Ladder(o.start, o.factor, o.maxRate)
	var held, failed float64 // the highest rate held, the lowest not held
	refinements := o.refine
	r.Why = "reached -max-rate"
	for {
		var rate float64
		if failed == 0 {
			if len(ladder) == 0 {
				return
			}
			rate, ladder = ladder[0], ladder[1:]
		} else {
			m, ok := Between(held, failed)
			if !ok || refinements == 0 {
				return
			}
			rate = m
			refinements--
		}
		var s Step
		// A step not held runs again before it counts: on a shared machine one burst of
		// someone else's work can sink a step the stack holds.
		for attempt := 0; attempt <= o.retries; attempt++ {
			n := int(rate * o.step.Seconds())
			if n > budget {
				r.Why = stopEarly(r.Why, failed, fmt.Sprintf("the next step (%d interactions) would pass -max-n", n))
				return
			}
			if time.Until(deadline) < o.step+d.drainLimit {
				r.Why = stopEarly(r.Why, failed, "the next step would pass -max-duration")
				return
			}
			budget -= n
			fmt.Printf("step %.0f/s...\n", rate)
			s = d.step(ctx, rate)
			r.Steps = append(r.Steps, s)
			r.Loss.Accepted += s.Accepted
			r.Loss.Uncertain += s.Err5xx + s.ErrNet
			if s.Held {
				break
			}
		}
		switch {
		case s.Held:
			held = rate
		case failed == 0:
			r.Why = fmt.Sprintf("%.0f/s not held (%s); then up to %d rates between it and the last held", rate, s.Why, o.refine)
			failed = rate
		default:
			failed = min(failed, rate)
		}
	}
}

// stopEarly keeps why the ladder turned (once a rate failed) and adds why it stopped before the end.
func stopEarly(why string, failed float64, reason string) string {
	if failed == 0 {
		return reason
	}
	return why + "; stopped early: " + reason
}

// step sends rate interactions/s for o.step, waits for the backlog to drain and judges the step.
func (d *driver) step(ctx context.Context, rate float64) Step {
	o := d.o
	s := Step{Target: rate}
	var e4, e5, enet atomic.Int64
	res := loadgen.Open(ctx, rate, o.step, o.inFlight, func(k int) error {
		i := int(d.seq.Add(1))
		c, probe := "", false
		if k%probeEvery == 0 {
			c, probe = d.pr.take()
		}
		if !probe {
			c = customer(o.probes + i%(o.customers-o.probes))
		}
		body := loadgen.Purchase(fmt.Sprintf("load-%d", i), c, fmt.Sprintf("ord-%d", i), d.now.Add(-time.Duration(i)*time.Second))
		err := loadgen.Post(ctx, d.st.APIURL, d.st.APIKey, body)
		var se *loadgen.StatusError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &se) && se.Code < 500:
			e4.Add(1) // refused: nothing stored, so a probe's count is still right
		case errors.As(err, &se):
			e5.Add(1)
		default:
			enet.Add(1)
		}
		if e4.Load()+e5.Load()+enet.Load() <= 3 {
			fmt.Fprintln(os.Stderr, "error:", err)
		}
		if probe && (se == nil || se.Code >= 500) {
			d.pr.retire(c)
		} else if probe {
			d.pr.giveBack(c)
		}
		return err
	})
	s.Sent, s.Accepted = res.Sent, len(res.OK)
	s.Err4xx, s.Err5xx, s.ErrNet = int(e4.Load()), int(e5.Load()), int(enet.Load())
	// Over the time spent sending, not until the last answer: the tail's latency is the p99's
	// business, the rate is whether the requests could leave on time.
	s.Achieved = float64(s.Accepted) / max(res.Sending+time.Duration(float64(time.Second)/rate), o.step).Seconds()
	s.P50, s.P99 = loadgen.Percentile(res.OK, 50), loadgen.Percentile(res.OK, 99)

	// The step's backlog drains before the next one, so each step starts from an idle stack.
	s.Drained = drain(ctx, d.pr, d.st.SQS, d.queue, d.drainLimit)
	lags := d.pr.step(!s.Drained)
	s.LagN, s.LagP50, s.LagP99 = len(lags), loadgen.Percentile(lags, 50), loadgen.Percentile(lags, 99)
	s.Held, s.Why = Judge(s, o.limits)
	if !s.Drained { // or the next step measures this one's backlog
		loadgen.WaitIdle(ctx, d.st.SQS, d.queue, 10*time.Second)
	}
	return s
}

func customer(i int) string { return fmt.Sprintf("load-cust-%d", i) }

// drain waits until every probe is applied and the rescore queue is empty, or limit passes.
func drain(ctx context.Context, pr *prober, q *sqs.Client, url string, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(50 * time.Millisecond) {
		if pr.pending() > 0 {
			continue
		}
		if n, err := loadgen.QueueDepth(ctx, q, url); err == nil && n == 0 {
			return true
		}
	}
	return false
}
