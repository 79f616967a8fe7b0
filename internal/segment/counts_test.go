package segment_test

import (
	"reflect"
	"testing"

	"github.com/referral-engine/referral-engine/internal/segment"
)

func TestCounterDeltas(t *testing.T) {
	type m = segment.Membership
	type d = segment.CounterDelta
	fa, amb := segment.FutureAmbassador, segment.Ambassador
	for _, tc := range []struct {
		name     string
		from, to m
		want     []d
	}{
		{"never segmented, still not", m{}, m{}, nil},
		{"first segmentation: increments only", m{}, m{fa, []string{segment.NewCustomer}},
			[]d{{fa, 1, map[string]int{segment.NewCustomer: 1}}}},
		{"same segment, same subs", m{fa, []string{"lapsed", "new_customer"}}, m{fa, []string{"new_customer", "lapsed"}}, nil},
		{"same segment, a sub repeated", m{fa, []string{"lapsed"}}, m{fa, []string{"lapsed", "lapsed"}}, nil},
		{"sub-segments change alone", m{fa, []string{"lapsed", "declining_basket"}}, m{fa, []string{"declining_basket", "new_customer"}},
			[]d{{fa, 0, map[string]int{"lapsed": -1, "new_customer": 1}}}},
		{"segment changes: -1 on the old, +1 on the new, each with its subs",
			m{fa, []string{"engaged_non_sharer"}}, m{amb, []string{"best_buyer", "social_follower"}},
			[]d{{amb, 1, map[string]int{"best_buyer": 1, "social_follower": 1}}, {fa, -1, map[string]int{"engaged_non_sharer": -1}}}},
		{"segment changes, a sub of the same name on both sides", m{amb, []string{"x"}}, m{fa, []string{"x"}},
			[]d{{amb, -1, map[string]int{"x": -1}}, {fa, 1, map[string]int{"x": 1}}}},
		{"erased: decrements only", m{segment.Opportunist, nil}, m{},
			[]d{{segment.Opportunist, -1, map[string]int{}}}},
		{"subs without a segment are not counted", m{"", []string{"lapsed"}}, m{fa, nil},
			[]d{{fa, 1, map[string]int{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := segment.CounterDeltas(tc.from, tc.to); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("CounterDeltas(%v, %v) = %v, want %v", tc.from, tc.to, got, tc.want)
			}
			// Moving there and back again leaves every counter as it was.
			sum := map[string]int{}
			for _, ds := range [][]segment.CounterDelta{segment.CounterDeltas(tc.from, tc.to), segment.CounterDeltas(tc.to, tc.from)} {
				for _, x := range ds {
					sum[x.Segment] += x.Members
					for s, n := range x.SubSegments {
						sum[x.Segment+"/"+s] += n
					}
				}
			}
			for k, n := range sum {
				if n != 0 {
					t.Errorf("there and back: %s moved by %d", k, n)
				}
			}
		})
	}
}
