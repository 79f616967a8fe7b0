package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/ingest/ingesttest"
	"github.com/referral-engine/referral-engine/internal/metrics"
)

// The interactions API emits accepted and duplicate counts from ingest.Result, and the router
// counts every 4xx with its route and error code, as EMF lines.
func TestIngestMetrics(t *testing.T) {
	var buf bytes.Buffer
	prev := metrics.SetDefault(metrics.New(&buf, "re-RecordInteractionFunction", nil))
	defer metrics.SetDefault(prev)

	svc, _ := ingest.New(&ingesttest.Store{}, &memQueue{}, 400*24*time.Hour, func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) })
	r := httpapi.NewRouter(keys, nil)
	RegisterIngest(r, svc)
	for _, step := range []struct{ event, key string }{
		{"record-interaction-batch.json", ""},
		{"record-interaction-batch.json", ""},
		{"record-interaction-invalid.json", ""},
		{"record-interaction-single.json", "nope"},
	} {
		req := sample(t, step.event)
		if step.key != "" {
			req.Headers["x-api-key"] = step.key
		}
		if _, err := r.Serve(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}

	sums := map[string]float64{}
	reasons := map[string]float64{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		aws, _ := line["_aws"].(map[string]any)
		cwm, _ := aws["CloudWatchMetrics"].([]any)
		if len(cwm) != 1 {
			t.Fatalf("no CloudWatchMetrics directive: %s", sc.Text())
		}
		for _, m := range cwm[0].(map[string]any)["Metrics"].([]any) {
			name := m.(map[string]any)["Name"].(string)
			sums[name] += line[name].(float64)
			if name == metrics.RequestsRefused {
				if line["Route"] != "POST /v1/interactions" {
					t.Errorf("Route %v", line["Route"])
				}
				reasons[line["Reason"].(string)]++
			}
		}
	}
	if sums[metrics.InteractionsAccepted] != 10 || sums[metrics.InteractionsDuplicate] != 10 || sums[metrics.RequestsRefused] != 2 {
		t.Errorf("sums %v, want 10 accepted, 10 duplicate, 2 refused", sums)
	}
	if len(reasons) != 2 {
		t.Errorf("refusal reasons %v, want two distinct codes", reasons)
	}
}
