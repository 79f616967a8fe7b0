package referral

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TermsFrom reads RETURN_WINDOW_DAYS (default 14, 0 allowed), REFERRER_MONTHLY_CAP (default
// 20) and REFERRER_POINTS ("ambassador=500,accelerator=300,loyalty=200") through getenv (the
// functions pass os.Getenv), reporting every bad value at once.
func TermsFrom(getenv func(string) string) (Terms, error) {
	t := DefaultTerms()
	var bad []string
	if v := strings.TrimSpace(getenv("RETURN_WINDOW_DAYS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 365 {
			bad = append(bad, fmt.Sprintf("RETURN_WINDOW_DAYS=%q (want 0-365)", v))
		}
		t.ReturnWindow = time.Duration(n) * 24 * time.Hour
	}
	if v := strings.TrimSpace(getenv("REFERRER_MONTHLY_CAP")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad = append(bad, fmt.Sprintf("REFERRER_MONTHLY_CAP=%q (want >= 1)", v))
		}
		t.MonthlyCap = n
	}
	if v := strings.TrimSpace(getenv("REFERRER_POINTS")); v != "" {
		p, err := ParsePoints(v)
		if err != nil {
			bad = append(bad, err.Error())
		}
		points := map[string]int64{}
		for k, v := range DefaultPoints {
			points[k] = v
		}
		for k, v := range p {
			points[k] = v
		}
		t.Points = points
	}
	if len(bad) > 0 {
		return t, fmt.Errorf("configuration: %s", strings.Join(bad, "; "))
	}
	return t, nil
}
