package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/getkin/kin-openapi/openapi3"
)

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("response body is not JSON: %w", err)
	}
	return v, nil
}

// Undocumented lists the paths of the object members in v that schema does not name (through
// properties, additionalProperties, allOf, anyOf and oneOf).
func Undocumented(schema *openapi3.SchemaRef, v any, path string) []string {
	if schema == nil || schema.Value == nil {
		return nil
	}
	props, extra, items := shape(schema.Value)
	var out []string
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if s, ok := props[k]; ok {
				out = append(out, Undocumented(s, x[k], p)...)
				continue
			}
			if extra.open {
				out = append(out, Undocumented(extra.schema, x[k], p)...)
				continue
			}
			if len(props) > 0 {
				out = append(out, p)
			}
		}
	case []any:
		for i, e := range x {
			out = append(out, Undocumented(items, e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return out
}

type additional struct {
	open   bool
	schema *openapi3.SchemaRef
}

// shape merges the properties, additionalProperties and items a schema and its allOf, anyOf
// and oneOf branches give.
func shape(s *openapi3.Schema) (map[string]*openapi3.SchemaRef, additional, *openapi3.SchemaRef) {
	props := map[string]*openapi3.SchemaRef{}
	var extra additional
	var items *openapi3.SchemaRef
	var walk func(s *openapi3.Schema, depth int)
	walk = func(s *openapi3.Schema, depth int) {
		if s == nil || depth > 8 {
			return
		}
		for k, p := range s.Properties {
			if _, ok := props[k]; !ok {
				props[k] = p
			}
		}
		if ap := s.AdditionalProperties; ap.Schema != nil {
			extra = additional{open: true, schema: ap.Schema}
		} else if ap.Has != nil && *ap.Has {
			extra.open = true
		}
		if s.Items != nil && items == nil {
			items = s.Items
		}
		for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, r := range group {
				if r != nil {
					walk(r.Value, depth+1)
				}
			}
		}
	}
	walk(s, 0)
	return props, extra, items
}
