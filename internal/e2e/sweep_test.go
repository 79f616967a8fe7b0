package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/sweep"
)

func funnelClicks(t *testing.T, program string) int64 {
	t.Helper()
	var fv struct {
		Programs map[string]map[string]int64 `json:"programs"`
	}
	r := get(t, "/v1/stats/funnel")
	if r.Status != 200 {
		t.Fatalf("funnel: %d %s", r.Status, r.Body)
	}
	r.json(t, &fv)
	return fv.Programs[program]["clicks"]
}

func runSweep(t *testing.T) sweep.Result {
	t.Helper()
	out, err := stack.Invoke(context.Background(), "SweepInteractionsFunction", []byte(`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`))
	if err != nil {
		t.Fatalf("sweep: %v %s", err, out)
	}
	var res sweep.Result
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("sweep result %s: %v", out, err)
	}
	return res
}

// A link click made while SQS refuses connections is stored, redirected and counted in the
// funnel, but not applied: no browser retries it. After the grace (1 s here), the sweep
// enqueues it again and the referrer's click count catches up. The click applied before the
// outage, left unmarked by rescore's lazy marking, is only marked by the sweep.
func TestSweepAppliesAClickMadeWhileSQSWasDown(t *testing.T) {
	const id = "sw-referrer"
	newCustomer(t, id)
	status, v := askVoucher(t, id, `{}`)
	if status != 201 && status != 200 {
		t.Fatalf("voucher: %d", status)
	}
	queueIdle(t)
	clicksBefore := funnelClicks(t, v.Program)

	if code := clickFrom(t, "127.0.0.31", "/r/"+v.Code); code != 302 {
		t.Fatalf("click: %d", code)
	}
	eventually(t, 30*time.Second, "the first click applied", func() bool {
		_, m := customer(t, id)
		return m["link_clicks"] == 1.0
	})
	queueIdle(t)

	if err := stack.StopSQS(); err != nil {
		t.Fatal(err)
	}
	code := clickFrom(t, "127.0.0.32", "/r/"+v.Code)
	if err := stack.StartSQS(); err != nil {
		t.Fatal(err)
	}
	if code != 302 {
		t.Fatalf("click while SQS is down: %d", code)
	}
	if n := funnelClicks(t, v.Program); n != clicksBefore+2 {
		t.Errorf("funnel clicks %d, want %d: the stored click counts", n, clicksBefore+2)
	}
	// Both clicks are unmarked (the first is applied, in the referrer's pending set): the
	// second is the one received last.
	var orphan map[string]any
	for _, it := range scanAll(t, "InteractionsTable") {
		if it["customer_id"] == id && it["type"] == "referral_click" && (orphan == nil || it["received_at"].(string) > orphan["received_at"].(string)) {
			orphan = it
		}
	}
	if orphan == nil || orphan["pending_shard"] == nil || orphan["applied_at"] != nil {
		t.Fatalf("no unapplied click in the pending index: %v", orphan)
	}
	queueIdle(t)
	if _, m := customer(t, id); m["link_clicks"] != 1.0 {
		t.Fatalf("link clicks %v before the sweep, want 1 (the second is not enqueued)", m["link_clicks"])
	}

	time.Sleep(2100 * time.Millisecond) // SweepGraceSeconds (1) passes, at a whole second
	res := runSweep(t)
	if res.Enqueued < 1 || res.Marked < 1 {
		t.Errorf("sweep %+v, want the orphan enqueued and the applied click marked", res)
	}
	eventually(t, 30*time.Second, "the swept click applied", func() bool {
		_, m := customer(t, id)
		return m["link_clicks"] == 2.0
	})
	queueIdle(t)
	if _, m := customer(t, id); m["link_clicks"] != 2.0 {
		t.Errorf("link clicks %v, want 2", m["link_clicks"])
	}
	// The schedule fires locally as on AWS (POST /_local/schedules/fire?rule=...).
	if fired, err := stack.FireSchedules(context.Background(), "SweepInteractionsFunction.Sweep"); err != nil || len(fired) != 1 || fired[0].Error != "" {
		t.Errorf("fire the sweep schedule: %v %+v", err, fired)
	}
	// The first click left the index: the sweep marked it.
	for _, it := range scanAll(t, "InteractionsTable") {
		if it["customer_id"] == id && it["type"] == "referral_click" && it["event_id"] != orphan["event_id"] &&
			(it["applied_at"] == nil || it["pending_shard"] != nil) {
			t.Errorf("the first click is not marked applied: %v", it)
		}
	}
}
