package drill

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/interaction"
)

// The generator's posts are what the API's own validator says they are: valid ones parse, and
// each broken one is refused naming the field the generator broke.
func TestGeneratedPostsMatchTheValidator(t *testing.T) {
	now := time.Now()
	for _, seed := range []uint64{1, 2, 3, 42, 1234, 1795447700427773913} {
		w := Generate(seed, 40, 8) // as the drills play it
		bad, types := 0, map[string]bool{}
		for i, p := range w.Posts {
			got, err := interaction.Parse(p.Body(now), now)
			if p.BadField == "" {
				if err != nil || len(got) != len(p.Events) {
					t.Fatalf("seed %d post %d: %v", seed, i, err)
				}
				for _, e := range got {
					types[string(e.Type)] = true
				}
				continue
			}
			bad++
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Field != p.BadField {
				t.Fatalf("seed %d post %d: want a refusal naming %s, got %v", seed, i, p.BadField, err)
			}
		}
		accepted := map[string]bool{}
		for _, p := range w.Posts {
			for _, e := range p.Events {
				if p.BadField == "" {
					accepted[e.Customer] = true
				}
			}
		}
		for _, ref := range w.Referrers {
			if !accepted[ref.Customer] {
				t.Errorf("seed %d: referrer %s has no accepted interaction: the API would never know them", seed, ref.Customer)
			}
		}
		if bad == 0 || len(types) < 12 || w.Accepted() < 100 || len(w.Referrers) != 8 {
			t.Errorf("seed %d: %d broken posts, %d types, %d accepted: the workload is too tame", seed, bad, len(types), w.Accepted())
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := Generate(7, 20, 5), Generate(7, 20, 5)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different workloads")
	}
	if reflect.DeepEqual(a, Generate(8, 20, 5)) {
		t.Fatal("different seeds, same workload")
	}
	frauds, refunds := 0, map[int]int{} // refunds by RefundParts
	for _, s := range []uint64{1, 2, 3, 4, 5, 6} {
		for _, r := range Generate(s, 20, 8).Referrers {
			for _, f := range r.Friends {
				if f.Fraud != "" {
					frauds++
				}
				if f.RefundAfterGrant || f.RefundBeforeRelease {
					refunds[f.RefundParts]++
				}
			}
		}
	}
	if frauds == 0 || refunds[0] == 0 || refunds[1]+refunds[2] == 0 {
		t.Errorf("no fraud (%d), or no refund through the route or as interactions (%v), among the referrals", frauds, refunds)
	}
}

func TestRefundParts(t *testing.T) {
	for _, tt := range []struct {
		total int64
		n     int
		want  []int64
	}{{4900, 1, []int64{4900}}, {4901, 2, []int64{2450, 2451}}, {10, 3, []int64{3, 3, 4}}} {
		if got := refundParts(tt.total, tt.n); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("refundParts(%d, %d) = %v, want %v", tt.total, tt.n, got, tt.want)
		}
	}
}
