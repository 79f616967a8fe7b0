package dynamostore_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/emulator"
	"github.com/referral-engine/referral-engine/internal/localrun"
)

var stack *localrun.Stack

// TestMain runs the tests against DynamoDB Local with the InteractionsTable, CustomersTable and
// StatsTable of template.yaml itself (no functions to build).
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("dynamostore: skipped in -short mode (needs DynamoDB Local)")
		os.Exit(0)
	}
	repo, err := emulator.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	stack, err = localrun.Start(ctx, localrun.Config{RepoDir: repo, Only: []string{"InteractionsTable", "CustomersTable", "StatsTable"}, Quiet: true, ManualSchedules: true, ResourcePrefix: "ds-"})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dynamostore: start local stack:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = stack.Close()
	os.Exit(code)
}
