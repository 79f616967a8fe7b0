package localrun

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// schedule is a parsed rate() or cron() expression.
type schedule interface {
	// next returns the first firing time strictly after t (in t's location).
	next(t time.Time) time.Time
}

func parseSchedule(expr string) (schedule, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		return parseRate(expr[5 : len(expr)-1])
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		return parseCron(expr[5 : len(expr)-1])
	case strings.HasPrefix(expr, "at(") && strings.HasSuffix(expr, ")"):
		t, err := time.Parse("2006-01-02T15:04:05", expr[3:len(expr)-1])
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", expr, err)
		}
		return atSchedule(t), nil
	}
	return nil, fmt.Errorf("schedule %q: want rate(...), cron(...) or at(...)", expr)
}

type rateSchedule time.Duration

func parseRate(s string) (schedule, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return nil, fmt.Errorf("rate(%s): want rate(<value> <unit>)", s)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("rate(%s): value must be a positive integer", s)
	}
	var unit time.Duration
	switch strings.TrimSuffix(f[1], "s") {
	case "minute":
		unit = time.Minute
	case "hour":
		unit = time.Hour
	case "day":
		unit = 24 * time.Hour
	default:
		return nil, fmt.Errorf("rate(%s): unit must be minute(s), hour(s) or day(s)", s)
	}
	return rateSchedule(time.Duration(n) * unit), nil
}

func (r rateSchedule) next(t time.Time) time.Time { return t.Add(time.Duration(r)) }

type atSchedule time.Time

func (a atSchedule) next(t time.Time) time.Time {
	at := time.Time(a)
	at = time.Date(at.Year(), at.Month(), at.Day(), at.Hour(), at.Minute(), at.Second(), 0, t.Location())
	if at.After(t) {
		return at
	}
	return time.Time{} // fired already: never again
}

// cronSchedule is AWS's six-field cron: minutes hours day-of-month month day-of-week year.
// Each field is the set of values it allows. L, W and # are not supported.
type cronSchedule struct {
	minute, hour, dom, month, dow, year map[int]bool
	domAny, dowAny                      bool
}

var (
	monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
	dayNames   = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

func parseCron(s string) (schedule, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron(%s): want 6 fields (minutes hours day-of-month month day-of-week year)", s)
	}
	c := &cronSchedule{}
	var err error
	type spec struct {
		dst      *map[int]bool
		lo, hi   int
		names    map[string]int
		any      *bool
		field    string
		allowQst bool
	}
	specs := []spec{
		{&c.minute, 0, 59, nil, nil, "minutes", false},
		{&c.hour, 0, 23, nil, nil, "hours", false},
		{&c.dom, 1, 31, nil, &c.domAny, "day-of-month", true},
		{&c.month, 1, 12, monthNames, nil, "month", false},
		{&c.dow, 1, 7, dayNames, &c.dowAny, "day-of-week", true},
		{&c.year, 1970, 2199, nil, nil, "year", false},
	}
	for i, sp := range specs {
		v := strings.ToUpper(f[i])
		if v == "?" {
			if !sp.allowQst {
				return nil, fmt.Errorf("cron(%s): ? is only allowed in day-of-month and day-of-week", s)
			}
			*sp.any = true
			continue
		}
		if v == "*" && sp.any != nil {
			*sp.any = true
		}
		*sp.dst, err = parseCronField(v, sp.lo, sp.hi, sp.names)
		if err != nil {
			return nil, fmt.Errorf("cron(%s): %s: %w", s, sp.field, err)
		}
	}
	return c, nil
}

func parseCronField(v string, lo, hi int, names map[string]int) (map[int]bool, error) {
	set := map[int]bool{}
	num := func(s string) (int, error) {
		if n, ok := names[s]; ok {
			return n, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("%q is not supported (numbers, names, *, ?, lists, ranges and /steps are)", s)
		}
		if n < lo || n > hi {
			return 0, fmt.Errorf("%d out of range %d-%d", n, lo, hi)
		}
		return n, nil
	}
	for _, item := range strings.Split(v, ",") {
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("bad step in %q", item)
			}
			step = n
		}
		a, b := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			x, y, _ := strings.Cut(rng, "-")
			var err error
			if a, err = num(x); err != nil {
				return nil, err
			}
			if b, err = num(y); err != nil {
				return nil, err
			}
		default:
			n, err := num(rng)
			if err != nil {
				return nil, err
			}
			a = n
			if !hasStep {
				b = n
			}
		}
		if a > b {
			return nil, fmt.Errorf("range %q goes backwards", item)
		}
		for i := a; i <= b; i += step {
			set[i] = true
		}
	}
	return set, nil
}

func (c *cronSchedule) dayMatches(t time.Time) bool {
	domOK := c.domAny || c.dom[t.Day()]
	dowOK := c.dowAny || c.dow[int(t.Weekday())+1]
	return domOK && dowOK
}

func (c *cronSchedule) next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		switch {
		case !c.year[t.Year()]:
			t = time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, loc)
		case !c.month[int(t.Month())]:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case !c.hour[t.Hour()]:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
		case !c.minute[t.Minute()]:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}
