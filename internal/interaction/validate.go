package interaction

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/charset"
)

// MaxBody is the largest request body accepted (100 interactions of about 2 KB each).
const MaxBody = 256 << 10

// maxMoney bounds amounts (minor units) far above any real basket, below float64 precision loss.
const maxMoney = 1_000_000_000_000

var (
	idPattern    = charset.New("A-Za-z0-9._:@/+=|-", 1, 128) // ^[A-Za-z0-9._:@/+=|-]{1,128}$
	tokenPattern = charset.New("a-z0-9_", 1, 32)
	codePattern  = charset.New("A-Za-z0-9-", 3, 32)
	fieldPattern = charset.WithFirst("a-z", "a-z0-9_", 1, 40) // ^[a-z][a-z0-9_]{0,39}$
	// oldest accepted occurred_at: older dates are typos (0202 for 2020), not history imports.
	oldest = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
)

// kind validates one property value and stores it into Properties.
type kind func(path string, v any, p *Properties) error

type propSpec struct {
	name     string
	required bool
	set      kind
}

// specs lists, per type, the properties it accepts. Anything else is refused by name.
var specs = map[Type][]propSpec{
	Purchase: {
		{"order_id", true, text(func(p *Properties, s string) { p.OrderID = s })},
		{"total", true, integer(0, maxMoney, func(p *Properties, n int64) { p.Total = &n })},
		{"currency", true, currency(func(p *Properties, s string) { p.Currency = s })},
		{"discount_used", false, boolean(func(p *Properties, b bool) { p.DiscountUsed = &b })},
		{"referral_code", false, code(func(p *Properties, s string) { p.ReferralCode = s })},
	},
	Refund: {
		{"order_id", true, text(func(p *Properties, s string) { p.OrderID = s })},
		{"amount", true, integer(1, maxMoney, func(p *Properties, n int64) { p.Amount = &n })},
		{"currency", false, currency(func(p *Properties, s string) { p.Currency = s })},
	},
	EmailOpen: {
		{"campaign_id", true, text(func(p *Properties, s string) { p.CampaignID = s })},
	},
	EmailClick: {
		{"campaign_id", true, text(func(p *Properties, s string) { p.CampaignID = s })},
		{"link_id", false, text(func(p *Properties, s string) { p.LinkID = s })},
	},
	Visit: {
		{"duration_seconds", true, integer(0, 86_400, func(p *Properties, n int64) { p.DurationSeconds = &n })},
		{"pages", false, integer(1, 10_000, func(p *Properties, n int64) { p.Pages = &n })},
	},
	NPS: {
		{"score", true, integer(0, 10, func(p *Properties, n int64) { p.Score = &n })},
		{"survey_id", false, text(func(p *Properties, s string) { p.SurveyID = s })},
	},
	SurveyAnswer: {
		{"survey_id", true, text(func(p *Properties, s string) { p.SurveyID = s })},
	},
	Review: {
		{"stars", true, integer(1, 5, func(p *Properties, n int64) { p.Stars = &n })},
		{"review_id", true, text(func(p *Properties, s string) { p.ReviewID = s })},
	},
	Comment: {
		{"comment_id", false, text(func(p *Properties, s string) { p.CommentID = s })},
	},
	ProfileUpdate: {
		{"fields", true, profileFields},
	},
	LoyaltyJoin: {
		{"program_id", false, text(func(p *Properties, s string) { p.ProgramID = s })},
	},
	SocialFollow: {
		{"network", true, token(func(p *Properties, s string) { p.Network = s })},
	},
	ReferralShare: {
		{"code", true, code(func(p *Properties, s string) { p.Code = s })},
		{"channel", true, token(func(p *Properties, s string) { p.Channel = s })},
	},
	Signup: {
		{"referral_code", false, code(func(p *Properties, s string) { p.ReferralCode = s })},
	},
}

// Types lists the accepted interaction types, sorted.
func Types() []string {
	out := make([]string, 0, len(specs))
	for t := range specs {
		out = append(out, string(t))
	}
	sort.Strings(out)
	return out
}

// Parse decodes and validates a POST /v1/interactions body: one interaction, or
// {"interactions": [...]} with 1 to MaxBatch items. Any bad item refuses the whole body with
// an *apperr.Error naming the field; now bounds occurred_at.
func Parse(body []byte, now time.Time) ([]Interaction, error) {
	r, err := ParseRequest(body, now)
	return r.Items, err
}

// Request is a parsed POST /v1/interactions body.
type Request struct {
	Items []Interaction
	Batch bool // the body was {"interactions": [...]}, not one interaction
}

// Field is the path of the field name of item i in the body, as errors name it:
// "interactions[2].event_id" in a batch, "event_id" otherwise.
func (r Request) Field(i int, name string) string {
	if r.Batch {
		return fmt.Sprintf("interactions[%d].%s", i, name)
	}
	return name
}

