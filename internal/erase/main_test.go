package erase_test

import (
	"testing"

	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/localrun/localruntest"
)

var stack *localrun.Stack

// tables erasure touches, from template.yaml itself (no functions to build).
var tables = []string{"CustomersTable", "InteractionsTable", "VouchersTable", "ReferralsTable", "LedgerTable", "StatsTable"}

// TestMain runs the emulator tests against DynamoDB Local; the unit tests need none, so -short
// runs them alone.
func TestMain(m *testing.M) {
	localruntest.Tables{Name: "erase", Prefix: "er-", Tables: tables, ShortRuns: true}.Main(m, &stack, nil)
}
