package scoring

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/referral-engine/referral-engine/internal/charset"
)

// EnvVar names the environment variable holding a deploy-time override of the defaults.
const EnvVar = "SCORING_CONFIG"

// defaultsYAML documents the defaults; defaults_gen.go is it as Go (a test keeps them equal).
//
//go:generate go test -run ^TestGeneratedDefaults$ -update .
//go:embed defaults.yaml
var defaultsYAML []byte

// Config is the scoring, segmentation and programs configuration (defaults.yaml documents
// every field). Treat it as immutable once loaded.
type Config struct {
	Version             int                     `yaml:"version" json:"version"`
	HalfLifeDays        float64                 `yaml:"half_life_days" json:"half_life_days"`
	SaturationPoints    float64                 `yaml:"saturation_points" json:"saturation_points"`
	Signals             map[string]SignalConfig `yaml:"signals" json:"signals"`
	AverageBasketTarget map[string]int64        `yaml:"average_basket_target" json:"average_basket_target"`
	Segments            Segments                `yaml:"segments" json:"segments"`
	Programs            map[string]Program      `yaml:"programs" json:"programs"`

	weights   [numSignals]SignalConfig
	bySegment map[string]Program
	digest    string
}

// SignalConfig weighs one signal.
type SignalConfig struct {
	Points float64 `yaml:"points" json:"points"`
	Cap    float64 `yaml:"cap" json:"cap"`
}

// Segments holds the segmentation rules' parameters (SPEC §3).
type Segments struct {
	AmbassadorMinScore     float64          `yaml:"ambassador_min_score" json:"ambassador_min_score"`
	EngagedMinScore        float64          `yaml:"engaged_min_score" json:"engaged_min_score"`
	OpportunistMaxScore    float64          `yaml:"opportunist_max_score" json:"opportunist_max_score"`
	ProvenSharerDays       int              `yaml:"proven_sharer_days" json:"proven_sharer_days"`
	NewCustomerDays        int              `yaml:"new_customer_days" json:"new_customer_days"`
	LapsedDays             int              `yaml:"lapsed_days" json:"lapsed_days"`
	DecliningBasketRatio   float64          `yaml:"declining_basket_ratio" json:"declining_basket_ratio"`
	FiveStarReviews        int              `yaml:"five_star_reviews" json:"five_star_reviews"`
	OpportunistMinOrders   int              `yaml:"opportunist_min_orders" json:"opportunist_min_orders"`
	OpportunistRewardShare float64          `yaml:"opportunist_reward_share" json:"opportunist_reward_share"`
	OrganicMinPoints       float64          `yaml:"organic_min_points" json:"organic_min_points"`
	BestBuyerMin12mSpend   map[string]int64 `yaml:"best_buyer_min_12m_spend" json:"best_buyer_min_12m_spend"`
}

// Program is a referral program: who it is for, what it aims at, what it rewards with.
type Program struct {
	ID             string   `yaml:"-" json:"id"`
	Name           string   `yaml:"name" json:"name"`
	Segment        string   `yaml:"segment" json:"segment"`
	Objective      string   `yaml:"objective" json:"objective"`
	Rewards        []Reward `yaml:"rewards" json:"rewards"`
	FriendOffer    Offer    `yaml:"friend_offer" json:"friend_offer"`
	ReferrerReward Offer    `yaml:"referrer_reward" json:"referrer_reward"`
}

// Reward is one kind of reward a program gives its members.
type Reward struct {
	Type        string `yaml:"type" json:"type"`
	Description string `yaml:"description" json:"description"`
}

// Offer is the friend's offer or the referrer's reward of a program. Value is a percentage for
// percent_off, minor units of Currency for amount_off, points for loyalty_points.
type Offer struct {
	Type        string `yaml:"type" json:"type"`
	Value       int64  `yaml:"value,omitempty" json:"value,omitempty"`
	Currency    string `yaml:"currency,omitempty" json:"currency,omitempty"`
	Description string `yaml:"description" json:"description"`
}

// Default returns the defaults, built once and shared: do not modify.
var Default = sync.OnceValue(func() *Config {
	c, err := Load("")
	if err != nil {
		panic("scoring: defaults.yaml: " + err.Error()) // a test guards this
	}
	return c
})

// FromEnv loads the defaults merged with the SCORING_CONFIG override, if set. Call it at cold
// start so a broken override fails the deployment, not a request.
func FromEnv() (*Config, error) {
	c, err := Load(os.Getenv(EnvVar))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvVar, err)
	}
	return c, nil
}

