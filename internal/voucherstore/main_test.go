package voucherstore_test

import (
	"testing"

	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/localrun/localruntest"
)

var stack *localrun.Stack

// TestMain runs the tests against DynamoDB Local with the VouchersTable and CustomersTable of
// template.yaml itself (the rest of the template is left out: no functions to build).
func TestMain(m *testing.M) {
	localruntest.Tables{Name: "voucherstore", Prefix: "vs-", Tables: []string{"VouchersTable", "CustomersTable", "StatsTable"}}.Main(m, &stack, nil)
}