// ParseRequest is Parse, telling a batch from a single interaction.
func ParseRequest(body []byte, now time.Time) (Request, error) {
	if len(body) > MaxBody {
		return Request{}, apperr.TooLarge("body", "request body is %d bytes; the limit is %d", len(body), MaxBody)
	}
	if !utf8.Valid(body) {
		return Request{}, apperr.BadJSON("body", "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return Request{}, apperr.BadJSON("body", "request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return Request{}, apperr.BadJSON("body", "request body has data after the JSON value")
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return Request{}, apperr.BadJSON("body", "request body must be a JSON object")
	}
	raw, isBatch := obj["interactions"]
	if !isBatch {
		in, err := parseOne("", obj, now)
		if err != nil {
			return Request{}, err
		}
		return Request{Items: []Interaction{in}}, nil
	}
	for k := range obj {
		if k != "interactions" {
			return Request{}, apperr.Invalid(k, "unknown field; a batch body holds only \"interactions\"")
		}
	}
	items, ok := raw.([]any)
	if !ok {
		return Request{}, apperr.Invalid("interactions", "must be an array")
	}
	if len(items) == 0 {
		return Request{}, apperr.Invalid("interactions", "must hold at least one interaction")
	}
	if len(items) > MaxBatch {
		return Request{}, apperr.TooLarge("interactions", "holds %d interactions; the limit is %d", len(items), MaxBatch)
	}
	out := make([]Interaction, 0, len(items))
	for i, item := range items {
		prefix := fmt.Sprintf("interactions[%d].", i)
		m, ok := item.(map[string]any)
		if !ok {
			return Request{}, apperr.Invalid(strings.TrimSuffix(prefix, "."), "must be an object")
		}
		in, err := parseOne(prefix, m, now)
		if err != nil {
			return Request{}, err
		}
		out = append(out, in)
	}
	return Request{Items: out, Batch: true}, nil
}

func parseOne(prefix string, m map[string]any, now time.Time) (Interaction, error) {
	var in Interaction
	for k := range m {
		switch k {
		case "event_id", "customer_id", "type", "occurred_at", "properties":
		default:
			return in, apperr.Invalid(prefix+k, "unknown field")
		}
	}
	var err error
	if in.EventID, err = requiredID(prefix+"event_id", m["event_id"]); err != nil {
		return in, err
	}
	if in.CustomerID, err = requiredID(prefix+"customer_id", m["customer_id"]); err != nil {
		return in, err
	}
	t, ok := m["type"].(string)
	if !ok {
		return in, apperr.Invalid(prefix+"type", "required string, one of %s", strings.Join(Types(), ", "))
	}
	spec, ok := specs[Type(t)]
	if !ok {
		return in, apperr.Invalid(prefix+"type", "unknown type %q; one of %s", t, strings.Join(Types(), ", "))
	}
	in.Type = Type(t)
	if in.OccurredAt, err = occurredAt(prefix+"occurred_at", m["occurred_at"], now); err != nil {
		return in, err
	}
	props := map[string]any{}
	if raw, ok := m["properties"]; ok && raw != nil {
		if props, ok = raw.(map[string]any); !ok {
			return in, apperr.Invalid(prefix+"properties", "must be an object")
		}
	}
	known := make(map[string]bool, len(spec))
	for _, ps := range spec {
		known[ps.name] = true
		path := prefix + "properties." + ps.name
		v, present := props[ps.name]
		if !present || v == nil {
			if ps.required {
				return in, apperr.Invalid(path, "required for type %s", t)
			}
			continue
		}
		if err := ps.set(path, v, &in.Properties); err != nil {
			return in, err
		}
	}
	// Sorted so that the error names the same field on every call.
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !known[k] {
			return in, apperr.Invalid(prefix+"properties."+k, "unknown property for type %s", t)
		}
	}
	return in, nil
}

func requiredID(path string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", apperr.Invalid(path, "required string")
	}
	if !idPattern.MatchString(s) {
		return "", apperr.Invalid(path, "must be 1-128 characters of A-Z a-z 0-9 . _ : @ / + = | -")
	}
	return s, nil
}

func occurredAt(path string, v any, now time.Time) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, apperr.Invalid(path, "required RFC 3339 timestamp, e.g. 2026-11-23T10:00:00Z")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, apperr.Invalid(path, "not an RFC 3339 timestamp with a time zone: %q", s)
	}
	if t.After(now.Add(MaxFuture)) {
		return time.Time{}, apperr.Invalid(path, "is more than %s in the future", MaxFuture)
	}
	if t.Before(oldest) {
		return time.Time{}, apperr.Invalid(path, "is before %s", oldest.Format("2006-01-02"))
	}
	return t.UTC(), nil
}

