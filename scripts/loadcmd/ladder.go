package main

import (
	"fmt"
	"math"
	"time"
)

// Ladder is the open-loop target rates, start, start*factor, ... up to max (interactions/s):
// geometric, so a few steps cover two orders of magnitude and the last held step is within a
// factor of the true limit.
func Ladder(start, factor, max float64) []float64 {
	if start <= 0 || factor <= 1 {
		return nil
	}
	var out []float64
	for r := start; r <= max; r *= factor {
		out = append(out, math.Round(r))
	}
	return out
}

// Between is the next rate to try once the ladder has found a held rate and a higher one not
// held: their geometric mean, while the two are more than 10% apart (closer than that the
// machine's noise decides).
func Between(held, failed float64) (float64, bool) {
	if held <= 0 || failed/held < 1.1 {
		return 0, false
	}
	m := math.Round(math.Sqrt(held * failed))
	if m <= held || m >= failed {
		return 0, false
	}
	return m, true
}

// Step is what one rate of the ladder measured.
type Step struct {
	Target   float64 // interactions/s asked for
	Sent     int
	Accepted int     // 202 answers
	Err4xx   int     // refused: the stack said no and stored nothing
	Err5xx   int     // failed server-side (the interaction may or may not be stored)
	ErrNet   int     // no answer (the same uncertainty)
	Achieved float64 // accepted per second of the step's wall time
	// API latency from each request's due time (open loop): queueing behind a slow stack counts.
	P50, P99 time.Duration
	// End-to-end lag, from sending to the interaction being counted in its customer's aggregate,
	// over the step's probe interactions (unapplied probes count with their age when given up on).
	LagP50, LagP99 time.Duration
	LagN           int
	Drained        bool // the rescore queue emptied and every probe applied within the drain limit

	Held bool   // by Judge
	Why  string // why not held
}

// Limits say when a step counts as held.
type Limits struct {
	MinShare float64       // achieved/target at least this (0.95)
	MaxP99   time.Duration // API p99 at most this
	MaxLag   time.Duration // end-to-end lag p99 at most this
}

// Judge says whether the stack held the step's rate, and if not, the first reason why.
func Judge(s Step, l Limits) (bool, string) {
	switch {
	case s.Err5xx+s.ErrNet+s.Err4xx > 0:
		return false, fmt.Sprintf("errors: %d 5xx, %d 4xx, %d no answer", s.Err5xx, s.Err4xx, s.ErrNet)
	case s.Target > 0 && s.Achieved < l.MinShare*s.Target:
		return false, fmt.Sprintf("achieved %.0f/s < %.0f%% of %.0f/s", s.Achieved, 100*l.MinShare, s.Target)
	case s.P99 > l.MaxP99:
		return false, fmt.Sprintf("API p99 %s > %s", s.P99.Round(time.Millisecond), l.MaxP99)
	case !s.Drained:
		return false, "the consumer fell behind: backlog not drained"
	case s.LagP99 > l.MaxLag:
		return false, fmt.Sprintf("lag p99 %s > %s", s.LagP99.Round(time.Millisecond), l.MaxLag)
	}
	return true, ""
}
