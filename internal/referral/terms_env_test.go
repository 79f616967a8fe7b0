package referral

import (
	"strings"
	"testing"
	"time"
)

func TestTermsFrom(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		window  time.Duration
		cap     int
		points  int64 // loyalty
		wantErr string
	}{
		{"defaults", nil, DefaultReturnWindow, DefaultMonthlyCap, 200, ""},
		{"set", map[string]string{"RETURN_WINDOW_DAYS": "0", "REFERRER_MONTHLY_CAP": "3", "REFERRER_POINTS": "loyalty=50"}, 0, 3, 50, ""},
		{"every bad value named", map[string]string{"RETURN_WINDOW_DAYS": "-1", "REFERRER_MONTHLY_CAP": "x"}, 0, 0, 0, `RETURN_WINDOW_DAYS="-1"`},
	} {
		got, err := TermsFrom(env(tc.vars))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "REFERRER_MONTHLY_CAP") {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err != nil || got.ReturnWindow != tc.window || got.MonthlyCap != tc.cap || got.Points["loyalty"] != tc.points || got.Points["ambassador"] != 500 {
			t.Errorf("%s: %+v %v", tc.name, got, err)
		}
	}
}
