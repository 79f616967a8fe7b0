package template

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The repo root, seen from this package's folder.
var repoRoot = filepath.Join("..", "..")

func loadProject(t *testing.T) *Template {
	t.Helper()
	tmpl, err := Load(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatalf("load template.yaml: %v", err)
	}
	return tmpl
}

func readMakefile(t *testing.T) []byte {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

func reportProblems(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Errorf("template.yaml: %s", p)
	}
}

func TestTemplateLoads(t *testing.T) {
	tmpl := loadProject(t)
	if len(tmpl.Functions()) == 0 {
		t.Fatal("template.yaml declares no AWS::Serverless::Function")
	}
	for _, fn := range tmpl.Functions() {
		if _, err := tmpl.FunctionTimeout(fn); err != nil {
			t.Error(err)
		}
	}
}

func TestTemplateMatchesCloudFormationSchema(t *testing.T) {
	reportProblems(t, checkSchema(loadProject(t)))
}

func TestQueuesHaveDeadLetterQueues(t *testing.T) {
	tmpl := loadProject(t)
	if len(tmpl.Queues()) > 0 && len(tmpl.DLQs()) == 0 {
		t.Error("template.yaml has queues but no dead-letter queue")
	}
	reportProblems(t, checkQueueRedrive(tmpl))
}

func TestSQSEventSourcesReportBatchItemFailures(t *testing.T) {
	reportProblems(t, checkSQSEventSources(loadProject(t)))
}

func TestVisibilityTimeoutCoversConsumers(t *testing.T) {
	reportProblems(t, checkVisibilityTimeouts(loadProject(t)))
}

func TestGlobals(t *testing.T) {
	reportProblems(t, checkGlobals(loadProject(t)))
}

func TestMemorySizeAtMost128(t *testing.T) {
	reportProblems(t, checkMemorySize(loadProject(t)))
}

func TestTablesOnDemandWithPointInTimeRecovery(t *testing.T) {
	reportProblems(t, checkTables(loadProject(t)))
}

func TestPoliciesLeastPrivilege(t *testing.T) {
	reportProblems(t, checkPolicies(loadProject(t)))
}

func TestHTTPRoutesOneFunctionEach(t *testing.T) {
	tmpl := loadProject(t)
	reportProblems(t, checkHTTPRoutes(tmpl))
	for route, fn := range tmpl.HTTPRoutes() {
		if !slices.Contains(tmpl.Functions(), fn) {
			t.Errorf("route %s maps to %s, which is not a function", route, fn)
		}
	}
}

func TestFunctionsBuildWithMakefile(t *testing.T) {
	reportProblems(t, checkBuild(loadProject(t), readMakefile(t), repoRoot))
}

func TestMakefileHasNoOrphanBuildTargets(t *testing.T) {
	reportProblems(t, checkOrphanTargets(loadProject(t), readMakefile(t)))
}

func TestFunctionDirs(t *testing.T) {
	dirs, err := FunctionDirs(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range loadProject(t).Functions() {
		if d := dirs[fn]; !strings.HasPrefix(d, "functions/") {
			t.Errorf("FunctionDirs()[%s] = %q, want functions/<name>", fn, d)
		}
	}
}

// Every function has a sample event for `sam local invoke -e`: events/<folder>*.json, or for
// the API functions serving several routes, one of their routes' samples.
func TestEveryFunctionHasASampleEvent(t *testing.T) {
	dirs, err := FunctionDirs(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	routeSamples := map[string]string{"read-api": "get-customer.json", "marketing-api": "get-leaderboard.json"}
	for _, fn := range loadProject(t).Functions() {
		name := filepath.Base(dirs[fn])
		matches, _ := filepath.Glob(filepath.Join(repoRoot, "events", name+"*.json"))
		if f, ok := routeSamples[name]; ok {
			matches, _ = filepath.Glob(filepath.Join(repoRoot, "events", f))
		}
		if len(matches) == 0 {
			t.Errorf("%s: no sample event events/%s*.json", fn, name)
		}
	}
}

// Sample events serve `sam local invoke -e` and the Go tests; a broken one fails both.
func TestEventFixturesAreJSON(t *testing.T) {
	dir := filepath.Join(repoRoot, "events")
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no events/*.json yet")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
			continue
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
