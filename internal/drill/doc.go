// Package drill holds the failure drills: one generated workload (interactions, vouchers,
// clicks, referrals, refunds) is played against a clean local stack and against stacks where
// DynamoDB Local is stopped and restarted, the SQS emulator freezes, function processes are
// killed mid-batch or every SQS batch is delivered twice with random delays. Afterwards the
// customers, segments, referrals and ledger must equal the clean run's.
package drill
