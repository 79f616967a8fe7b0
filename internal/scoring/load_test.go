package scoring

import (
	"reflect"
	"strings"
	"testing"
)

// loadCases are overrides with what Load makes of them: err "" is the reference path's config
// (loadMerged, the YAML loader before overrides became JSON only), to the config ID; else an
// error naming the field, the reference's outcome too. Unless differs: then the reference
// refused what is valid JSON, or read what is not (YAML, a second object) or converted a value.
var loadCases = []struct {
	name, doc, err string
	differs        bool
}{
	{"none", "", "", false},
	{"empty object", " {} ", "", false},
	{"empty object spaced", "{ }", "", false},
	{"one weight", `{"signals":{"email_click":{"points":3}}}`, "", false},
	{"the documented example", `{"version": 2, "signals": {"email_click": {"points": 3}},
		"segments": {"best_buyer_min_12m_spend": {"EUR": 90000}}}`, "", false},
	{"a currency added", `{"average_basket_target":{"CHF":7000}}`, "", false},
	{"a list replaced", `{"programs":{"loyalty":{"rewards":[{"type":"discount","description":"A <code> & more"}]}}}`, "", false},
	{"escapes", `{"programs":{"loyalty":{"name":"a/b \u00e9\t\"q\""}}}`, "", false},
	{"an escaped slash", `{"programs":{"loyalty":{"name":"a\/b"}}}`, "", true}, // YAML has no \/
	{"an offer's value", `{"programs":{"accelerator":{"referrer_reward":{"type":"amount_off","value":500,"currency":"EUR","description":"5 EUR"}}}}`, "", false},
	{"an int beyond 2^53", `{"segments":{"best_buyer_min_12m_spend":{"EUR":9007199254740993}}}`, "", false},
	{"a float for an int", `{"average_basket_target":{"EUR":6000.0}}`, "", false},
	{"an exponent for an int", `{"average_basket_target":{"EUR":6e3}}`, "", false},
	{"an exponent", `{"saturation_points":1e2}`, "", false},
	{"an int for a float", `{"saturation_points":9007199254740993}`, "", false},
	{"negative zero", `{"segments":{"organic_min_points":-0}}`, "", false},
	{"negative zero float", `{"segments":{"organic_min_points":-0.0}}`, "", false},
	{"an offer's zero value", `{"programs":{"loyalty":{"friend_offer":{"value":0}}}}`, "", false},
	{"null map", `{"average_basket_target":null}`, "", false},
	{"null string", `{"programs":{"loyalty":{"friend_offer":{"currency":null}}}}`, "", false},
	{"null required string", `{"programs":{"loyalty":{"name":null}}}`, "programs.loyalty: name, objective and rewards are required", false},
	{"null struct", `{"segments":null}`, "segments.declining_basket_ratio", false},
	{"null program", `{"programs":{"loyalty":null}}`, "programs.loyalty: name", false},
	{"a new program", `{"programs":{"loyalty":null,"vip":{"name":"VIP","segment":"ambassador","objective":"x","rewards":[{"type":"discount","description":"d"}],"friend_offer":{"type":"percent_off","value":5,"description":"d"},"referrer_reward":{"type":"discount","description":"d"}}}}`, "programs.loyalty: name", false},
	{"a key twice", `{"version":2,"version":3}`, "version: duplicate key", false},
	{"a key twice deep", `{"signals":{"visit":{"cap":1,"cap":2}}}`, "signals.visit.cap: duplicate key", false},
	{"a key's case", `{"Version":2}`, "Version: unknown field", false},
	{"a key's case in a list", `{"programs":{"loyalty":{"rewards":[{"Type":"discount","description":"d"}]}}}`, "programs.loyalty.rewards[0].Type: unknown field", false},
	{"a program's id", `{"programs":{"loyalty":{"id":"x"}}}`, "programs.loyalty.id: unknown field", false},
	{"unknown field", `{"half_life": 30}`, "half_life: unknown field", false},
	{"unknown nested field", `{"signals":{"visit":{"pts":1}}}`, "signals.visit.pts: unknown field", false},
	{"text after the object", `{"version":2} {"version":3}`, "must be JSON", true},
	{"not an object", `[1,2]`, "must be a JSON object, not a list", false},
	{"null document", `null`, "must be a JSON object, not null", false},
	{"broken", `{"a":`, "must be JSON", false},
	{"invalid value", `{"half_life_days": 0}`, "half_life_days must be in [1, 3650]", false},
	{"a string for a number", `{"half_life_days": "60"}`, "half_life_days: want a number, not a string", false},
	{"an object for a number", `{"version": {}}`, "version: want an integer, not an object", false},
	{"a list for an object", `{"segments": []}`, "segments: want an object, not a list", false},
	{"an int out of range", `{"version":9223372036854775808}`, "version: 9223372036854775808 is not an integer in range", false},
	{"a float out of range", `{"saturation_points":1e400}`, "saturation_points: 1e400 is out of range", false},
	{"a fraction for an int", `{"average_basket_target":{"EUR":6000.5}}`, "average_basket_target.EUR: 6000.5 is not an integer", true},
	{"a number for a string", `{"programs":{"loyalty":{"name":123}}}`, "programs.loyalty.name: want a string, not a number", true},
	{"a boolean for a string", `{"programs":{"loyalty":{"name":true}}}`, "programs.loyalty.name: want a string, not a boolean", true},
	// YAML was read before; now it is refused, saying so.
	{"YAML", "version: 2\nhalf_life_days: 60\nsegments:\n  best_buyer_min_12m_spend: {EUR: 90000}\n", "must be JSON (YAML is not read)", true},
	{"YAML flow", `{version: 2}`, "must be JSON (YAML is not read)", true},
}

