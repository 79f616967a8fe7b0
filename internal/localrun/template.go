package localrun

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/referral-engine/referral-engine/internal/samfile"
)

// The local stand-ins for the account and region every ARN and URL uses; the emulators use the
// same account id.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
)

// template and resource are the template file as samfile reads it.
type (
	template = samfile.File
	resource = samfile.Resource
)

func loadTemplate(path string) (*template, error) { return samfile.Load(path) }

// noValue is what AWS::NoValue resolves to: the enclosing property or list item is dropped.
type noValueT struct{}

var noValue = noValueT{}

// resolver evaluates intrinsic functions against the local stack.
type resolver struct {
	t      *template
	params map[string]string
	// ref and getAtt give resources' local names and attributes.
	ref    func(id string) (string, error)
	getAtt func(id, attr string) (string, error)
}

func (r *resolver) resolve(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			rv, err := r.resolve(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if rv != noValue {
				out[k] = rv
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			rv, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if rv != noValue {
				out = append(out, rv)
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

func (r *resolver) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref needs a name, got %v", arg)
		}
		return r.refName(name)
	case "Fn::GetAtt":
		var parts []string
		switch a := arg.(type) {
		case string:
			id, attr, _ := strings.Cut(a, ".")
			parts = []string{id, attr}
		case []any:
			rv, err := r.resolve(a)
			if err != nil {
				return nil, err
			}
			for _, p := range rv.([]any) {
				parts = append(parts, fmt.Sprint(p))
			}
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt needs [LogicalId, Attribute], got %v", arg)
		}
		return r.getAtt(parts[0], parts[1])
	case "Fn::Sub":
		var tmpl string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			tmpl = a
		case []any:
			if len(a) != 2 {
				return nil, fmt.Errorf("Fn::Sub list form needs [template, variables]")
			}
			tmpl, _ = a[0].(string)
			m, _ := a[1].(map[string]any)
			for k, v := range m {
				rv, err := r.resolve(v)
				if err != nil {
					return nil, err
				}
				vars[k] = rv
			}
		default:
			return nil, fmt.Errorf("Fn::Sub: unexpected %T", arg)
		}
		return r.sub(tmpl, vars)
	case "Fn::Join":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, errors.New("Fn::Join needs [delimiter, list]")
		}
		sep, _ := a[0].(string)
		rv, err := r.resolve(a[1])
		if err != nil {
			return nil, err
		}
		list, ok := rv.([]any)
		if !ok {
			return nil, errors.New("Fn::Join: second argument is not a list")
		}
		s := make([]string, len(list))
		for i, e := range list {
			s[i] = scalarString(e)
		}
		return strings.Join(s, sep), nil
	case "Fn::Select":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, errors.New("Fn::Select needs [index, list]")
		}
		rv, err := r.resolve(a)
		if err != nil {
			return nil, err
		}
		ra := rv.([]any)
		i, err := toInt(ra[0])
		if err != nil {
			return nil, fmt.Errorf("Fn::Select index: %w", err)
		}
		list, _ := ra[1].([]any)
		if i < 0 || i >= len(list) {
			return nil, fmt.Errorf("Fn::Select index %d out of range", i)
		}
		return list[i], nil
	case "Fn::Split":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, errors.New("Fn::Split needs [delimiter, string]")
		}
		rv, err := r.resolve(a[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(scalarString(rv), scalarString(a[0])) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::FindInMap":
		a, ok := arg.([]any)
		if !ok || len(a) < 3 {
			return nil, errors.New("Fn::FindInMap needs [map, key, key]")
		}
		rv, err := r.resolve(a[:3])
		if err != nil {
			return nil, err
		}
		ra := rv.([]any)
		m1, _ := r.t.Mappings[scalarString(ra[0])].(map[string]any)
		m2, _ := m1[scalarString(ra[1])].(map[string]any)
		v, ok := m2[scalarString(ra[2])]
		if !ok {
			return nil, fmt.Errorf("Fn::FindInMap: no %v", ra)
		}
		return r.resolve(v)
	case "Fn::If":
		a, ok := arg.([]any)
		if !ok || len(a) != 3 {
			return nil, errors.New("Fn::If needs [condition, then, else]")
		}
		c, err := r.condition(scalarString(a[0]))
		if err != nil {
			return nil, err
		}
		if c {
			return r.resolve(a[1])
		}
		return r.resolve(a[2])
	case "Fn::Base64":
		return nil, errors.New("Fn::Base64 is not supported by the local runner")
	default:
		return nil, fmt.Errorf("%s is not supported by the local runner", fn)
	}
}

