package loadgen

import (
	"slices"
	"time"
)

// Percentile is the p-th percentile (0..100) of d by the nearest-rank-below rule; 0 when d is
// empty. d is not modified.
func Percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// MS is d in milliseconds, to the microsecond.
func MS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
