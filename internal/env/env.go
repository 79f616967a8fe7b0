// Package env reads a function's configuration from its environment once, at cold start, and
// fails then, naming every missing variable, rather than mid-request.
package env

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Reader collects the variables read and what was wrong with them.
type Reader struct {
	missing []string
	bad     []string
}

// String returns a required variable.
func (r *Reader) String(name string) string {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		r.missing = append(r.missing, name)
	}
	return v
}

// Optional returns a variable or def.
func (r *Reader) Optional(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

// Days returns a whole number of days as a duration, or def days.
func (r *Reader) Days(name string, def int) time.Duration {
	return r.whole(name, def, 24*time.Hour, "days")
}

// Seconds returns a whole number of seconds as a duration, or def seconds.
func (r *Reader) Seconds(name string, def int) time.Duration {
	return r.whole(name, def, time.Second, "seconds")
}

// Int returns a whole number, or def; the caller checks its range.
func (r *Reader) Int(name string, def int) int {
	v := r.Optional(name, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil {
		r.bad = append(r.bad, fmt.Sprintf("%s=%q (want a whole number)", name, v))
	}
	return n
}

func (r *Reader) whole(name string, def int, unit time.Duration, units string) time.Duration {
	v := r.Optional(name, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		r.bad = append(r.bad, fmt.Sprintf("%s=%q (want a positive whole number of %s)", name, v, units))
	}
	return time.Duration(n) * unit
}

// Err reports every missing or malformed variable at once.
func (r *Reader) Err() error {
	if len(r.missing) == 0 && len(r.bad) == 0 {
		return nil
	}
	var parts []string
	if len(r.missing) > 0 {
		parts = append(parts, "missing "+strings.Join(r.missing, ", "))
	}
	parts = append(parts, r.bad...)
	return fmt.Errorf("configuration: %s", strings.Join(parts, "; "))
}
