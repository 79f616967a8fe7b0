// Package usage adds up what the functions of a local stack consumed, for the benchmarks: each
// invocation logs its DynamoDB capacity units and SQS requests (internal/meter), and this reads
// those lines back from the function logs of a quiet stack.
package usage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"

	"github.com/referral-engine/referral-engine/internal/localrun"
)

// Totals is what a function's invocations logged.
type Totals struct {
	ReadUnits, WriteUnits float64
	SQSRequests           float64
	DynamoDBCalls         float64
	DurationMS            float64 // handler time, for Lambda's GB-seconds
	Lines                 int
}

// Add sums two totals.
func (t Totals) Add(u Totals) Totals {
	return Totals{t.ReadUnits + u.ReadUnits, t.WriteUnits + u.WriteUnits, t.SQSRequests + u.SQSRequests,
		t.DynamoDBCalls + u.DynamoDBCalls, t.DurationMS + u.DurationMS, t.Lines + u.Lines}
}

// Mark is a position in every function log.
type Mark map[string]int64

// Start marks the end of every function log of st.
func Start(st *localrun.Stack) Mark {
	m := Mark{}
	for fn := range st.Stats() {
		if fi, err := os.Stat(st.LogPath(fn)); err == nil {
			m[fn] = fi.Size()
		} else {
			m[fn] = 0
		}
	}
	return m
}

// Since adds up, per function, what was logged after the mark.
func (m Mark) Since(st *localrun.Stack) map[string]Totals {
	out := map[string]Totals{}
	for fn, off := range m {
		fh, err := os.Open(st.LogPath(fn))
		if err != nil {
			continue
		}
		_, _ = fh.Seek(off, io.SeekStart)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var t Totals
		for sc.Scan() {
			line := sc.Bytes()
			if i := bytes.IndexByte(line, '{'); i >= 0 {
				line = line[i:]
			}
			var rec struct {
				RCU   *float64 `json:"rcu"`
				WCU   float64  `json:"wcu"`
				SQS   float64  `json:"sqs_requests"`
				Calls float64  `json:"ddb_calls"`
				MS    float64  `json:"duration_ms"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.RCU != nil {
				t = t.Add(Totals{*rec.RCU, rec.WCU, rec.SQS, rec.Calls, rec.MS, 1})
			}
		}
		fh.Close()
		out[fn] = t
	}
	return out
}

// Sum adds up every function's totals.
func Sum(per map[string]Totals) Totals {
	var t Totals
	for _, v := range per {
		t = t.Add(v)
	}
	return t
}
