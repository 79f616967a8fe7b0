package voucher

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/referral-engine/referral-engine/internal/scoring"
)

// Offer is the friend's offer or the referrer's reward (the scoring config's programs define
// them): Value is a percentage for percent_off, minor units of Currency for amount_off, points
// for loyalty_points.
type Offer = scoring.Offer

// Terms are what a program's vouchers give and how long and how often they can be used.
type Terms struct {
	Program        string        `json:"program"`
	FriendOffer    Offer         `json:"friend_offer"`
	ReferrerReward Offer         `json:"referrer_reward"`
	ValidFor       time.Duration `json:"-"`
	UseLimit       int           `json:"use_limit"`
	// Prefix is put before every code of the program ("" for none); a first name given
	// explicitly when asking for a voucher replaces it.
	Prefix string `json:"prefix,omitempty"`
}

// Limits are the voucher-only part of a program's terms (the scoring config holds the offers).
type Limits struct {
	ValidDays int    `json:"valid_days"`
	UseLimit  int    `json:"use_limit"`
	Prefix    string `json:"prefix,omitempty"`
}

// DefaultLimits per program id.
var DefaultLimits = map[string]Limits{
	"ambassador":  {ValidDays: 90, UseLimit: 10},
	"accelerator": {ValidDays: 60, UseLimit: 5},
	"loyalty":     {ValidDays: 30, UseLimit: 3},
}

// DefaultProgram is the program of a customer the engine has not segmented yet.
const DefaultProgram = "accelerator"

// Rules are every program's terms.
type Rules struct {
	terms     map[string]Terms
	bySegment map[string]string
}

// LimitsEnvVar names the environment variable that overrides DefaultLimits, as JSON merged
// program by program, e.g. {"ambassador":{"valid_days":120,"use_limit":20}}.
const LimitsEnvVar = "VOUCHER_LIMITS"

// NewRules joins the scoring config's programs (offers) with limits (DefaultLimits when nil;
// an override in JSON, "" for none, replaces a program's limits field by field).
func NewRules(cfg *scoring.Config, override string) (*Rules, error) {
	if cfg == nil {
		return nil, fmt.Errorf("voucher: scoring config is required")
	}
	limits := map[string]Limits{}
	for id, l := range DefaultLimits {
		limits[id] = l
	}
	if strings.TrimSpace(override) != "" {
		var over map[string]json.RawMessage
		if err := json.Unmarshal([]byte(override), &over); err != nil {
			return nil, fmt.Errorf("%s: %w", LimitsEnvVar, err)
		}
		for id, raw := range over {
			l := limits[id]
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&l); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", LimitsEnvVar, id, err)
			}
			limits[id] = l
		}
	}
	r := &Rules{terms: map[string]Terms{}, bySegment: map[string]string{}}
	var errs []string
	for id, p := range cfg.Programs {
		l, ok := limits[id]
		if !ok {
			errs = append(errs, fmt.Sprintf("program %s has no voucher limits", id))
			continue
		}
		if l.ValidDays < 1 || l.UseLimit < 1 {
			errs = append(errs, fmt.Sprintf("program %s: valid_days and use_limit must be >= 1", id))
		}
		l.Prefix = strings.ToUpper(l.Prefix)
		if l.Prefix != "" && !validPrefix(l.Prefix) {
			errs = append(errs, fmt.Sprintf("program %s: prefix must be %d-%d letters A-Z", id, MinPrefixLen, MaxPrefixLen))
		}
		r.terms[id] = Terms{
			Program: id, FriendOffer: p.FriendOffer, ReferrerReward: p.ReferrerReward,
			ValidFor: time.Duration(l.ValidDays) * 24 * time.Hour, UseLimit: l.UseLimit, Prefix: l.Prefix,
		}
		r.bySegment[p.Segment] = id
	}
	for id := range limits {
		if _, ok := cfg.Programs[id]; !ok {
			errs = append(errs, fmt.Sprintf("limits for unknown program %s", id))
		}
	}
	if _, ok := r.terms[DefaultProgram]; !ok {
		errs = append(errs, "no "+DefaultProgram+" program")
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("voucher rules: %s", strings.Join(errs, "; "))
	}
	return r, nil
}

// DefaultRules are the scoring defaults' programs with DefaultLimits.
func DefaultRules() *Rules {
	r, err := NewRules(scoring.Default(), "")
	if err != nil {
		panic(err) // a test guards the defaults
	}
	return r
}

// Terms returns a program's terms.
func (r *Rules) Terms(program string) (Terms, bool) {
	t, ok := r.terms[program]
	return t, ok
}

// Programs lists the program ids, sorted.
func (r *Rules) Programs() []string {
	out := make([]string, 0, len(r.terms))
	for id := range r.terms {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// ProgramForSegment returns the program of a segment, "" if none.
func (r *Rules) ProgramForSegment(segment string) string { return r.bySegment[segment] }

// Segments lists the segments that have a program, sorted.
func (r *Rules) Segments() []string {
	out := make([]string, 0, len(r.bySegment))
	for s := range r.bySegment {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// CustomerProgram picks the program of a customer from what their profile says: the program
// it names if known, else the one of its segment, else DefaultProgram (not segmented yet).
func (r *Rules) CustomerProgram(program, segment string) string {
	if _, ok := r.terms[program]; ok {
		return program
	}
	if p := r.bySegment[segment]; p != "" {
		return p
	}
	return DefaultProgram
}