func TestLoadEqualsReferencePath(t *testing.T) {
	for _, tc := range loadCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(tc.doc)
			want, wantErr := loadMerged(tc.doc)
			if tc.err == "" {
				if err != nil || (wantErr != nil) != tc.differs {
					t.Fatalf("err %v, reference %v", err, wantErr)
				}
				if wantErr == nil && (!reflect.DeepEqual(got, want) || got.ID() != want.ID()) {
					t.Fatalf("config differs from the reference:\n%s %+v\n%s %+v", got.ID(), got, want.ID(), want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "scoring config: ") {
				t.Fatalf("err %v, want scoring config: ...%s", err, tc.err)
			}
			if (wantErr == nil) != tc.differs {
				t.Errorf("reference accepts it: %v, want %v (%v)", wantErr == nil, tc.differs, wantErr)
			}
		})
	}
}

// FuzzLoadEqualsReferencePath: whatever Load accepts, the reference accepted, to the same
// config and ID, unless YAML could not parse it (valid JSON is not all valid YAML: "\/").
// go test -fuzz explores beyond the cases.
func FuzzLoadEqualsReferencePath(f *testing.F) {
	for _, tc := range loadCases {
		f.Add(tc.doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, err := Load(doc)
		want, wantErr := loadMerged(doc)
		switch {
		case err == nil && wantErr != nil && !strings.Contains(wantErr.Error(), "not JSON or YAML"):
			t.Fatalf("accepted, the reference refused it: %v", wantErr)
		case err == nil && wantErr == nil && (!reflect.DeepEqual(got, want) || got.ID() != want.ID()):
			t.Fatalf("config differs from the reference:\n%s %+v\n%s %+v", got.ID(), got, want.ID(), want)
		}
	})
}

func BenchmarkLoadDefaults(b *testing.B) {
	for b.Loop() {
		if _, err := Load("{}"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadJSONOverride(b *testing.B) {
	for b.Loop() {
		if _, err := Load(`{"segments":{"best_buyer_min_12m_spend":{"EUR":90000}}}`); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadReferencePath(b *testing.B) {
	for b.Loop() {
		if _, err := loadMerged(`{"segments":{"best_buyer_min_12m_spend":{"EUR":90000}}}`); err != nil {
			b.Fatal(err)
		}
	}
}
