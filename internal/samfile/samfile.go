// Package samfile reads a SAM (CloudFormation) template into plain Go values: mappings, lists
// and scalars as YAML decodes them, with the intrinsic-function tags (!Ref, !GetAtt, !Sub...)
// rewritten to the long form CloudFormation uses ({"Ref": "X"}, {"Fn::GetAtt": ["X", "Arn"]}),
// so that one reader serves both YAML spellings. The local runner resolves it
// (internal/localrun) and the template checks inspect it (internal/template).
//
// goformation is not used to read: it resolves Ref and GetAtt of resources to empty values, and
// its typed model cannot hold every SAM property this project uses.
package samfile

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is a template's sections.
type File struct {
	Parameters map[string]map[string]any
	Conditions map[string]any
	Mappings   map[string]any
	Globals    map[string]any
	Resources  map[string]*Resource
	Order      []string // resource logical ids, in file order
}

// Resource is one entry of the Resources section.
type Resource struct {
	LogicalID  string
	Type       string
	Properties map[string]any // never nil
	Metadata   map[string]any
	Condition  string
	Raw        map[string]any // the whole entry
}

// Load reads and parses the template at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Parse parses a template from YAML (or JSON, which is YAML).
func Parse(b []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("empty template")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("top level is not a mapping")
	}
	t := &File{Resources: map[string]*Resource{}}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i].Value, root.Content[i+1]
		switch key {
		case "Resources":
			for j := 0; j+1 < len(val.Content); j += 2 {
				id := val.Content[j].Value
				v, err := convert(val.Content[j+1])
				if err != nil {
					return nil, fmt.Errorf("resource %s: %w", id, err)
				}
				m, _ := v.(map[string]any)
				r := &Resource{LogicalID: id, Raw: m}
				r.Type, _ = m["Type"].(string)
				r.Properties, _ = m["Properties"].(map[string]any)
				r.Metadata, _ = m["Metadata"].(map[string]any)
				r.Condition, _ = m["Condition"].(string)
				if r.Properties == nil {
					r.Properties = map[string]any{}
				}
				t.Resources[id] = r
				t.Order = append(t.Order, id)
			}
		case "Parameters", "Conditions", "Mappings", "Globals":
			v, err := convert(val)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			m, _ := v.(map[string]any)
			switch key {
			case "Parameters":
				t.Parameters = map[string]map[string]any{}
				for k, p := range m {
					pm, _ := p.(map[string]any)
					t.Parameters[k] = pm
				}
			case "Conditions":
				t.Conditions = m
			case "Mappings":
				t.Mappings = m
			case "Globals":
				t.Globals = m
			}
		}
	}
	if len(t.Resources) == 0 {
		return nil, fmt.Errorf("template has no Resources")
	}
	return t, nil
}

// convert turns a YAML node into plain Go values, rewriting intrinsic-function tags into their
// JSON form.
func convert(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return convert(n.Alias)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		fn := n.Tag[1:]
		var arg any
		if n.Kind == yaml.ScalarNode {
			arg = n.Value
		} else {
			n2 := *n
			n2.Tag = ""
			v, err := convert(&n2)
			if err != nil {
				return nil, err
			}
			arg = v
		}
		switch fn {
		case "Ref", "Condition":
			return map[string]any{fn: arg}, nil
		case "GetAtt":
			if s, ok := arg.(string); ok {
				id, attr, _ := strings.Cut(s, ".")
				arg = []any{id, attr}
			}
		}
		return map[string]any{"Fn::" + fn: arg}, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return convert(n.Content[0])
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	default:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		return v, nil
	}
}

// KeepOnly drops every resource but ids.
func (t *File) KeepOnly(ids []string) error {
	keep := map[string]bool{}
	for _, id := range ids {
		if t.Resources[id] == nil {
			return fmt.Errorf("no resource %s", id)
		}
		keep[id] = true
	}
	var order []string
	for _, id := range t.Order {
		if keep[id] {
			order = append(order, id)
		} else {
			delete(t.Resources, id)
		}
	}
	t.Order = order
	return nil
}
