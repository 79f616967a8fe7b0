package usage

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"
)

// Measured is what a benchmark run consumed in total for N units of work (interactions,
// referrals), written by the benchmarks' -usage-out flag and read by the cost report
// (scripts/benchcost).
type Measured struct {
	Bench             string  `json:"bench"` // bench-ingest, bench-referral
	Unit              string  `json:"unit"`  // interaction, referral
	N                 int     `json:"n"`
	Clients           int     `json:"clients"`
	WriteUnits        float64 `json:"write_units"`
	ReadUnits         float64 `json:"read_units"`
	SQSRequests       float64 `json:"sqs_requests"` // sends and the event source mappings' polls
	LambdaInvocations int     `json:"lambda_invocations"`
	LambdaMS          float64 `json:"lambda_ms"` // handler time as logged (whole ms, truncated)
	HTTPRequests      int     `json:"http_requests"`
	At                string  `json:"at"`
	Host              string  `json:"host"`
}

// Invoked sums the invocations between two Stack.Invocations snapshots.
func Invoked(before, after map[string]int) int {
	n := 0
	for fn, v := range after {
		n += v - before[fn]
	}
	return n
}

// WriteMeasured writes m as JSON to path, stamped with the time and host.
func WriteMeasured(path string, m Measured) error {
	m.At = time.Now().UTC().Format(time.RFC3339)
	m.Host = fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadMeasured reads what WriteMeasured wrote.
func ReadMeasured(path string) (Measured, error) {
	var m Measured
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
