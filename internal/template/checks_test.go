package template

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The checks that need only the template, by the name the testdata files use in "# check:".
var templateChecks = map[string]func(*Template) []string{
	"queues":     checkQueueRedrive,
	"sqs":        checkSQSEventSources,
	"visibility": checkVisibilityTimeouts,
	"globals":    checkGlobals,
	"memory":     checkMemorySize,
	"tables":     checkTables,
	"policies":   checkPolicies,
	"http":       checkHTTPRoutes,
	"schema":     checkSchema,
}

func loadTestdata(t *testing.T, name string) *Template {
	t.Helper()
	tmpl, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// assertProblems fails unless every want is a substring of one problem and every problem is
// matched by a want: a check must catch what it is for, and only that.
func assertProblems(t *testing.T, got, wants []string) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, g := range got {
			if !used[i] && strings.Contains(g, w) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("not caught: %s", w)
		}
	}
	for i, g := range got {
		if !used[i] {
			t.Errorf("unexpected problem: %s", g)
		}
	}
}

// TestChecksPassGoodTemplate: a template that follows every rule gives no problem, so the checks
// are not just failing everything.
func TestChecksPassGoodTemplate(t *testing.T) {
	tmpl := loadTestdata(t, "good.yaml")
	for name, check := range templateChecks {
		for _, p := range check(tmpl) {
			t.Errorf("%s: %s", name, p)
		}
	}
}

// TestChecksCatchBrokenTemplates feeds each testdata/broken/*.yaml to the check named in its
// "# check:" line and expects exactly the problems of its "# want:" lines.
func TestChecksCatchBrokenTemplates(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "broken", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/broken/*.yaml (%v)", err)
	}
	covered := map[string]bool{}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var checkName string
			var wants []string
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "# check: "); ok {
					checkName = strings.TrimSpace(v)
				}
				if v, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, strings.TrimSpace(v))
				}
			}
			check := templateChecks[checkName]
			if check == nil || len(wants) == 0 {
				t.Fatalf("%s needs a '# check: <%s>' line and '# want: <problem>' lines", f, strings.Join(sortedKeys(templateChecks), "|"))
			}
			covered[checkName] = true
			tmpl, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			assertProblems(t, check(tmpl), wants)
		})
	}
	for name := range templateChecks {
		if !covered[name] {
			t.Errorf("no testdata/broken file exercises the %q check", name)
		}
	}
}

func TestBuildChecksCatchBrokenBuilds(t *testing.T) {
	dir := filepath.Join("testdata", "build")
	tmpl := loadTestdata(t, filepath.Join("build", "template.yaml"))
	mk, err := os.ReadFile(filepath.Join(dir, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("build", func(t *testing.T) {
		assertProblems(t, checkBuild(tmpl, mk, dir), []string{
			"NoTargetFunction: the Makefile has no build-NoTargetFunction target",
			"NoMainFunction: functions/missing/main.go does not exist",
			`GoBuildFunction: needs Metadata: {BuildMethod: makefile}, has BuildMethod "go1.x"`,
			"NoMetadataFunction: needs Metadata: {BuildMethod: makefile}, has BuildMethod nothing",
			`SubdirCodeUriFunction: CodeUri must be . (the repo root, where the Makefile is), is "functions/ok"`,
			"NoArtifactsFunction: Makefile target build-NoArtifactsFunction must write $(ARTIFACTS_DIR)/bootstrap",
			"NoDirFunction: Makefile target build-NoDirFunction builds no ./functions/<dir>",
		})
	})
	t.Run("orphans", func(t *testing.T) {
		assertProblems(t, checkOrphanTargets(tmpl, mk), []string{
			"Makefile target build-RenamedFunction builds a function that is not in the template",
		})
	})
}

func TestHTTPRoutes(t *testing.T) {
	got := loadTestdata(t, "good.yaml").HTTPRoutes()
	want := map[string]string{
		"GET /v1/things/{id}": "ApiFunction",
		"PUT /v1/things/{id}": "ApiFunction",
		"$default":            "OtherFunction",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HTTPRoutes() = %v, want %v", got, want)
	}
}

func TestAccessors(t *testing.T) {
	tmpl := loadTestdata(t, "good.yaml")
	if got, want := tmpl.Functions(), []string{"ApiFunction", "OtherFunction", "WorkerFunction"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Functions() = %v, want %v", got, want)
	}
	if got, want := tmpl.Queues(), []string{"OtherDLQ", "OtherQueue", "WorkDLQ", "WorkQueue"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Queues() = %v, want %v", got, want)
	}
	if got, want := tmpl.DLQs(), []string{"OtherDLQ", "WorkDLQ"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DLQs() = %v, want %v", got, want)
	}
	if got, want := tmpl.Tables(), []string{"Things"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Tables() = %v, want %v", got, want)
	}
	for fn, want := range map[string]int{"ApiFunction": 10, "WorkerFunction": 20, "OtherFunction": 5} {
		if got, err := tmpl.FunctionTimeout(fn); err != nil || got != want {
			t.Errorf("FunctionTimeout(%s) = %d, %v; want %d", fn, got, err, want)
		}
	}
	noGlobals, err := Parse([]byte("Resources:\n  F:\n    Type: AWS::Serverless::Function\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := noGlobals.FunctionTimeout("F"); got != DefaultFunctionTimeout {
		t.Errorf("FunctionTimeout without Timeout anywhere = %d, want %d", got, DefaultFunctionTimeout)
	}
}

func TestFunctionDirsOfTestdataMakefile(t *testing.T) {
	dirs, err := FunctionDirs(filepath.Join("testdata", "build", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if dirs["OkFunction"] != "functions/ok" || dirs["GlobalCodeUriFunction"] != "functions/ok" || dirs["NoDirFunction"] != "" {
		t.Errorf("FunctionDirs() = %v", dirs)
	}
	if _, ok := dirs["NoTargetFunction"]; ok {
		t.Error("FunctionDirs() lists a function without a target")
	}
}

func TestParseRejects(t *testing.T) {
	for name, src := range map[string]string{
		"not yaml":     "Resources: [",
		"no resources": "Parameters: {}\n",
		"no type":      "Resources:\n  X:\n    Properties: {}\n",
	} {
		if _, err := Parse([]byte(src)); err == nil {
			t.Errorf("%s: Parse succeeded", name)
		}
	}
}
