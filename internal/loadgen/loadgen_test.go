package loadgen

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOpenSendsAtTheRateAndCountsFailures(t *testing.T) {
	res := Open(context.Background(), 200, 250*time.Millisecond, 8, func(k int) error {
		if k%10 == 0 {
			return errors.New("refused")
		}
		return nil
	})
	if res.Sent != 50 || res.Failed != 5 || len(res.OK) != 45 {
		t.Errorf("sent %d, failed %d, ok %d; want 50, 5, 45", res.Sent, res.Failed, len(res.OK))
	}
	// The last call is due at 245 ms: an open loop does not finish early.
	if res.Wall < 240*time.Millisecond {
		t.Errorf("wall %v: sent faster than the rate", res.Wall)
	}
}

func TestOpenCountsTheWaitForASlot(t *testing.T) {
	// One slot, calls of 20 ms due every 5 ms: each waits behind the last, and that wait is latency.
	res := Open(context.Background(), 200, 50*time.Millisecond, 1, func(int) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	if p := Percentile(res.OK, 100); p < 100*time.Millisecond {
		t.Errorf("max latency %v: the wait for a slot was not counted", p)
	}
}

func TestClosedStopsAtNOrDeadline(t *testing.T) {
	lat, _ := Closed(context.Background(), 30, 4, func(int) error { return nil })
	if len(lat) != 30 {
		t.Errorf("%d calls, want 30", len(lat))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	lat, wall := Closed(ctx, 1<<30, 2, func(int) error { time.Sleep(5 * time.Millisecond); return nil })
	if wall > time.Second || len(lat) == 0 {
		t.Errorf("%d calls in %v: the deadline did not stop it", len(lat), wall)
	}
}
