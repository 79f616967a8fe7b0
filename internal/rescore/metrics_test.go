package rescore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/referral-engine/referral-engine/internal/metrics"
)

// A segment change counts once, by the write that puts it into the outbox: a crash before it is
// published and the redelivery that publishes it do not count it twice.
func TestSegmentChangeMetric(t *testing.T) {
	var buf bytes.Buffer
	prev := metrics.SetDefault(metrics.New(&buf, "re-RescoreCustomerFunction", nil))
	defer metrics.SetDefault(prev)

	m := newMemory("a", "b", "c", "d")
	sk := &sink{}
	svc, _ := New(m, m, Options{Evaluator: visitsEvaluator{}, Changes: sk})
	ctx := context.Background()
	_, _ = svc.Apply(ctx, "c1", visits("a"))
	sk.fail = 1
	_, _ = svc.Apply(ctx, "c1", visits("b", "c")) // crashes publishing quiet>busy
	_, _ = svc.Apply(ctx, "c1", visits("b", "c")) // redelivery publishes it
	_, _ = svc.Review(ctx, "c1")                  // nothing changes

	got := map[string]float64{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var line struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			} `json:"_aws"`
			Segment string
			Count   float64 `json:"SegmentChanges"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		d := line.AWS.CloudWatchMetrics
		if len(d) != 1 || d[0].Namespace != metrics.Namespace || len(d[0].Metrics) != 1 || d[0].Metrics[0].Name != metrics.SegmentChanges ||
			len(d[0].Dimensions) != 1 || len(d[0].Dimensions[0]) != 2 || d[0].Dimensions[0][1] != "Segment" {
			t.Fatalf("unexpected EMF line %s", sc.Text())
		}
		got[line.Segment] += line.Count
	}
	if len(got) != 2 || got["quiet"] != 1 || got["busy"] != 1 {
		t.Errorf("segment changes %v, want quiet 1 and busy 1", got)
	}
}
