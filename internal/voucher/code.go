// Package voucher is the referral voucher's domain (SPEC §4.1): codes, the terms each program
// gives them, and the voucher itself. Plain Go, no AWS types.
//
// A code is short, readable and case-insensitive, e.g. ANNA-7KQ2XHM4 or 7KQ2XHM4:
//
//   - an optional prefix of 2-10 letters A-Z, then "-" (a word: a program's prefix, or the
//     customer's first name when the caller gives it explicitly; never derived otherwise);
//   - 7 random characters from crypto/rand over an alphabet without the look-alikes 0/O, 1/I/L
//     (31 symbols: 31^7 = 2.7e10 codes, so 30 million live codes leave a guess 1 chance in 900);
//   - 1 check character, a weighted sum mod 31 over the whole code, which catches every single
//     mistyped character and every swap of neighbours: a typo is malformed, never someone else's
//     code, and malformed codes cost no database read.
package voucher

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// Alphabet is the symbols of a code's random part: digits and capitals without 0, O, 1, I, L.
const Alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// Lengths of a code's parts.
const (
	RandomLen    = 7
	BodyLen      = RandomLen + 1 // random part and check character
	MinPrefixLen = 2
	MaxPrefixLen = 10
	MaxLen       = MaxPrefixLen + 1 + BodyLen
)

const base = len(Alphabet) // 31, prime: the check catches single errors and swaps

// Code is a canonical voucher code (upper case). Get one from New or Parse.
type Code string

func (c Code) String() string { return string(c) }

// Prefix returns the code's prefix, "" if none.
func (c Code) Prefix() string {
	if i := strings.IndexByte(string(c), '-'); i >= 0 {
		return string(c[:i])
	}
	return ""
}

// ErrMalformed is returned by Parse for anything that is not a code.
var ErrMalformed = errors.New("malformed voucher code")

var symbolValue = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < base; i++ {
		v[Alphabet[i]] = int8(i)
	}
	return v
}()

// Parse reads a code typed or pasted by a person: surrounding spaces are dropped and case is
// ignored. Anything else that is not exactly a canonical code is refused with ErrMalformed.
func Parse(s string) (Code, error) {
	s = strings.TrimSpace(s)
	if len(s) < BodyLen || len(s) > MaxLen {
		return "", ErrMalformed
	}
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'a' && ch <= 'z' {
			b[i] = ch - 'a' + 'A'
		}
	}
	prefix, body := "", b
	if i := strings.IndexByte(string(b), '-'); i >= 0 {
		prefix, body = string(b[:i]), b[i+1:]
		if !validPrefix(prefix) {
			return "", ErrMalformed
		}
	}
	if len(body) != BodyLen {
		return "", ErrMalformed
	}
	for _, ch := range body {
		if symbolValue[ch] < 0 {
			return "", ErrMalformed
		}
	}
	if check(prefix, body[:RandomLen]) != body[RandomLen] {
		return "", ErrMalformed
	}
	return Code(b), nil
}

func validPrefix(p string) bool {
	if len(p) < MinPrefixLen || len(p) > MaxPrefixLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 'A' || p[i] > 'Z' {
			return false
		}
	}
	return true
}

// check is the check character: sum of (position+1) x value mod 31 over the prefix's letters
// (A=0 .. Z=25) and the random symbols. Positions stay under 31, so any single change or
// neighbour swap changes the sum.
func check(prefix string, random []byte) byte {
	sum, pos := 0, 1
	for i := 0; i < len(prefix); i++ {
		sum += pos * int(prefix[i]-'A')
		pos++
	}
	for _, ch := range random {
		sum += pos * int(symbolValue[ch])
		pos++
	}
	return Alphabet[sum%base]
}

// PrefixFrom makes a code prefix from a word such as a first name: its ASCII letters, upper
// case, at most 10 ("Anna" → "ANNA", "Jean-Luc" → "JEANLUC", "Zoë" → "ZO"); "" when fewer than
// 2 letters remain.
func PrefixFrom(word string) string {
	var b strings.Builder
	for _, r := range word {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		default:
			continue
		}
		if b.Len() == MaxPrefixLen {
			break
		}
	}
	if b.Len() < MinPrefixLen {
		return ""
	}
	return b.String()
}

// Random is the source of a code's random part (crypto/rand.Reader; tests swap it).
type Random func(b []byte) (int, error)

// NewCode makes a code with prefix ("" for none; it must be 2-10 letters A-Z otherwise) from
// crypto/rand.
func NewCode(prefix string) (Code, error) { return newCode(prefix, rand.Read) }

func newCode(prefix string, read Random) (Code, error) {
	prefix = strings.ToUpper(prefix)
	if prefix != "" && !validPrefix(prefix) {
		return "", fmt.Errorf("voucher: prefix %q must be %d-%d letters A-Z", prefix, MinPrefixLen, MaxPrefixLen)
	}
	random := make([]byte, 0, RandomLen)
	var buf [16]byte
	for len(random) < RandomLen {
		if _, err := read(buf[:]); err != nil {
			return "", fmt.Errorf("voucher: random: %w", err)
		}
		for _, x := range buf {
			// Rejection sampling: 248 = 8 x 31, so every symbol is equally likely.
			if int(x) < 8*base && len(random) < RandomLen {
				random = append(random, Alphabet[int(x)%base])
			}
		}
	}
	s := string(random) + string(check(prefix, random))
	if prefix != "" {
		s = prefix + "-" + s
	}
	return Code(s), nil
}