// Load merges an override document (JSON or YAML; "" for none) over the defaults and
// validates the result. Maps merge key by key, so {"signals":{"email_open":{"cap":2}}}
// changes one number; lists and scalars replace.
func Load(override string) (*Config, error) {
	o := strings.TrimSpace(override)
	if o == "" || o == "{}" {
		// The usual case at cold start: defaults.yaml as generated Go, no parsing at all.
		c := defaults()
		c.digest = defaultsDigest
		if err := c.init(); err != nil {
			return nil, err
		}
		return &c, nil
	}
	if c, ok := loadJSON(o); ok {
		return c, nil
	}
	// YAML, and every document the JSON path is not sure of (errors included): the reference
	// path decides, so results and errors stay what they always were.
	return loadMerged(override)
}

// loadJSON is loadMerged for a JSON override, with encoding/json: ok is false unless the result
// is certainly loadMerged's (a valid config decoded by the same exact, case-sensitive keys).
func loadJSON(override string) (c *Config, ok bool) {
	if !json.Valid([]byte(override)) { // Decode alone would ignore text after the document
		return nil, false
	}
	over, ok := decodeJSON([]byte(override)).(map[string]any)
	if !ok || !lossless([]byte(override), over) {
		return nil, false
	}
	d := defaults()
	merged := toMap(&d)
	merge(merged, over)
	doc, err := json.Marshal(merged)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	c = new(Config)
	// encoding/json matches keys case-insensitively and knows programs' "id", YAML does neither:
	// every key of the override must come back from the decoded config as it was written.
	if dec.Decode(c) != nil || !covers(toMap(c), over) || c.init() != nil {
		return nil, false
	}
	return c, true
}

// decodeJSON decodes a valid JSON document keeping numbers' text (int64 beyond 2^53 stays
// exact, as YAML reads it).
func decodeJSON(doc []byte) any {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}

// lossless reports whether v, decoded from doc, prints back to doc's compact size: a key given
// twice (an error in YAML, the last one wins in JSON) does not (nor, harmlessly, a string
// escaped differently).
func lossless(doc []byte, v any) bool {
	var compact, again bytes.Buffer
	enc := json.NewEncoder(&again)
	enc.SetEscapeHTML(false)
	return json.Compact(&compact, doc) == nil && enc.Encode(v) == nil && compact.Len() == again.Len()-1 // Encode adds a newline
}

// toMap is c's exported fields as a generic document, by their JSON names, without programs'
// ids (init sets them from their keys; YAML has no such key).
func toMap(c *Config) map[string]any {
	b, _ := json.Marshal(c)
	m, _ := decodeJSON(b).(map[string]any)
	if ps, ok := m["programs"].(map[string]any); ok {
		for _, p := range ps {
			if p, ok := p.(map[string]any); ok {
				delete(p, "id")
			}
		}
	}
	return m
}

// covers reports whether every key of sub, at every depth, is in got (sub's value as decoded
// and printed back), and sub has no negative zero (YAML reads -0 as the integer 0).
func covers(got, sub any) bool {
	switch sub := sub.(type) {
	case map[string]any:
		got, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range sub {
			if g, ok := got[k]; !ok || !covers(g, v) {
				return false
			}
		}
	case []any:
		got, ok := got.([]any)
		if !ok || len(got) != len(sub) {
			return false
		}
		for i, v := range sub {
			if !covers(got[i], v) {
				return false
			}
		}
	case json.Number:
		return !strings.HasPrefix(string(sub), "-0")
	}
	return true
}

func decodeStrict(doc []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	return &c, nil
}

