package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSustained(t *testing.T) {
	tests := []struct {
		name  string
		steps []Step
		rate  float64
		at    int
	}{
		{"none", nil, 0, -1},
		{"nothing held", []Step{{Target: 50, Achieved: 20}}, 0, -1},
		{"last held before the failure", []Step{{Target: 50, Achieved: 50, Held: true}, {Target: 75, Achieved: 74, Held: true}, {Target: 113, Achieved: 90}}, 74, 1},
		{"a refinement between held and failed", []Step{{Target: 75, Achieved: 75, Held: true}, {Target: 113}, {Target: 92, Achieved: 91, Held: true}, {Target: 102}}, 91, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rate, at := Report{Steps: tt.steps}.Sustained()
			if rate != tt.rate || at != tt.at {
				t.Errorf("Sustained() = %v, %d; want %v, %d", rate, at, tt.rate, tt.at)
			}
		})
	}
}

func TestLoss(t *testing.T) {
	tests := []struct {
		name string
		l    Loss
		lost int
		want []string
	}{
		{"clean", Loss{Accepted: 100, Applied: 100, DLQ: map[string]int{"RescoreDLQ": 0}}, 0, nil},
		{"one lost", Loss{Accepted: 100, Applied: 99}, 1, []string{"1 accepted interactions never applied"}},
		{"uncertain ones applied", Loss{Accepted: 100, Uncertain: 2, Applied: 102}, 0, nil},
		{"counted twice", Loss{Accepted: 100, Applied: 101}, 0, []string{"101 applied but only 100 accepted (+0 uncertain): double counting"}},
		{"dead letter", Loss{Accepted: 10, Applied: 10, DLQ: map[string]int{"RescoreDLQ": 3}}, 0, []string{"3 messages in RescoreDLQ"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Lost(); got != tt.lost {
				t.Errorf("Lost() = %d, want %d", got, tt.lost)
			}
			if got := tt.l.Problems(); !slices.Equal(got, tt.want) {
				t.Errorf("Problems() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBracket(t *testing.T) {
	b := Bracket{Before: Ceiling{PerSec: 1000}, After: Ceiling{PerSec: 1200}}
	if b.Mean() != 1100 || b.Drift() != 0.2 {
		t.Errorf("Mean, Drift = %v, %v; want 1100, 0.2", b.Mean(), b.Drift())
	}
	if (Bracket{}).Drift() != 0 || Ratio(5, 0) != 0 || Ratio(50, 1000) != 0.05 {
		t.Error("zero cases")
	}
}

func TestWrite(t *testing.T) {
	r := Report{Clients: 16, Customers: 200, StepTime: 4 * time.Second,
		Put:  Bracket{Before: Ceiling{PerSec: 1000}, After: Ceiling{PerSec: 1000}},
		Send: Bracket{Before: Ceiling{PerSec: 2000}, After: Ceiling{PerSec: 2000}},
		Steps: []Step{{Target: 50, Sent: 200, Achieved: 50, Held: true},
			{Target: 100, Sent: 400, Achieved: 80, Why: "achieved 80/s < 95% of 100/s"}},
		Why:  "100/s not held",
		Loss: Loss{Accepted: 600, Applied: 600},
	}
	var buf bytes.Buffer
	r.Write(&buf)
	out := buf.String()
	for _, want := range []string{
		"sustained: 50 interactions/s",
		"/ bare PutItem/s     = 0.050  (50 / 1000)",
		"/ bare SendMessage/s = 0.025  (50 / 2000)",
		"no: achieved 80/s < 95% of 100/s",
		"loss = 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	r.Loss.Applied = 599
	buf.Reset()
	r.Write(&buf)
	if !strings.Contains(buf.String(), "LOSS: 1 accepted interactions never applied") {
		t.Errorf("a loss is not reported:\n%s", buf.String())
	}
}
