package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
)

// segmentCounts is GET /v1/segments as "segment" and "segment/sub" counts (zeros left out).
func segmentCounts(t *testing.T) map[string]int {
	t.Helper()
	r := get(t, "/v1/segments")
	var body struct {
		Segments []struct {
			Segment     string         `json:"segment"`
			Customers   int            `json:"customers"`
			SubSegments map[string]int `json:"sub_segments"`
		} `json:"segments"`
	}
	r.json(t, &body)
	if r.Status != 200 || len(body.Segments) != 3 {
		t.Fatalf("GET /v1/segments: %d %s", r.Status, r.Body)
	}
	out := map[string]int{}
	for _, s := range body.Segments {
		if s.SubSegments == nil {
			t.Fatalf("GET /v1/segments: %s without sub_segments: %s", s.Segment, r.Body)
		}
		if s.Customers != 0 {
			out[s.Segment] = s.Customers
		}
		for sub, n := range s.SubSegments {
			out[s.Segment+"/"+sub] = n
		}
	}
	return out
}

// indexCounts counts the same in the segment index (what GET /v1/segments read before the
// counters).
func indexCounts(t *testing.T) map[string]int {
	t.Helper()
	cs, err := dynamostore.NewCustomers(stack.DynamoDB, stack.Resources["CustomersTable"])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, seg := range []string{"ambassador", "future_ambassador", "opportunist"} {
		shards, err := cs.IndexCounts(context.Background(), seg)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range shards {
			if c.Members != 0 {
				out[seg] += c.Members
			}
			for sub, n := range c.SubSegments {
				if n != 0 {
					out[seg+"/"+sub] += n
				}
			}
		}
	}
	return out
}

// GET /v1/segments reads the segment counters: they equal a count of the segment index after
// customers are segmented by rescore, moved, moved back by rescore and erased.
func TestSegmentCountsMatchTheIndex(t *testing.T) {
	run := time.Now().UnixNano()
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = fmt.Sprintf("segcount-%d-%d", run, i)
		newCustomer(t, ids[i])
	}
	queueIdle(t)
	before := segmentCounts(t)
	place(t, ids[0], "ambassador", "ambassador", "best_buyer", "social_follower")
	place(t, ids[1], "opportunist", "loyalty")
	place(t, ids[2], "future_ambassador", "accelerator", "lapsed")
	moved := segmentCounts(t)
	if moved["ambassador"] != before["ambassador"]+1 || moved["ambassador/best_buyer"] != before["ambassador/best_buyer"]+1 {
		t.Errorf("after a move to ambassador: %v, before %v", moved, before)
	}
	// A new interaction re-evaluates ids[0]: rescore moves them out of ambassador (no proof of
	// sharing) in its transaction.
	body := fmt.Sprintf(`{"event_id":"%s-visit-2","customer_id":"%s","type":"visit","occurred_at":"2026-11-02T10:00:00Z","properties":{"duration_seconds":30}}`, ids[0], ids[0])
	if r := post(t, "/v1/interactions", []byte(body)); r.Status != 202 {
		t.Fatalf("POST interaction: %d %s", r.Status, r.Body)
	}
	cs, err := dynamostore.NewCustomers(stack.DynamoDB, stack.Resources["CustomersTable"])
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, ids[0]+" stored out of ambassador", func() bool {
		p, err := cs.Placement(context.Background(), ids[0])
		return err == nil && p.Segment != "" && p.Segment != "ambassador"
	})
	if r := call(t, http.MethodDelete, "/v1/customers/"+ids[3], nil, stack.APIKey); r.Status != 200 {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	// Erasing again takes nothing out twice.
	if r := call(t, http.MethodDelete, "/v1/customers/"+ids[3], nil, stack.APIKey); r.Status != 200 {
		t.Fatalf("erase again: %d %s", r.Status, r.Body)
	}
	queueIdle(t)
	// Other tests move customers meanwhile: equal once they are done.
	var got, want map[string]int
	deadline := time.Now().Add(30 * time.Second)
	for got, want = segmentCounts(t), indexCounts(t); !maps.Equal(got, want); got, want = segmentCounts(t), indexCounts(t) {
		if time.Now().After(deadline) {
			t.Fatalf("GET /v1/segments %v, the index %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got["opportunist"] < 1 || got["future_ambassador/lapsed"] < 1 {
		t.Errorf("the placed customers are not counted: %v", got)
	}
}
