package erase_test

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

// tables erasure touches, from template.yaml itself (no functions to build).
var tables = []string{"CustomersTable", "InteractionsTable", "VouchersTable", "ReferralsTable", "LedgerTable", "StatsTable"}

// TestMain runs the emulator tests against DynamoDB Local; the unit tests need none, so -short
// runs them alone.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	repo, err := emulator.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	stack, err = localrun.Start(ctx, localrun.Config{RepoDir: repo, Only: tables, Quiet: true, ManualSchedules: true, ResourcePrefix: "er-"})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "erase: start local stack:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = stack.Close()
	os.Exit(code)
}