func text(set func(*Properties, string)) kind {
	return func(path string, v any, p *Properties) error {
		s, ok := v.(string)
		if !ok {
			return apperr.Invalid(path, "must be a string")
		}
		if s == "" || utf8.RuneCountInString(s) > 128 {
			return apperr.Invalid(path, "must be 1-128 characters")
		}
		if strings.TrimSpace(s) != s {
			return apperr.Invalid(path, "must not start or end with white space")
		}
		for _, r := range s {
			if unicode.IsControl(r) {
				return apperr.Invalid(path, "must not hold control characters")
			}
		}
		set(p, s)
		return nil
	}
}

func integer(lo, hi int64, set func(*Properties, int64)) kind {
	return func(path string, v any, p *Properties) error {
		num, ok := v.(json.Number)
		if !ok {
			return apperr.Invalid(path, "must be an integer from %d to %d", lo, hi)
		}
		n, err := num.Int64()
		if err != nil {
			// 12.0 is an integer written as a float; 12.5 and 1e3 with a fraction are not.
			f, ferr := num.Float64()
			if ferr != nil || f != math.Trunc(f) || f < math.MinInt64 || f > math.MaxInt64 {
				return apperr.Invalid(path, "must be an integer from %d to %d (amounts are in minor units)", lo, hi)
			}
			n = int64(f)
		}
		if n < lo || n > hi {
			return apperr.Invalid(path, "must be an integer from %d to %d, got %d", lo, hi, n)
		}
		set(p, n)
		return nil
	}
}

func boolean(set func(*Properties, bool)) kind {
	return func(path string, v any, p *Properties) error {
		b, ok := v.(bool)
		if !ok {
			return apperr.Invalid(path, "must be true or false")
		}
		set(p, b)
		return nil
	}
}

func currency(set func(*Properties, string)) kind {
	return func(path string, v any, p *Properties) error {
		s, ok := v.(string)
		if !ok || !IsCurrency(s) {
			return apperr.Invalid(path, "must be an ISO 4217 currency code such as EUR")
		}
		set(p, s)
		return nil
	}
}

func token(set func(*Properties, string)) kind {
	return func(path string, v any, p *Properties) error {
		s, ok := v.(string)
		if !ok || !tokenPattern.MatchString(s) {
			return apperr.Invalid(path, "must be 1-32 characters of a-z 0-9 _")
		}
		set(p, s)
		return nil
	}
}

// code accepts referral codes case-insensitively and stores them upper-case.
func code(set func(*Properties, string)) kind {
	return func(path string, v any, p *Properties) error {
		s, ok := v.(string)
		if !ok || !codePattern.MatchString(s) {
			return apperr.Invalid(path, "must be a referral code: 3-32 characters of A-Z 0-9 -")
		}
		set(p, strings.ToUpper(s))
		return nil
	}
}

// maxProfileFields bounds one profile_update.
const maxProfileFields = 30

func profileFields(path string, v any, p *Properties) error {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return apperr.Invalid(path, "must be a non-empty object of field name to value, e.g. {\"birthday\":\"04-12\"}")
	}
	if len(m) > maxProfileFields {
		return apperr.Invalid(path, "holds %d fields; the limit is %d", len(m), maxProfileFields)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]string, len(m))
	for _, k := range names {
		fp := path + "." + k
		if !fieldPattern.MatchString(k) {
			return apperr.Invalid(fp, "field names are 1-40 characters of a-z 0-9 _, starting with a letter")
		}
		var s string
		switch x := m[k].(type) {
		case string:
			s = x
		case bool:
			s = fmt.Sprint(x)
		case json.Number:
			s = x.String()
		case []any: // preferences: a list of strings
			parts := make([]string, 0, len(x))
			for i, e := range x {
				es, ok := e.(string)
				if !ok || es == "" || len(es) > 64 || strings.Contains(es, ",") {
					return apperr.Invalid(fmt.Sprintf("%s[%d]", fp, i), "must be a string of 1-64 characters without commas")
				}
				parts = append(parts, es)
			}
			if len(parts) == 0 || len(parts) > 50 {
				return apperr.Invalid(fp, "must hold 1-50 values")
			}
			s = strings.Join(parts, ",")
		default:
			return apperr.Invalid(fp, "must be a string, number, boolean or list of strings")
		}
		if s == "" || utf8.RuneCountInString(s) > 256 {
			return apperr.Invalid(fp, "must be 1-256 characters")
		}
		if k == "birthday" && !validBirthday(s) {
			return apperr.Invalid(fp, "must be a day of the year as MM-DD, e.g. 04-12")
		}
		out[k] = s
	}
	p.Fields = out
	return nil
}

func validBirthday(s string) bool {
	// 2000 is a leap year, so 02-29 is accepted.
	t, err := time.Parse("2006-01-02", "2000-"+s)
	return err == nil && len(s) == 5 && t.Format("01-02") == s
}
