package localrun

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
)

// AuditIAM finds a call the policy does not allow and an action the calls never used; index
// wildcards match.
func TestAuditIAM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts emulators")
	}
	cfg := testConfig()
	cfg.ResourcePrefix = "lriam-"
	cfg.Only = []string{"WorkQueue", "WorkDLQ", "WorkerFunction", "ProcessedTable"}
	st, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pol, err := st.Policy("WorkerFunction")
	if err != nil || len(pol) != 2 || !slices.Equal(pol[0].Actions, []string{"dynamodb:PutItem", "dynamodb:GetItem"}) ||
		pol[0].Resources[0] != tableARN(st.Resources["ProcessedTable"]) {
		t.Fatalf("policy %+v %v", pol, err)
	}
	table := st.Resources["ProcessedTable"]
	log := strings.Join([]string{
		`{"level":"INFO","message":"aws call","action":"dynamodb:PutItem","resource":"table/` + table + `"}`,
		`{"level":"INFO","message":"aws call","action":"dynamodb:Query","resource":"table/` + table + `/index/by-day"}`,
		`{"level":"INFO","message":"aws call","action":"dynamodb:DeleteItem","resource":"table/` + table + `"}`,
		`{"level":"INFO","message":"aws call","action":"dynamodb:Query","resource":"table/` + table + `"}`,
		`{"level":"INFO","message":"request"}`,
	}, "\n")
	if err := os.WriteFile(st.LogPath("WorkerFunction"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	denied, unused, err := st.AuditIAM()
	if err != nil {
		t.Fatal(err)
	}
	arn := tableARN(table)
	wantDenied := []string{"WorkerFunction: dynamodb:DeleteItem on " + arn, "WorkerFunction: dynamodb:Query on " + arn}
	if !slices.Equal(denied, wantDenied) {
		t.Errorf("denied %q, want %q", denied, wantDenied)
	}
	if !slices.Equal(unused, []string{"WorkerFunction: dynamodb:GetItem on " + arn}) {
		t.Errorf("unused %q", unused)
	}
}
