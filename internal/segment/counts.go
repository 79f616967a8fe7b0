package segment

import (
	"slices"
	"sort"
)

// Membership is what the segment counters count of one customer: the segment and, within it,
// the sub-segments. The zero Membership is a customer not counted (never segmented, erased).
type Membership struct {
	Segment     string
	SubSegments []string
}

// Count is one segment's counters summed: its members and, among them, each sub-segment's.
type Count struct {
	Members     int
	SubSegments map[string]int
}

// CounterDelta is what one customer's move does to one segment's counters: Members -1, 0 or
// +1 and the sub-segments' changes (never zero entries).
type CounterDelta struct {
	Segment     string
	Members     int
	SubSegments map[string]int
}

// CounterDeltas returns the counter changes of a customer moving from `from` to `to`: nothing
// when the membership is the same (sub-segments compared as sets), -1 on the old segment and
// its sub-segments and +1 on the new ones when the segment changes, the sub-segments' changes
// alone when only they change. Sub-segments without a segment are not counted. The deltas are
// in segment order, so a transaction built from them is deterministic.
func CounterDeltas(from, to Membership) []CounterDelta {
	oldSubs, newSubs := subsOf(from), subsOf(to)
	if from.Segment == to.Segment {
		if from.Segment == "" {
			return nil
		}
		d := CounterDelta{Segment: from.Segment, SubSegments: map[string]int{}}
		for _, s := range oldSubs {
			if !slices.Contains(newSubs, s) {
				d.SubSegments[s] = -1
			}
		}
		for _, s := range newSubs {
			if !slices.Contains(oldSubs, s) {
				d.SubSegments[s] = 1
			}
		}
		if len(d.SubSegments) == 0 {
			return nil
		}
		return []CounterDelta{d}
	}
	var out []CounterDelta
	add := func(segment string, subs []string, sign int) {
		if segment == "" {
			return
		}
		d := CounterDelta{Segment: segment, Members: sign, SubSegments: make(map[string]int, len(subs))}
		for _, s := range subs {
			d.SubSegments[s] = sign
		}
		out = append(out, d)
	}
	add(from.Segment, oldSubs, -1)
	add(to.Segment, newSubs, 1)
	sort.Slice(out, func(i, j int) bool { return out[i].Segment < out[j].Segment })
	return out
}

// subsOf returns m's distinct sub-segments, none when m has no segment.
func subsOf(m Membership) []string {
	if m.Segment == "" {
		return nil
	}
	var out []string
	for _, s := range m.SubSegments {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
