package voucher

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var canonical = regexp.MustCompile(`^([A-Z]{2,10}-)?[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}$`)

func TestAlphabetHasNoLookAlikes(t *testing.T) {
	if len(Alphabet) != 31 {
		t.Fatalf("alphabet has %d symbols", len(Alphabet))
	}
	for _, bad := range "0O1IL" {
		if strings.ContainsRune(Alphabet, bad) {
			t.Errorf("alphabet holds %q", bad)
		}
	}
	seen := map[rune]bool{}
	for _, r := range Alphabet {
		if seen[r] {
			t.Errorf("alphabet repeats %q", r)
		}
		seen[r] = true
	}
}

func TestNewCode(t *testing.T) {
	for _, tc := range []struct {
		prefix, wantPrefix string
		err                bool
	}{
		{"", "", false},
		{"ANNA", "ANNA", false},
		{"anna", "ANNA", false},
		{"AB", "AB", false},
		{"ABCDEFGHIJ", "ABCDEFGHIJ", false},
		{"A", "", true},
		{"ABCDEFGHIJK", "", true},
		{"AN-NA", "", true},
		{"ANN4", "", true},
		{"ÄNNA", "", true},
	} {
		c, err := NewCode(tc.prefix)
		if tc.err {
			if err == nil {
				t.Errorf("NewCode(%q) = %q, want an error", tc.prefix, c)
			}
			continue
		}
		if err != nil {
			t.Fatalf("NewCode(%q): %v", tc.prefix, err)
		}
		if !canonical.MatchString(string(c)) || c.Prefix() != tc.wantPrefix {
			t.Errorf("NewCode(%q) = %q (prefix %q)", tc.prefix, c, c.Prefix())
		}
		if p, err := Parse(string(c)); err != nil || p != c {
			t.Errorf("Parse(%q) = %q, %v", c, p, err)
		}
	}
}

func TestCodesAreRandomAndUniform(t *testing.T) {
	const n = 20000
	seen := map[Code]bool{}
	counts := map[byte]int{}
	dups := 0
	for range n {
		c, err := NewCode("")
		if err != nil {
			t.Fatal(err)
		}
		// 31^7 random parts: two equal codes in 20,000 happen 0.7% of the time (birthday
		// bound), three essentially never.
		if seen[c] {
			dups++
		}
		seen[c] = true
		for i := 0; i < RandomLen; i++ {
			counts[c[i]]++
		}
	}
	if dups > 2 {
		t.Fatalf("%d repeated codes in %d", dups, n)
	}
	if len(counts) != len(Alphabet) {
		t.Fatalf("%d of %d symbols used", len(counts), len(Alphabet))
	}
	want := float64(n*RandomLen) / float64(len(Alphabet))
	for s, got := range counts {
		if d := float64(got) - want; d > want*0.1 || d < -want*0.1 {
			t.Errorf("symbol %c: %d, expected about %.0f", s, got, want)
		}
	}
}

func TestNewCodeRandomFailure(t *testing.T) {
	_, err := newCode("", func([]byte) (int, error) { return 0, errors.New("no entropy") })
	if err == nil {
		t.Fatal("a failing random source gave a code")
	}
}

// A deterministic source shows the rejection sampling skips bytes >= 248.
func TestNewCodeRejectsBiasedBytes(t *testing.T) {
	src := bytes.Repeat([]byte{255, 0}, 16)
	c, err := newCode("", func(b []byte) (int, error) { return copy(b, src), nil })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(c), "2222222") {
		t.Errorf("code %s: byte 255 must be skipped, byte 0 gives %c", c, Alphabet[0])
	}
}

