package referral

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/referral-engine/referral-engine/internal/metrics"
)

// emitted sums the EMF lines of buf by metric name and, when set, Reason.
func emitted(t *testing.T, buf *bytes.Buffer) map[string]float64 {
	t.Helper()
	sums := map[string]float64{}
	sc := bufio.NewScanner(buf)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		aws, _ := line["_aws"].(map[string]any)
		dirs, _ := aws["CloudWatchMetrics"].([]any)
		if len(dirs) != 1 {
			t.Fatalf("want one CloudWatchMetrics directive: %s", sc.Text())
		}
		d := dirs[0].(map[string]any)
		if d["Namespace"] != metrics.Namespace {
			t.Errorf("namespace %v", d["Namespace"])
		}
		for _, m := range d["Metrics"].([]any) {
			name := m.(map[string]any)["Name"].(string)
			key := name
			if r, ok := line["Reason"].(string); ok {
				key += "/" + r
			}
			sums[key] += line[name].(float64)
		}
	}
	return sums
}

// Redemptions count once (replays do not), refusals count by reason, a grant counts once however
// often it is redelivered, and a refund's reversal once however often it is replayed.
func TestReferralMetrics(t *testing.T) {
	var buf bytes.Buffer
	prev := metrics.SetDefault(metrics.New(&buf, "re-RedeemReferralFunction", nil))
	defer metrics.SetDefault(prev)

	svc, _, _, _ := service(t, 0)
	ctx := context.Background()
	ans, err := svc.Redeem(ctx, Redemption{Code: "ANNA-1", OrderID: "o1", FriendCustomerID: "marco"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = svc.Redeem(ctx, Redemption{Code: "ANNA-1", OrderID: "o1", FriendCustomerID: "marco"}) // replay
	_, _ = svc.Redeem(ctx, Redemption{Code: "ANNA-1", OrderID: "o2", FriendCustomerID: "anna"})
	_, _ = svc.Redeem(ctx, Redemption{Code: "NOPE-1", OrderID: "o3", FriendCustomerID: "lea"})
	_, _ = svc.Redeem(ctx, Redemption{Code: "ANNA-1", OrderID: "o1", FriendCustomerID: "someone-else"})
	for range 3 {
		if _, err := svc.Grant(ctx, ans.ReferralID); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := svc.Refund(ctx, "o1"); err != nil {
			t.Fatal(err)
		}
	}

	want := map[string]float64{
		metrics.ReferralsRedeemed:                        1,
		metrics.ReferralsRefused + "/" + SelfReferral:    1,
		metrics.ReferralsRefused + "/" + UnknownCode:     1,
		metrics.ReferralsRefused + "/" + AlreadyRedeemed: 1,
		metrics.RewardsGranted:                           1,
		metrics.RewardsReversed:                          1,
	}
	got := emitted(t, &buf)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected metric %s = %v", k, got[k])
		}
	}
}
