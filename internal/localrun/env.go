package localrun

import "fmt"

// FunctionEnvironments resolves every function's template environment variables as Start
// would (tables by their local names, queues as URLs on sqsEndpoint, parameters at their
// defaults unless params overrides them), without starting anything: for tools that run the
// binaries themselves, such as the cold start benchmark.
func FunctionEnvironments(templatePath, prefix, sqsEndpoint string, params map[string]string) (map[string]map[string]string, error) {
	tpl, err := loadTemplate(templatePath)
	if err != nil {
		return nil, err
	}
	m, err := newModel(tpl, prefix, params, sqsEndpoint)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", templatePath, err)
	}
	out := make(map[string]map[string]string, len(m.functions))
	for _, f := range m.functions {
		env, err := m.environment(f)
		if err != nil {
			return nil, err
		}
		out[f.LogicalID] = env
	}
	return out, nil
}
