package dynamostore_test

import (
	"testing"

	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/localrun/localruntest"
)

var stack *localrun.Stack

// TestMain runs the tests against DynamoDB Local with the InteractionsTable, CustomersTable and
// StatsTable of template.yaml itself (no functions to build).
func TestMain(m *testing.M) {
	localruntest.Tables{Name: "dynamostore", Prefix: "ds-", Tables: []string{"InteractionsTable", "CustomersTable", "StatsTable"}}.Main(m, &stack, nil)
}
