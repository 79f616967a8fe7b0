// Package localruntest is the TestMain of the packages whose tests run against DynamoDB Local:
// the tables they need, started once per test binary from template.yaml itself.
package localruntest

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

// Tables describes the stack of a test binary.
type Tables struct {
	Name   string   // the package, for messages
	Prefix string   // of the resource names, distinct per package (binaries run in parallel)
	Tables []string // logical ids of template.yaml's tables; no function is built
	// ShortRuns: under -short the tests still run, without a stack (those needing one skip
	// themselves); otherwise -short skips the package.
	ShortRuns bool
}

// Main starts the tables, sets *stack, runs the tests, stops the stack and exits with the tests'
// code. setup, when set, runs once the stack is up (building clients on it).
func (t Tables) Main(m *testing.M, stack **localrun.Stack, setup func(*localrun.Stack) error) {
	flag.Parse()
	if testing.Short() {
		if t.ShortRuns {
			os.Exit(m.Run())
		}
		fmt.Printf("%s: skipped in -short mode (needs DynamoDB Local)\n", t.Name)
		os.Exit(0)
	}
	repo, err := emulator.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	st, err := localrun.Start(ctx, localrun.Config{RepoDir: repo, Only: t.Tables, Quiet: true, ManualSchedules: true, ResourcePrefix: t.Prefix})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: start local stack: %v\n", t.Name, err)
		os.Exit(1)
	}
	*stack = st
	if setup != nil {
		if err := setup(st); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", t.Name, err)
			_ = st.Close()
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = st.Close()
	os.Exit(code)
}
