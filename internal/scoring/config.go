package scoring

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/referral-engine/referral-engine/internal/charset"
)

// EnvVar names the environment variable holding a deploy-time override of the defaults.
const EnvVar = "SCORING_CONFIG"

// defaults.yaml documents the defaults; defaults_gen.go is it as Go, so that no function links
// a YAML parser (TestGeneratedDefaults keeps them equal).
//
//go:generate go test -run ^TestGeneratedDefaults$ -update .

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

// Load merges an override, a JSON object ("" for none), over the defaults and validates the
// result. Maps merge key by key, so {"signals":{"email_open":{"cap":2}}} changes one number;
// lists and scalars replace, null sets a value's zero. Keys are exact: an unknown field, a key
// in another case or a key given twice is an error naming it.
func Load(override string) (*Config, error) {
	o := strings.TrimSpace(override)
	c := defaults()
	if o == "" || o == "{}" {
		// The usual case at cold start: the generated defaults, no parsing at all.
		c.digest = defaultsDigest
	} else if err := c.merge(o); err != nil {
		return nil, fmt.Errorf("scoring config: %w", err)
	}
	if err := c.init(); err != nil {
		return nil, fmt.Errorf("scoring config: %w", err)
	}
	return &c, nil
}

// merge decodes the override over c. A decoder of its own rather than encoding/json's, which
// matches keys in any case, lets the last of two equal keys win and ignores a null.
func (c *Config) merge(doc string) error {
	if !utf8.ValidString(doc) {
		return errors.New("the override must be JSON: invalid UTF-8")
	}
	if !json.Valid([]byte(doc)) { // Token alone would stop after the first value
		err := json.Unmarshal([]byte(doc), new(any))
		return fmt.Errorf("the override must be JSON (YAML is not read): %w", err)
	}
	d := decoder{json.NewDecoder(strings.NewReader(doc))}
	d.UseNumber()
	return d.value(reflect.ValueOf(c).Elem(), "")
}

type decoder struct{ *json.Decoder }

var programType = reflect.TypeFor[Program]()

// value decodes the next JSON value into v, merging objects into structs and maps in place.
func (d decoder) value(v reflect.Value, path string) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	if tok == nil && path != "" {
		v.SetZero()
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return typeError(path, "an object", tok)
		}
		return d.object(path, func(key, path string) error {
			i, ok := field(v.Type(), key)
			if !ok {
				return fmt.Errorf("%s: unknown field", path)
			}
			return d.value(v.Field(i), path)
		})
	case reflect.Map:
		if tok != json.Delim('{') {
			return typeError(path, "an object", tok)
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		return d.object(path, func(key, path string) error {
			k, e := reflect.ValueOf(key), reflect.New(v.Type().Elem()).Elem()
			if cur := v.MapIndex(k); cur.IsValid() {
				e.Set(cur) // an entry merges too: {"email_click":{"points":3}} keeps its cap
			}
			if err := d.value(e, path); err != nil {
				return err
			}
			v.SetMapIndex(k, e)
			return nil
		})
	case reflect.Slice:
		if tok != json.Delim('[') {
			return typeError(path, "a list", tok)
		}
		s := reflect.MakeSlice(v.Type(), 0, 0)
		for d.More() {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := d.value(e, fmt.Sprintf("%s[%d]", path, s.Len())); err != nil {
				return err
			}
			s = reflect.Append(s, e)
		}
		v.Set(s)
		_, err := d.Token()
		return err
	case reflect.String:
		s, ok := tok.(string)
		if !ok {
			return typeError(path, "a string", tok)
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return typeError(path, "an integer", tok)
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil { // 6000.0 and 6e3 are integers too; 6000.5 is not, nor 1e30
			f, ferr := strconv.ParseFloat(string(n), 64)
			if ferr != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
				return fmt.Errorf("%s: %s is not an integer in range", path, n)
			}
			i = int64(f)
		}
		v.SetInt(i)
	case reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			return typeError(path, "a number", tok)
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return fmt.Errorf("%s: %s is out of range", path, n)
		}
		if f == 0 {
			f = 0 // -0 printed "-0" in the ID's digest; YAML overrides made it 0, so does this
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("%s: cannot decode into %s", path, v.Type()) // a new field's type: add it here
	}
	return nil
}

// object reads an object's members after its '{', refusing a key given twice.
func (d decoder) object(path string, member func(key, path string) error) error {
	seen := map[string]bool{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		p := key
		if path != "" {
			p = path + "." + key
		}
		if seen[key] {
			return fmt.Errorf("%s: duplicate key", p)
		}
		seen[key] = true
		if err := member(key, p); err != nil {
			return err
		}
	}
	_, err := d.Token()
	return err
}

// field finds a struct field by its exact JSON name. A program's id is its key in programs
// (init sets it), not a field of its own.
func field(t reflect.Type, key string) (int, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name == key && !(t == programType && f.Name == "ID") {
			return i, true
		}
	}
	return 0, false
}

func typeError(path, want string, tok json.Token) error {
	got := "null"
	switch tok := tok.(type) {
	case json.Delim:
		got = map[json.Delim]string{'{': "an object", '[': "a list"}[tok]
	case string:
		got = "a string"
	case json.Number:
		got = "a number"
	case bool:
		got = "a boolean"
	}
	if path == "" {
		return fmt.Errorf("the override must be a JSON object, not %s", got)
	}
	return fmt.Errorf("%s: want %s, not %s", path, want, got)
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
