package env

import (
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	t.Setenv("E_NAME", " orders ")
	t.Setenv("E_INT", "12")
	t.Setenv("E_BADINT", "twelve")
	t.Setenv("E_DAYS", "3")
	t.Setenv("E_ZERODAYS", "0")
	var r Reader
	if got := r.String("E_NAME"); got != "orders" {
		t.Errorf("String: %q", got)
	}
	if got := r.Optional("E_UNSET", "def"); got != "def" {
		t.Errorf("Optional: %q", got)
	}
	if got := r.Int("E_INT", 5); got != 12 {
		t.Errorf("Int: %d", got)
	}
	if got := r.Int("E_UNSET", 5); got != 5 {
		t.Errorf("Int default: %d", got)
	}
	if got := r.Days("E_DAYS", 1); got != 72*time.Hour {
		t.Errorf("Days: %v", got)
	}
	if got := r.Seconds("E_UNSET", 60); got != time.Minute {
		t.Errorf("Seconds default: %v", got)
	}
	if err := r.Err(); err != nil {
		t.Fatalf("no error expected yet: %v", err)
	}
	r.String("E_MISSING")
	r.Int("E_BADINT", 5)
	r.Days("E_ZERODAYS", 1)
	err := r.Err()
	for _, want := range []string{"missing E_MISSING", `E_BADINT="twelve"`, `E_ZERODAYS="0"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %v, want it to name %s", err, want)
		}
	}
}
