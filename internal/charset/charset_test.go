package charset

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// Every pattern the project uses answers exactly as the regular expression it replaces, on
// random strings around the length limits, with bytes from the set, near it and beyond ASCII.
func TestSameAsRegexp(t *testing.T) {
	cases := []struct {
		re string
		p  *Pattern
	}{
		{`^[A-Za-z0-9._:@/+=|-]{1,128}$`, New("A-Za-z0-9._:@/+=|-", 1, 128)},
		{`^[a-z0-9_]{1,32}$`, New("a-z0-9_", 1, 32)},
		{`^[A-Za-z0-9-]{3,32}$`, New("A-Za-z0-9-", 3, 32)},
		{`^[a-z][a-z0-9_]{0,39}$`, WithFirst("a-z", "a-z0-9_", 1, 40)},
		{`^[a-z][a-z0-9_]{0,31}$`, WithFirst("a-z", "a-z0-9_", 1, 32)},
		{`^[A-Z]{3}$`, New("A-Z", 3, 3)},
		{`^[A-Za-z0-9+/=_:-]{8,256}$`, New("A-Za-z0-9+/=_:-", 8, 256)},
		{`^[A-Za-z0-9_.-]{1,64}$`, New("A-Za-z0-9_.-", 1, 64)},
	}
	alphabet := []string{"a", "z", "A", "Z", "0", "9", "_", "-", ".", ":", "@", "/", "+", "=", "|", " ", "\n", "`", "{", "é", "\xff", "\x00", "~", "#"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		re := regexp.MustCompile(tc.re)
		for i := range 20000 {
			n := rng.IntN(260)
			if i%4 == 0 {
				n = []int{0, 1, 2, 3, 4, 7, 8, 9, 31, 32, 33, 39, 40, 41, 63, 64, 65, 127, 128, 129, 255, 256, 257}[rng.IntN(23)]
			}
			var b strings.Builder
			for range n {
				if rng.IntN(10) == 0 {
					b.WriteString(alphabet[rng.IntN(len(alphabet))])
				} else {
					b.WriteByte(byte('a' + rng.IntN(26))) // mostly valid, so long matches occur
				}
			}
			s := b.String()
			if got, want := tc.p.MatchString(s), re.MatchString(s); got != want {
				t.Fatalf("%s on %q (len %d): got %v, want %v", tc.re, s, len(s), got, want)
			}
		}
	}
}

func BenchmarkCompileRegexp(b *testing.B) {
	for b.Loop() {
		regexp.MustCompile(`^[A-Za-z0-9+/=_:-]{8,256}$`)
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New("A-Za-z0-9+/=_:-", 8, 256)
	}
}
