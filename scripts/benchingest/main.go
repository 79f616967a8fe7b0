// Command benchingest drives N interactions through the local stack (API → record-interaction
// → SQS → rescore-customer → DynamoDB) and prints throughput, API latency and the DynamoDB
// capacity units and SQS requests consumed per interaction, beside the floor for the same work
// (one PutItem of the interaction, nothing else) timed in the same run. It is a benchmark,
// not a test: the machines are shared, so read the ratios, not the absolute figures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/loadgen"
	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/usage"
)

// usageOut, when set, gets the run's totals as JSON for the cost report (scripts/benchcost).
var usageOut = flag.String("usage-out", "", "write the measured totals (usage.Measured JSON) to this file")

func main() {
	n := flag.Int("n", 2000, "interactions to send")
	conc := flag.Int("c", 16, "concurrent storefront clients")
	customers := flag.Int("customers", 200, "distinct customers the interactions are spread over")
	flag.Parse()
	if err := run(*n, *conc, *customers); err != nil {
		fmt.Fprintln(os.Stderr, "bench-ingest:", err)
		os.Exit(1)
	}
}

func run(n, conc, customers int) error {
	ctx := context.Background()
	fmt.Printf("starting the local stack (emulators, %s)...\n", "real function binaries")
	st, err := localrun.Start(ctx, localrun.Config{Quiet: true, ManualSchedules: true, ResourcePrefix: "bench-", MaxInstances: conc}) // Lambda scales to the clients
	if err != nil {
		return err
	}
	defer st.Close()

	// A metered client for the floor, an unmetered one for the bench's own bookkeeping.
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	endpoint := func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(st.DynamoDBEndpoint) }
	metered := dynamodb.NewFromConfig(awsCfg, endpoint, awsclient.DynamoDBOptions, meter.DynamoDBOption)
	plain := dynamodb.NewFromConfig(awsCfg, endpoint, awsclient.DynamoDBOptions)
	plainSQS := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(st.SQSEndpoint) })

	now := time.Now().UTC()
	body := func(i int, prefix string) map[string]any {
		return loadgen.Purchase(fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("%s-cust-%d", prefix, i%customers),
			fmt.Sprintf("ord-%d", i), now.Add(-time.Duration(i)*time.Minute))
	}
	pct, ms := loadgen.Percentile, loadgen.MS // short names for the report lines

	// Warm up both paths so cold starts and JIT are not measured.
	table := st.Resources["InteractionsTable"]
	_, _ = loadgen.Closed(ctx, 50, conc, func(i int) error { return loadgen.PutItem(ctx, metered, table, body(i, "warm-floor")) })
	// The measured customers exist already (steady state): a customer's first segmentation is a
	// one-time cost, reported apart.
	firstMark := usage.Start(st)
	_, _ = loadgen.Closed(ctx, customers, conc, func(i int) error { return loadgen.Post(ctx, st.APIURL, st.APIKey, body(i, "sys")) })
	loadgen.WaitApplied(ctx, plain, st.Resources["CustomersTable"], "sys-cust-", customers, 5*time.Minute)
	loadgen.WaitIdle(ctx, plainSQS, st.Resources["RescoreQueue"], 2*time.Minute)
	first := usage.Sum(firstMark.Since(st))
	loadgen.WaitIdle(ctx, plainSQS, st.Resources["RescoreQueue"], 2*time.Minute)

	// Floor: one PutItem of the interaction, nothing else.
	u0 := meter.Snapshot()
	floorLat, floorWall := loadgen.Closed(ctx, n, conc, func(i int) error { return loadgen.PutItem(ctx, metered, table, body(i, "floor")) })
	floorUse := meter.Snapshot().Sub(u0)

	// The same storage work without the API and Lambda plumbing: PutItem, then SendMessage.
	meteredSQS := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(st.SQSEndpoint) })
	sideQueue, err := meteredSQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench-side-queue")})
	if err != nil {
		return err
	}
	workLat, _ := loadgen.Closed(ctx, n, conc, func(i int) error {
		b := body(i, "work")
		if err := loadgen.PutItem(ctx, metered, table, b); err != nil {
			return err
		}
		payload, _ := json.Marshal(b)
		_, err := meteredSQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: sideQueue.QueueUrl, MessageBody: aws.String(string(payload))})
		return err
	})

	// The system, end to end.
	mark := usage.Start(st)
	inv0 := st.Invocations()
	u1 := meter.Snapshot()
	start := time.Now()
	apiLat, apiWall := loadgen.Closed(ctx, n, conc, func(i int) error { return loadgen.Post(ctx, st.APIURL, st.APIKey, body(customers+i, "sys")) })
	applied := loadgen.WaitApplied(ctx, plain, st.Resources["CustomersTable"], "sys-cust-", n+customers, 5*time.Minute) - customers
	endToEnd := time.Since(start)
	loadgen.WaitIdle(ctx, plainSQS, st.Resources["RescoreQueue"], 2*time.Minute)
	runnerUse := meter.Snapshot().Sub(u1) // the event source mapping's SQS polls

	fnUse := usage.Sum(mark.Since(st))
	invoked := usage.Invoked(inv0, st.Invocations())
	pendingMarks := loadgen.CountPending(ctx, plain, st.Resources["CustomersTable"], "sys-cust-")

	// Side by side: each client alternates a POST and a bare PutItem, so both meet the same
	// background load (on this 2-core machine the consumer and the emulators share the CPU).
	sideN := max(200, n/4)
	sideAPI, sidePut := make([]time.Duration, sideN), make([]time.Duration, sideN)
	_, _ = loadgen.Closed(ctx, sideN, conc, func(i int) error {
		t := time.Now()
		if err := loadgen.Post(ctx, st.APIURL, st.APIKey, body(customers+n+i, "sys")); err != nil {
			return err
		}
		sideAPI[i] = time.Since(t)
		t = time.Now()
		err := loadgen.PutItem(ctx, plain, table, body(i, "side"))
		sidePut[i] = time.Since(t)
		return err
	})
	loadgen.WaitIdle(ctx, plainSQS, st.Resources["RescoreQueue"], 2*time.Minute)

	wcu := fnUse.WriteUnits + float64(pendingMarks) // each outstanding pending id costs one mark later
	per := func(v float64) float64 { return v / float64(n) }
	fmt.Printf("\nbench-ingest: %d purchase interactions, %d clients, %d customers, one interaction per request\n\n", n, conc, customers)
	fmt.Printf("%-34s %12s %12s %8s\n", "", "system", "floor", "ratio")
	fmt.Printf("%-34s %12.0f %12.0f %8.2f\n", "requests/s at the API", float64(n)/apiWall.Seconds(), float64(n)/floorWall.Seconds(), (float64(n)/apiWall.Seconds())/(float64(n)/floorWall.Seconds()))
	fmt.Printf("%-34s %12.2f %12.2f %8.2f\n", "latency p50 (ms)", ms(pct(apiLat, 50)), ms(pct(floorLat, 50)), ms(pct(apiLat, 50))/ms(pct(floorLat, 50)))
	fmt.Printf("%-34s %12.2f %12.2f %8.2f\n", "latency p99 (ms)", ms(pct(apiLat, 99)), ms(pct(floorLat, 99)), ms(pct(apiLat, 99))/ms(pct(floorLat, 99)))
	fmt.Printf("%-34s %12.2f %12.2f %8.2f\n", "p50, alternating POST/PutItem (ms)", ms(pct(sideAPI, 50)), ms(pct(sidePut, 50)), ms(pct(sideAPI, 50))/ms(pct(sidePut, 50)))
	fmt.Printf("%-34s %12.2f %12.2f %8.2f\n", "p99, alternating POST/PutItem (ms)", ms(pct(sideAPI, 99)), ms(pct(sidePut, 99)), ms(pct(sideAPI, 99))/ms(pct(sidePut, 99)))
	fmt.Printf("%-34s %12.2f %12s %8.2f\n", "PutItem+SendMessage p50 (ms)", ms(pct(workLat, 50)), "", ms(pct(workLat, 50))/ms(pct(floorLat, 50)))
	fmt.Printf("%-34s %12.0f %12s\n", "interactions/s end to end (applied)", float64(applied)/endToEnd.Seconds(), "-")
	fmt.Printf("%-34s %12.2f %12.2f %8.2f\n", "write units / interaction", per(wcu), per(floorUse.WriteUnits()), per(wcu)/per(floorUse.WriteUnits()))
	fmt.Printf("%-34s %12.2f %12.2f\n", "read units / interaction", per(fnUse.ReadUnits), per(floorUse.ReadUnits()))
	fmt.Printf("%-34s %12.3f %12s\n", "SQS requests / interaction (send)", per(fnUse.SQSRequests), "-")
	fmt.Printf("%-34s %12.3f %12s\n", "SQS requests / interaction (poll)", per(float64(runnerUse.SQSRequests)), "-")
	fmt.Printf("%-34s %12.2f %12.2f\n", "DynamoDB calls / interaction", per(fnUse.DynamoDBCalls), per(float64(floorUse.DynamoDBCalls)))
	fmt.Printf("\n(write units include %d applied-marks still pending at the end, 1 unit each; applied %d of %d)\n", pendingMarks, applied, n)
	fmt.Printf("a customer's first interaction (first segmentation, history, segment.changed): %.2f write units, %.2f read units, %.2f SQS sends\n",
		first.WriteUnits/float64(customers), first.ReadUnits/float64(customers), first.SQSRequests/float64(customers))
	fmt.Printf("targets: <= 4 write units, <= 2 read units per interaction; API p50 <= 3x the bare PutItem p50\n")
	if *usageOut != "" {
		if err := usage.WriteMeasured(*usageOut, usage.Measured{Bench: "bench-ingest", Unit: "interaction", N: n, Clients: conc,
			WriteUnits: wcu, ReadUnits: fnUse.ReadUnits, SQSRequests: fnUse.SQSRequests + float64(runnerUse.SQSRequests),
			LambdaInvocations: invoked, LambdaMS: fnUse.DurationMS, HTTPRequests: n}); err != nil {
			return err
		}
	}
	if applied != n {
		return fmt.Errorf("only %d of %d interactions applied", applied, n)
	}
	return nil
}
