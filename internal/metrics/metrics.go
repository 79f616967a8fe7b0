// Package metrics writes CloudWatch Embedded Metric Format (EMF) lines to stdout: CloudWatch Logs
// turns each line into metrics, so a count costs one log line and no API call. Namespace
// ReferralEngine; every metric carries the Function dimension (AWS_LAMBDA_FUNCTION_NAME) plus
// the dimensions given.
package metrics

import (
	"encoding/json"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "ReferralEngine"

// Metric names.
const (
	InteractionsAccepted  = "InteractionsAccepted"
	InteractionsDuplicate = "InteractionsDuplicate"
	RequestsRefused       = "RequestsRefused" // any 4xx answer; dimensions Route and Reason (the error code)
	SegmentChanges        = "SegmentChanges"  // dimension Segment (the new one)
	ReferralsRedeemed     = "ReferralsRedeemed"
	ReferralsRefused      = "ReferralsRefused" // dimension Reason
	RewardsGranted        = "RewardsGranted"
	RewardsReversed       = "RewardsReversed"
	RewardsVoided         = "RewardsVoided"
	ClicksLost            = "ClicksLost"        // a click redirected but not recorded (a store error)
	InteractionsSwept     = "InteractionsSwept" // stored, never enqueued: enqueued again by the sweeper
)

// Unit is a CloudWatch unit.
type Unit string

// Units used here.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
)

// M is one metric value of a line.
type M struct {
	Name  string
	Value float64
	Unit  Unit
}

// Emitter writes EMF lines to a writer. The zero value is not usable; use New.
type Emitter struct {
	mu       sync.Mutex
	w        io.Writer
	function string
	now      func() time.Time
}

// New builds an emitter writing to w with the Function dimension function ("" leaves it out).
func New(w io.Writer, function string, now func() time.Time) *Emitter {
	if now == nil {
		now = time.Now
	}
	return &Emitter{w: w, function: function, now: now}
}

var (
	defMu sync.RWMutex
	def   = New(os.Stdout, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), nil)
)

// SetDefault replaces the emitter the package functions use and returns the previous one (tests).
func SetDefault(e *Emitter) *Emitter {
	defMu.Lock()
	defer defMu.Unlock()
	prev := def
	def = e
	return prev
}

func current() *Emitter {
	defMu.RLock()
	defer defMu.RUnlock()
	return def
}

// Emit writes one line with ms under the
// dimensions dims (key, value pairs). Zero counts are left out; nothing is written if all are.
func Emit(dims []string, ms ...M) { current().Emit(dims, ms...) }

// Add emits a single count.
func Add(name string, n int, dims ...string) {
	if n != 0 {
		current().Emit(dims, M{Name: name, Value: float64(n), Unit: Count})
	}
}

type metricDef struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit,omitempty"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type awsMeta struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Emit writes one EMF line: ms under one dimension set (Function plus dims, key/value pairs).
// Metrics with a zero value are left out; nothing is written if none is left.
func (e *Emitter) Emit(dims []string, ms ...M) {
	if e == nil || e.w == nil {
		return
	}
	line := make(map[string]any, 2+len(dims)/2+len(ms))
	keys := make([]string, 0, 1+len(dims)/2)
	if e.function != "" {
		keys = append(keys, "Function")
		line["Function"] = e.function
	}
	for i := 0; i+1 < len(dims); i += 2 {
		if _, dup := line[dims[i]]; !dup {
			keys = append(keys, dims[i])
		}
		line[dims[i]] = dims[i+1]
	}
	defs := make([]metricDef, 0, len(ms))
	for _, m := range ms {
		if m.Value == 0 || m.Name == "" {
			continue
		}
		if _, dup := line[m.Name]; dup {
			continue
		}
		u := m.Unit
		if u == "" {
			u = Count
		}
		defs = append(defs, metricDef{Name: m.Name, Unit: u})
		line[m.Name] = m.Value
	}
	if len(defs) == 0 {
		return
	}
	if e.function != "" {
		sort.Strings(keys[1:]) // Function first, the rest in a stable order
	} else {
		sort.Strings(keys)
	}
	line["_aws"] = awsMeta{
		Timestamp:         e.now().UnixMilli(),
		CloudWatchMetrics: []directive{{Namespace: Namespace, Dimensions: [][]string{keys}, Metrics: defs}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	e.mu.Lock()
	_, _ = e.w.Write(b)
	e.mu.Unlock()
}
