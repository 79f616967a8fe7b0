// Package charset matches identifiers by their allowed bytes and length, the job of patterns like
// ^[A-Za-z0-9._-]{1,128}$, without compiling a regular expression at cold start: a counted
// repetition compiles into that many copies of the class (hundreds of allocations per pattern,
// about a millisecond per function's init for the project's patterns).
package charset

import "fmt"

// Pattern matches strings whose first byte is in First and every other byte in Rest, Min to Max
// bytes long. Only ASCII bytes are ever allowed, so bytes and characters are the same count.
type Pattern struct {
	first, rest [128]bool
	min, max    int
}

// New is ^[set]{min,max}$. A set lists bytes and ranges as in a regexp class: "A-Za-z0-9._-"
// (a '-' first or last is itself).
func New(set string, min, max int) *Pattern {
	p := &Pattern{min: min, max: max}
	p.rest = parse(set)
	p.first = p.rest
	return p
}

// WithFirst is ^[first][set]{min-1,max-1}$: the first byte from another set.
func WithFirst(first, set string, min, max int) *Pattern {
	p := New(set, min, max)
	p.first = parse(first)
	return p
}

func parse(set string) [128]bool {
	var t [128]bool
	for i := 0; i < len(set); i++ {
		lo, hi := set[i], set[i]
		if i+2 < len(set) && set[i+1] == '-' {
			hi = set[i+2]
			i += 2
		}
		if lo > hi || hi >= 128 {
			panic(fmt.Sprintf("charset: bad set %q", set))
		}
		for c := lo; ; c++ {
			t[c] = true
			if c == hi {
				break
			}
		}
	}
	return t
}

// MatchString reports whether s matches the pattern.
func (p *Pattern) MatchString(s string) bool {
	if len(s) < p.min || len(s) > p.max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 128 {
			return false
		}
		if i == 0 {
			if !p.first[c] {
				return false
			}
		} else if !p.rest[c] {
			return false
		}
	}
	return true
}
