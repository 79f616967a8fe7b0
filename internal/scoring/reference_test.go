package scoring

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// defaultsYAML documents the defaults; defaults_gen.go is it as Go (TestGeneratedDefaults).
//
//go:embed defaults.yaml
var defaultsYAML []byte

// decodeStrict and loadMerged are the loader before overrides became JSON only (YAML merge,
// print, strict decode), kept as the reference the JSON path is compared with.
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
		mergeMaps(merged, m)
	}
	doc, err := yaml.Marshal(merged)
	if err != nil {
		return nil, err
	}
	return decodeStrict(doc)
}

func mergeMaps(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeMaps(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}
