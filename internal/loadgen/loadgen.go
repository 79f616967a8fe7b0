// Package loadgen drives traffic at the local stack for the benchmarks (scripts/benchingest,
// scripts/loadcmd): the interaction bodies, the POST to the HTTP API, closed-loop clients (as
// many calls as conc workers can make) and open-loop clients (calls at a fixed rate whatever
// the answers, so a slow system shows as latency, not as a politely lower rate).
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Purchase is the body of one purchase interaction, as a storefront posts it.
func Purchase(eventID, customerID, orderID string, at time.Time) map[string]any {
	return map[string]any{
		"event_id": eventID, "customer_id": customerID,
		"type": "purchase", "occurred_at": at.UTC().Format(time.RFC3339),
		"properties": map[string]any{"order_id": orderID, "total": 1000 + rand.IntN(20000), "currency": "EUR"},
	}
}

// client keeps a connection per concurrent call: without enough idle connections every burst
// opens new ones and the benchmark measures TCP handshakes.
var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: 30 * time.Second}

// StatusError is an answer other than 202 Accepted.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("POST: %d %s", e.Code, e.Body) }

// Post sends one body to POST /v1/interactions and wants 202 Accepted.
func Post(ctx context.Context, apiURL, apiKey string, body any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/v1/interactions", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("x-api-key", apiKey)
	req.Header.Set("content-type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return &StatusError{Code: resp.StatusCode, Body: string(rb)}
	}
	return nil
}

// Closed runs f for 0..n-1 on conc workers, each starting its next call when the last one
// returns, until n calls are made or ctx is done. It returns the latency of each call made (in
// no particular order) and the wall time. The first few errors go to stderr.
func Closed(ctx context.Context, n, conc int, f func(i int) error) ([]time.Duration, time.Duration) {
	var next atomic.Int64
	var failed atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			var lat []time.Duration
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				t := time.Now()
				if err := f(i); err != nil && failed.Add(1) <= 3 {
					fmt.Fprintln(os.Stderr, "error:", err)
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all, time.Since(start)
}

// OpenResult is what an open-loop run saw.
type OpenResult struct {
	Sent    int             // calls started
	OK      []time.Duration // latency of each call that succeeded, from its scheduled start
	Failed  int
	Sending time.Duration // from the first scheduled start to the last call leaving
	Wall    time.Duration // from the first scheduled start to the last answer
}

// Open calls f at rate calls per second for d (k = 0, 1, ...), with at most maxInFlight calls
// outstanding, until d is over or ctx is done. A call's latency counts from when it was due,
// not from when it left: when the system (or the in-flight cap) holds calls back, the wait is
// part of what a storefront would see (no coordinated omission).
func Open(ctx context.Context, rate float64, d time.Duration, maxInFlight int, f func(k int) error) OpenResult {
	total := int(rate * d.Seconds())
	slots := make(chan struct{}, maxInFlight)
	var mu sync.Mutex
	var res OpenResult
	var last time.Time
	var wg sync.WaitGroup
	start := time.Now()
	for k := 0; k < total && ctx.Err() == nil; k++ {
		due := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		slots <- struct{}{}
		res.Sent++
		res.Sending = time.Since(start)
		wg.Go(func() {
			err := f(k)
			done := time.Now()
			<-slots
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed++
			} else {
				res.OK = append(res.OK, done.Sub(due))
			}
			if done.After(last) {
				last = done
			}
		})
	}
	wg.Wait()
	res.Wall = last.Sub(start)
	return res
}
