package scoring

import (
	"reflect"
	"testing"
)

// Every override gives what the reference path (YAML merge, print, strict decode) gives, to the
// config ID and the error; fast says the JSON path, not the reference, produced it.
func TestLoadEqualsReferencePath(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		fast      bool
	}{
		{"none", "", false},
		{"empty object", " {} ", true}, // Load takes the defaults before
		{"one weight", `{"signals":{"email_click":{"points":3}}}`, true},
		{"the documented example", `{"version": 2, "signals": {"email_click": {"points": 3}},
			"segments": {"best_buyer_min_12m_spend": {"EUR": 90000}}}`, true},
		{"a currency added", `{"average_basket_target":{"CHF":7000}}`, true},
		{"a list replaced", `{"programs":{"loyalty":{"rewards":[{"type":"discount","description":"A <code> & more"}]}}}`, true},
		{"an offer's value", `{"programs":{"accelerator":{"referrer_reward":{"type":"amount_off","value":500,"currency":"EUR","description":"5 EUR"}}}}`, true},
		{"an int beyond 2^53", `{"segments":{"best_buyer_min_12m_spend":{"EUR":9007199254740993}}}`, true},
		{"a float for an int", `{"average_basket_target":{"EUR":6000.0}}`, false},
		{"an exponent", `{"saturation_points":1e2}`, true},
		{"negative zero", `{"segments":{"organic_min_points":-0}}`, false},
		{"an offer's zero value", `{"programs":{"loyalty":{"friend_offer":{"value":0}}}}`, false},
		{"null", `{"average_basket_target":null}`, true},
		{"a key twice", `{"version":2,"version":3}`, false},
		{"a key's case", `{"Version":2}`, false},
		{"a key's case in a list", `{"programs":{"loyalty":{"rewards":[{"Type":"discount","description":"d"}]}}}`, false},
		{"a program's id", `{"programs":{"loyalty":{"id":"x"}}}`, false},
		{"text after the object", `{"version":2} {"version":3}`, false},
		{"YAML", "version: 2\nhalf_life_days: 60\nsegments:\n  best_buyer_min_12m_spend: {EUR: 90000}\n", false},
		{"YAML flow", `{version: 2}`, false},
		{"not an object", `[1,2]`, false},
		{"broken", `{"a":`, false},
		{"unknown field", `{"half_life": 30}`, false},
		{"invalid value", `{"half_life_days": 0}`, false},
		{"a string for a number", `{"half_life_days": "60"}`, false},
		{"a number for a string", `{"programs":{"loyalty":{"name":123}}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Load(tc.doc)
			want, wantErr := loadMerged(tc.doc)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("err %v, reference %v", err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("config differs from the reference:\n%+v\n%+v", got, want)
			}
			if got != nil && got.ID() != want.ID() {
				t.Fatalf("id %s, reference %s", got.ID(), want.ID())
			}
			if _, fast := loadJSON(tc.doc); fast != tc.fast {
				t.Errorf("JSON path taken: %v, want %v", fast, tc.fast)
			}
		})
	}
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