func TestParse(t *testing.T) {
	good, _ := NewCode("ANNA")
	bare, _ := NewCode("")
	lower := strings.ToLower(string(good))
	for _, tc := range []struct {
		in   string
		want Code
	}{
		{string(good), good},
		{lower, good},
		{"  " + string(good) + "\t", good},
		{string(bare), bare},
		{strings.ToLower(string(bare)), bare},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	body := string(good[5:])
	for _, in := range []string{
		"", " ", "ANNA", "ANNA-", "-" + body, "A-" + body, "ANNAANNAANN-" + body, // prefix length
		"AN NA-" + body, "AN4A-" + body, "ANNA--" + body, "ANNA-" + body + "2", "ANNA-" + body[:7],
		"ANNA-" + body[:7] + "0", "ANNA-O" + body[1:], "ANNA-I" + body[1:], "ANNA-L" + body[1:], "ANNA-1" + body[1:],
		"ANNA_" + body, "ÄNNA-" + body, "ANNA-" + body + "\x00", "ANNA- " + body,
		"../r/" + body, "ANNA-" + body + "?x=1",
	} {
		if c, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %q, want ErrMalformed", in, c)
		}
	}
}

// Every single-character typo and every swap of neighbours is malformed, never another code.
func TestCheckCatchesTyposAndSwaps(t *testing.T) {
	for range 200 {
		c, _ := NewCode("MARIA")
		s := []byte(c)
		for i := range s {
			if s[i] == '-' {
				continue
			}
			orig := s[i]
			symbols := Alphabet
			if i < strings.IndexByte(string(c), '-') {
				symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			}
			for j := 0; j < len(symbols); j++ {
				if symbols[j] == orig {
					continue
				}
				s[i] = symbols[j]
				if _, err := Parse(string(s)); err == nil {
					t.Fatalf("typo %s of %s parses", s, c)
				}
			}
			s[i] = orig
			if i+1 < len(s) && s[i+1] != '-' && s[i+1] != orig {
				s[i], s[i+1] = s[i+1], s[i]
				if _, err := Parse(string(s)); err == nil {
					t.Fatalf("swap %s of %s parses", s, c)
				}
				s[i], s[i+1] = s[i+1], s[i]
			}
		}
	}
}

func TestPrefixFrom(t *testing.T) {
	for in, want := range map[string]string{
		"Anna": "ANNA", "anna": "ANNA", "Jean-Luc": "JEANLUC", "Zoë": "ZO", "O'Brien": "OBRIEN",
		"Maximilianus": "MAXIMILIAN", "A": "", "": "", "李": "", " Li ": "LI", "4nn4": "NN",
	} {
		if got := PrefixFrom(in); got != want {
			t.Errorf("PrefixFrom(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"", "ANNA", "AB", "ABCDEFGHIJ"} {
		c, _ := NewCode(p)
		f.Add(string(c))
		f.Add(strings.ToLower(string(c)))
	}
	for _, s := range []string{"", "-", "ANNA-", "anna-2222222", "ANNA-0000000O", "  X  ", "ÄÖÜ-ÄÖÜÄÖÜÄÖ", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || c != "" {
				t.Fatalf("Parse(%q) = %q, %v", s, c, err)
			}
			return
		}
		// Accepted: the input is the canonical code up to case and surrounding spaces.
		if !canonical.MatchString(string(c)) {
			t.Fatalf("Parse(%q) = %q, not canonical", s, c)
		}
		if strings.ToUpper(strings.TrimSpace(s)) != string(c) {
			t.Fatalf("Parse(%q) = %q: accepted more than case and spaces", s, c)
		}
		if again, err := Parse(string(c)); err != nil || again != c {
			t.Fatalf("Parse(Parse(%q)) = %q, %v", s, again, err)
		}
		// Round trip: a code made with the parsed code's prefix parses to itself.
		fresh, err := NewCode(c.Prefix())
		if err != nil {
			t.Fatalf("NewCode(%q): %v", c.Prefix(), err)
		}
		if p, err := Parse(string(fresh)); err != nil || p != fresh {
			t.Fatalf("round trip %q: %q, %v", fresh, p, err)
		}
	})
}
