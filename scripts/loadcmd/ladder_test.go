package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLadder(t *testing.T) {
	tests := []struct {
		name                string
		start, factor, most float64
		want                []float64
	}{
		{"doubling", 50, 2, 400, []float64{50, 100, 200, 400}},
		{"one and a half, rounded", 50, 1.5, 200, []float64{50, 75, 113, 169}},
		{"start above max", 500, 2, 400, nil},
		{"factor 1 would never end", 50, 1, 400, nil},
		{"no start", 0, 2, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Ladder(tt.start, tt.factor, tt.most); !slices.Equal(got, tt.want) {
				t.Errorf("Ladder(%v, %v, %v) = %v, want %v", tt.start, tt.factor, tt.most, got, tt.want)
			}
		})
	}
}

func TestBetween(t *testing.T) {
	tests := []struct {
		held, failed float64
		want         float64
		ok           bool
	}{
		{75, 113, 92, true},
		{75, 92, 83, true},
		{100, 105, 0, false}, // within noise
		{0, 50, 0, false},    // nothing held: no lower bound
		{10, 11, 0, false},
	}
	for _, tt := range tests {
		got, ok := Between(tt.held, tt.failed)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Between(%v, %v) = %v, %v; want %v, %v", tt.held, tt.failed, got, ok, tt.want, tt.ok)
		}
	}
}

func TestJudge(t *testing.T) {
	l := Limits{MinShare: 0.95, MaxP99: 250 * time.Millisecond, MaxLag: 2 * time.Second}
	ok := Step{Target: 100, Achieved: 99, P99: 40 * time.Millisecond, LagP99: 300 * time.Millisecond, Drained: true}
	with := func(f func(*Step)) Step { s := ok; f(&s); return s }
	tests := []struct {
		name string
		s    Step
		held bool
		why  string
	}{
		{"held", ok, true, ""},
		{"exactly 95%", with(func(s *Step) { s.Achieved = 95 }), true, ""},
		{"p99 at the bound", with(func(s *Step) { s.P99 = 250 * time.Millisecond }), true, ""},
		{"one 5xx", with(func(s *Step) { s.Err5xx = 1 }), false, "1 5xx"},
		{"a 429 is an error too", with(func(s *Step) { s.Err4xx = 1 }), false, "1 4xx"},
		{"no answer", with(func(s *Step) { s.ErrNet = 2 }), false, "2 no answer"},
		{"short of the rate", with(func(s *Step) { s.Achieved = 94 }), false, "achieved 94/s"},
		{"slow API", with(func(s *Step) { s.P99 = 300 * time.Millisecond }), false, "API p99 300ms"},
		{"backlog", with(func(s *Step) { s.Drained = false }), false, "fell behind"},
		{"slow consumer", with(func(s *Step) { s.LagP99 = 3 * time.Second }), false, "lag p99 3s"},
		{"errors reported before the rate", with(func(s *Step) { s.Err5xx, s.Achieved = 5, 10 }), false, "5 5xx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, why := Judge(tt.s, l)
			if held != tt.held || !strings.Contains(why, tt.why) || (tt.held && why != "") {
				t.Errorf("Judge = %v, %q; want %v, containing %q", held, why, tt.held, tt.why)
			}
		})
	}
}