func (r *resolver) refName(name string) (any, error) {
	switch name {
	case "AWS::Region":
		return Region, nil
	case "AWS::AccountId":
		return AccountID, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return "local", nil
	case "AWS::StackId":
		return "arn:aws:cloudformation:" + Region + ":" + AccountID + ":stack/local/local", nil
	case "AWS::NoValue":
		return noValue, nil
	case "AWS::NotificationARNs":
		return []any{}, nil
	}
	if v, ok := r.params[name]; ok {
		if p := r.t.Parameters[name]; p != nil {
			if typ, _ := p["Type"].(string); strings.HasPrefix(typ, "List<") || typ == "CommaDelimitedList" {
				var out []any
				for _, s := range strings.Split(v, ",") {
					out = append(out, strings.TrimSpace(s))
				}
				return out, nil
			}
		}
		return v, nil
	}
	if _, ok := r.t.Resources[name]; ok {
		return r.ref(name)
	}
	return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
}

// sub expands ${Name}, ${Resource.Attr} and ${!Literal} in tmpl.
func (r *resolver) sub(tmpl string, vars map[string]any) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		b.WriteString(tmpl[:i])
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("Fn::Sub: unclosed ${ in %q", tmpl)
		}
		name := tmpl[i+2 : i+j]
		tmpl = tmpl[i+j+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v = x
		} else if id, attr, ok := strings.Cut(name, "."); ok && r.t.Resources[id] != nil {
			v, err = r.getAtt(id, attr)
		} else {
			v, err = r.refName(name)
		}
		if err != nil {
			return "", fmt.Errorf("Fn::Sub ${%s}: %w", name, err)
		}
		b.WriteString(scalarString(v))
	}
}

func (r *resolver) condition(name string) (bool, error) {
	c, ok := r.t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	return r.evalCondition(c)
}

func (r *resolver) evalCondition(c any) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("condition: unexpected %v", c)
	}
	for fn, arg := range m {
		a, _ := arg.([]any)
		switch fn {
		case "Condition":
			return r.condition(scalarString(arg))
		case "Fn::Equals":
			rv, err := r.resolve(a)
			if err != nil {
				return false, err
			}
			ra := rv.([]any)
			if len(ra) != 2 {
				return false, errors.New("Fn::Equals needs two values")
			}
			return scalarString(ra[0]) == scalarString(ra[1]), nil
		case "Fn::Not", "Fn::And", "Fn::Or":
			var vals []bool
			for _, e := range a {
				b, err := r.evalCondition(e)
				if err != nil {
					return false, err
				}
				vals = append(vals, b)
			}
			switch fn {
			case "Fn::Not":
				return len(vals) == 1 && !vals[0], nil
			case "Fn::And":
				for _, v := range vals {
					if !v {
						return false, nil
					}
				}
				return true, nil
			default:
				for _, v := range vals {
					if v {
						return true, nil
					}
				}
				return false, nil
			}
		default:
			return false, fmt.Errorf("condition function %s is not supported", fn)
		}
	}
	return false, nil
}

// scalarString renders a resolved scalar the way CloudFormation passes it on (numbers without
// a trailing .0, booleans as true/false).
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = scalarString(e)
		}
		return strings.Join(s, ",")
	default:
		return fmt.Sprint(x)
	}
}

func toInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		return int(x), nil
	case string:
		return strconv.Atoi(strings.TrimSpace(x))
	default:
		return 0, fmt.Errorf("not a number: %v", v)
	}
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		return strconv.ParseBool(x)
	default:
		return false, fmt.Errorf("not a boolean: %v", v)
	}
}

// mergeGlobals applies SAM's Globals rules: maps merge key by key, anything else in the
// resource wins over the global value.
func mergeGlobals(global, local any) any {
	gm, gok := global.(map[string]any)
	lm, lok := local.(map[string]any)
	if gok && lok {
		out := make(map[string]any, len(gm)+len(lm))
		for k, v := range gm {
			out[k] = v
		}
		for k, v := range lm {
			out[k] = mergeGlobals(gm[k], v)
		}
		return out
	}
	if local == nil {
		return global
	}
	return local
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
