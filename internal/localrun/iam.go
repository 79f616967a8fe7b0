package localrun

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Statement is one Allow statement of a function's inline policy, resolved: its actions and
// resource ARNs (as the local model names them).
type Statement struct {
	Actions   []string
	Resources []string
}

// Policy resolves the function's inline policy statements (the template's Policies).
func (s *Stack) Policy(logicalID string) ([]Statement, error) {
	var f *functionSpec
	for _, fn := range s.model.functions {
		if fn.LogicalID == logicalID {
			f = fn
		}
	}
	if f == nil {
		return nil, fmt.Errorf("no function %s", logicalID)
	}
	raw, err := s.model.r.resolve(f.props["Policies"])
	if err != nil {
		return nil, fmt.Errorf("%s: Policies: %w", logicalID, err)
	}
	var out []Statement
	for _, p := range list(raw) {
		for _, st := range list(p["Statement"]) {
			if e, _ := st["Effect"].(string); e != "Allow" {
				continue
			}
			out = append(out, Statement{Actions: strs(st["Action"]), Resources: strs(st["Resource"])})
		}
	}
	return out, nil
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, scalarString(e))
		}
		return out
	}
	return nil
}

// AuditIAM checks the calls the functions logged (Config.ExtraEnv AWS_CALL_AUDIT=1 and
// Config.Quiet, so that the logs are files) against their policies: IAM is not enforced
// locally, so a call the template does not allow would only fail on AWS. It returns each
// disallowed call, and each policy action no call used (granted but unexercised: too broad, or
// a path the tests did not take).
func (s *Stack) AuditIAM() (denied, unused []string, err error) {
	for _, f := range s.model.functions {
		pol, err := s.Policy(f.LogicalID)
		if err != nil {
			return nil, nil, err
		}
		calls, err := loggedCalls(s.LogPath(f.LogicalID))
		if err != nil {
			return nil, nil, err
		}
		used := map[string]bool{}
		for _, c := range calls {
			arn := s.callARN(c.Resource)
			ok := false
			for i, st := range pol {
				for _, a := range st.Actions {
					if !globMatch(a, c.Action) {
						continue
					}
					for _, r := range st.Resources {
						if globMatch(r, arn) {
							ok = true
							used[fmt.Sprintf("%d %s", i, a)] = true
						}
					}
				}
			}
			if !ok {
				denied = append(denied, fmt.Sprintf("%s: %s on %s", f.LogicalID, c.Action, arn))
			}
		}
		for i, st := range pol {
			for _, a := range st.Actions {
				if !used[fmt.Sprintf("%d %s", i, a)] {
					unused = append(unused, fmt.Sprintf("%s: %s on %s", f.LogicalID, a, strings.Join(st.Resources, ", ")))
				}
			}
		}
	}
	sort.Strings(denied)
	sort.Strings(unused)
	return denied, unused, nil
}

type loggedCall struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

func loggedCalls(path string) ([]loggedCall, error) {
	fh, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil // never invoked
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var out []loggedCall
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"aws call"`) {
			continue
		}
		var c loggedCall
		if err := json.Unmarshal(line, &c); err == nil && c.Action != "" {
			out = append(out, c)
		}
	}
	return out, sc.Err()
}

// callARN turns an audited resource ("table/<name>[/index/<i>]", "queue/<name>") into the ARN
// the model gives it.
func (s *Stack) callARN(r string) string {
	switch {
	case strings.HasPrefix(r, "table/"):
		name, rest, _ := strings.Cut(strings.TrimPrefix(r, "table/"), "/")
		arn := tableARN(name)
		if rest != "" {
			arn += "/" + rest
		}
		return arn
	case strings.HasPrefix(r, "queue/"):
		return queueARN(strings.TrimPrefix(r, "queue/"))
	}
	return r
}

// globMatch matches IAM's wildcards: * any run of characters, ? one.
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	ok, _ := regexp.MatchString(re, s)
	return ok
}
