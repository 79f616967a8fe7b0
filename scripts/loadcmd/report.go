package main

import (
	"fmt"
	"io"
	"time"

	"github.com/referral-engine/referral-engine/internal/loadgen"
)

// Ceiling is one bare emulator loop: how many calls per second conc clients made, and their
// latency.
type Ceiling struct {
	PerSec   float64
	P50, P99 time.Duration
}

// Bracket is a ceiling timed before and after the load: on a shared machine the two differ, and
// the ratio is taken against their mean.
type Bracket struct{ Before, After Ceiling }

// Mean is the average calls per second of the two runs.
func (b Bracket) Mean() float64 { return (b.Before.PerSec + b.After.PerSec) / 2 }

// Drift is how far the second run is from the first, as a fraction of the first.
func (b Bracket) Drift() float64 {
	if b.Before.PerSec == 0 {
		return 0
	}
	return (b.After.PerSec - b.Before.PerSec) / b.Before.PerSec
}

// Loss is the zero-loss check after the load.
type Loss struct {
	Accepted  int // 202 answers over the whole ladder
	Uncertain int // 5xx or no answer: may have been stored
	Applied   int // interactions counted in the aggregates (the warm-up's excluded)
	DLQ       map[string]int
	FnErrors  int // failed function invocations (retried by SQS, so not loss by themselves)
}

// Lost is how many accepted interactions never reached an aggregate.
func (l Loss) Lost() int { return max(0, l.Accepted-l.Applied) }

// Problems lists what makes the run fail: any accepted interaction not applied, more applied than
// could have been sent, a message in a dead-letter queue.
func (l Loss) Problems() []string {
	var out []string
	if l.Lost() > 0 {
		out = append(out, fmt.Sprintf("%d accepted interactions never applied", l.Lost()))
	}
	if l.Applied > l.Accepted+l.Uncertain {
		out = append(out, fmt.Sprintf("%d applied but only %d accepted (+%d uncertain): double counting", l.Applied, l.Accepted, l.Uncertain))
	}
	for q, n := range l.DLQ {
		if n > 0 {
			out = append(out, fmt.Sprintf("%d messages in %s", n, q))
		}
	}
	return out
}

// Report is the whole run.
type Report struct {
	Clients, Customers int
	StepTime           time.Duration
	Retries            int // runs of a step not held before it counted
	Put, Send          Bracket
	Steps              []Step
	Why                string // why the ladder stopped
	Limits             Limits
	Loss               Loss
	Wall               time.Duration
}

// Sustained is the held step of the highest target: its achieved rate, and its index (-1 when
// no step held).
func (r Report) Sustained() (float64, int) {
	at := -1
	for i, s := range r.Steps {
		if s.Held && (at < 0 || s.Target > r.Steps[at].Target) {
			at = i
		}
	}
	if at < 0 {
		return 0, -1
	}
	return r.Steps[at].Achieved, at
}

// Ratio is a/b, 0 when b is 0.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Write prints the report.
func (r Report) Write(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	ms := loadgen.MS
	p("\nload: open-loop ladder on the local stack, %d customers, %s a step; emulator ceilings with %d clients\n\n", r.Customers, r.StepTime, r.Clients)
	p("%-30s %9s %9s %9s %9s %9s\n", "emulator ceiling (bare loop)", "before/s", "after/s", "drift", "p50 ms", "p99 ms")
	// Latencies of the first run, the one before the load.
	for _, c := range []struct {
		name string
		b    Bracket
	}{{"DynamoDB PutItem", r.Put}, {"SQS SendMessage", r.Send}} {
		p("%-30s %9.0f %9.0f %8.0f%% %9.2f %9.2f\n", c.name, c.b.Before.PerSec, c.b.After.PerSec, 100*c.b.Drift(), ms(c.b.Before.P50), ms(c.b.Before.P99))
	}
	p("\n%8s %8s %8s %6s %9s %9s %9s %9s %6s  %s\n", "target/s", "sent", "ok/s", "errors", "API p50", "API p99", "lag p50", "lag p99", "probes", "held")
	for _, s := range r.Steps {
		held := "yes"
		if !s.Held {
			held = "no: " + s.Why
		}
		p("%8.0f %8d %8.0f %6d %9.1f %9.1f %9.1f %9.1f %6d  %s\n", s.Target, s.Sent, s.Achieved, s.Err4xx+s.Err5xx+s.ErrNet,
			ms(s.P50), ms(s.P99), ms(s.LagP50), ms(s.LagP99), s.LagN, held)
	}
	p("(ladder stopped: %s)\n", r.Why)
	p("held = no errors, ok/s >= %.0f%% of target, API p99 <= %s, backlog drained, lag p99 <= %s (ms columns);\n",
		100*r.Limits.MinShare, r.Limits.MaxP99, r.Limits.MaxLag)
	p("a step not held runs again, %d time(s) at most, before it counts; latency from each request's due time\n", r.Retries)

	rate, at := r.Sustained()
	p("\n")
	if at < 0 {
		p("sustained: no step held\n")
	} else {
		s := r.Steps[at]
		p("sustained: %.0f interactions/s (target %.0f/s), API p50 %.1f ms p99 %.1f ms, lag p50 %.1f ms p99 %.1f ms\n",
			rate, s.Target, ms(s.P50), ms(s.P99), ms(s.LagP50), ms(s.LagP99))
	}
	p("  / bare PutItem/s     = %.3f  (%.0f / %.0f)\n", Ratio(rate, r.Put.Mean()), rate, r.Put.Mean())
	p("  / bare SendMessage/s = %.3f  (%.0f / %.0f)\n", Ratio(rate, r.Send.Mean()), rate, r.Send.Mean())
	p("each interaction costs a PutItem and a SendMessage at the API, then the consumer's receive, reads, conditional\n")
	p("writes and delete, all sharing the emulators' CPU: the ideal ratio is well below 1; a higher one is a cheaper path.\n")

	l := r.Loss
	p("\nloss: %d accepted, %d applied, %d lost; %d uncertain (5xx/no answer); dead-letter messages %d; function errors %d (retried)\n",
		l.Accepted, l.Applied, l.Lost(), l.Uncertain, sum(l.DLQ), l.FnErrors)
	if probs := l.Problems(); len(probs) > 0 {
		for _, pr := range probs {
			p("LOSS: %s\n", pr)
		}
	} else {
		p("loss = 0\n")
	}
	p("wall time %s\n", r.Wall.Round(time.Second))
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