// loadMerged merges override over defaults.yaml with YAML, then decodes the result strictly:
// the reference for every override, and the path YAML ones take.
func loadMerged(override string) (*Config, error) {
	var merged map[string]any
	if err := yaml.Unmarshal(defaultsYAML, &merged); err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	if strings.TrimSpace(override) != "" {
		var over any
		if err := yaml.Unmarshal([]byte(override), &over); err != nil {
			return nil, fmt.Errorf("override is not JSON or YAML: %w", err)
		}
		m, ok := over.(map[string]any)
		if !ok {
			return nil, errors.New("override must be a JSON or YAML object")
		}
		merge(merged, m)
	}
	doc, err := yaml.Marshal(merged)
	if err != nil {
		return nil, err
	}
	return decodeStrict(doc)
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

var (
	tokenPattern = charset.WithFirst("a-z", "a-z0-9_", 1, 32) // ^[a-z][a-z0-9_]{0,31}$
	segmentNames = []string{"ambassador", "future_ambassador", "opportunist"}
)

// init validates the config and precomputes the signal table and digest.
func (c *Config) init() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.Version < 1 {
		bad("version must be >= 1")
	}
	if !(c.HalfLifeDays >= 1 && c.HalfLifeDays <= 3650) {
		bad("half_life_days must be in [1, 3650]") // >= 1 keeps Basis exponents in range
	}
	if !(c.SaturationPoints > 0) || math.IsInf(c.SaturationPoints, 0) {
		bad("saturation_points must be > 0")
	}
	for name, sc := range c.Signals {
		s, ok := SignalNamed(name)
		if !ok {
			bad("signals.%s: unknown signal", name)
			continue
		}
		if !finite(sc.Points) || sc.Points < 0 || !finite(sc.Cap) || sc.Cap < 0 {
			bad("signals.%s: points and cap must be finite and >= 0", name)
		}
		c.weights[s] = sc
	}
	for _, s := range AllSignals() {
		if _, ok := c.Signals[s.String()]; !ok {
			bad("signals.%s: missing", s)
		}
	}
	for cur, v := range c.AverageBasketTarget {
		if v <= 0 {
			bad("average_basket_target.%s must be > 0", cur)
		}
	}
	g := c.Segments
	for name, v := range map[string]float64{
		"ambassador_min_score": g.AmbassadorMinScore, "engaged_min_score": g.EngagedMinScore,
		"opportunist_max_score": g.OpportunistMaxScore,
	} {
		if !(v >= 0 && v <= 100) {
			bad("segments.%s must be in [0, 100]", name)
		}
	}
	if g.ProvenSharerDays < 1 || g.NewCustomerDays < 1 || g.LapsedDays < 1 {
		bad("segments: proven_sharer_days, new_customer_days and lapsed_days must be >= 1")
	}
	if !(g.DecliningBasketRatio > 0 && g.DecliningBasketRatio <= 1) {
		bad("segments.declining_basket_ratio must be in (0, 1]")
	}
	if g.FiveStarReviews < 1 || g.OpportunistMinOrders < 1 {
		bad("segments: five_star_reviews and opportunist_min_orders must be >= 1")
	}
	if !(g.OpportunistRewardShare >= 0 && g.OpportunistRewardShare < 1) || !(g.OrganicMinPoints >= 0) {
		bad("segments: opportunist_reward_share must be in [0, 1), organic_min_points >= 0")
	}
	seen := map[string]string{}
	c.bySegment = map[string]Program{}
	for id, p := range c.Programs {
		if !tokenPattern.MatchString(id) {
			bad("programs.%s: id must be a-z 0-9 _", id)
		}
		if prev, dup := seen[p.Segment]; dup {
			bad("programs %s and %s both target %q", prev, id, p.Segment)
		}
		seen[p.Segment] = id
		if p.Name == "" || p.Objective == "" || len(p.Rewards) == 0 {
			bad("programs.%s: name, objective and rewards are required", id)
		}
		for i, r := range p.Rewards {
			if !tokenPattern.MatchString(r.Type) {
				bad("programs.%s.rewards[%d].type must be a-z 0-9 _", id, i)
			}
		}
		for _, o := range []Offer{p.FriendOffer, p.ReferrerReward} {
			if !tokenPattern.MatchString(o.Type) || o.Value < 0 {
				bad("programs.%s: offers need a type (a-z 0-9 _) and a value >= 0", id)
			}
		}
		p.ID = id
		c.Programs[id] = p
		c.bySegment[p.Segment] = p
	}
	for _, s := range segmentNames {
		if _, ok := seen[s]; !ok {
			bad("programs: no program targets segment %q", s)
		}
	}
	for s := range seen {
		if !slices.Contains(segmentNames, s) {
			bad("programs: unknown segment %q (one of %s)", s, strings.Join(segmentNames, ", "))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return errors.New(strings.Join(errs, "; "))
	}
	if c.digest == "" { // set for the defaults: JSON's first use is most of a cold start's cost
		b, _ := json.Marshal(c) // maps marshal sorted: a stable digest
		sum := sha256.Sum256(b)
		c.digest = hex.EncodeToString(sum[:4])
	}
	return nil
}

// Weight returns a signal's points and cap.
func (c *Config) Weight(s Signal) SignalConfig { return c.weights[s] }

// ID names the effective configuration in results: the version and a digest of every value,
// so two configs that share a version but differ (an override that forgot to bump it) differ.
func (c *Config) ID() string { return fmt.Sprintf("%d-%s", c.Version, c.digest) }

// ProgramFor returns the program targeting segment.
func (c *Config) ProgramFor(segment string) (Program, bool) {
	p, ok := c.bySegment[segment]
	return p, ok
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
