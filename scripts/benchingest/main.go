// Command benchingest drives N interactions through the local stack (API → record-interaction
// → SQS → rescore-customer → DynamoDB) and prints throughput, API latency and the DynamoDB
// capacity units and SQS requests consumed per interaction, beside the floor for the same work
// (one PutItem of the interaction, nothing else) timed in the same run. It is a benchmark,
// not a test: the machines are shared, so read the ratios, not the absolute figures.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/awsclient"
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
		return map[string]any{
			"event_id": fmt.Sprintf("%s-%d", prefix, i), "customer_id": fmt.Sprintf("%s-cust-%d", prefix, i%customers),
			"type": "purchase", "occurred_at": now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339),
			"properties": map[string]any{"order_id": fmt.Sprintf("ord-%d", i), "total": 1000 + rand.IntN(20000), "currency": "EUR"},
		}
	}

	// Warm up both paths so cold starts and JIT are not measured.
	table := st.Resources["InteractionsTable"]
	_, _ = timeAll(50, conc, func(i int) error { return floorPut(ctx, metered, table, body(i, "warm-floor")) })
	// The measured customers exist already (steady state): a customer's first segmentation is a
	// one-time cost, reported apart.
	firstMark := usage.Start(st)
	_, _ = timeAll(customers, conc, func(i int) error { return postOne(st, body(i, "sys")) })
	waitApplied(ctx, plain, st.Resources["CustomersTable"], "sys-cust-", customers)
	waitIdle(ctx, plainSQS, st.Resources["RescoreQueue"])
	first := usage.Sum(firstMark.Since(st))
	waitIdle(ctx, plainSQS, st.Resources["RescoreQueue"])

	// Floor: one PutItem of the interaction, nothing else.
	u0 := meter.Snapshot()
	floorLat, floorWall := timeAll(n, conc, func(i int) error { return floorPut(ctx, metered, table, body(i, "floor")) })
	floorUse := meter.Snapshot().Sub(u0)

	// The same storage work without the API and Lambda plumbing: PutItem, then SendMessage.
	meteredSQS := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(st.SQSEndpoint) })
	sideQueue, err := meteredSQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench-side-queue")})
	if err != nil {
		return err
	}
	workLat, _ := timeAll(n, conc, func(i int) error {
		b := body(i, "work")
		if err := floorPut(ctx, metered, table, b); err != nil {
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
	apiLat, apiWall := timeAll(n, conc, func(i int) error { return postOne(st, body(customers+i, "sys")) })
	applied := waitApplied(ctx, plain, st.Resources["CustomersTable"], "sys-cust-", n+customers) - customers
	endToEnd := time.Since(start)
	waitIdle(ctx, plainSQS, st.Resources["RescoreQueue"])
	runnerUse := meter.Snapshot().Sub(u1) // the event source mapping's SQS polls

	fnUse := usage.Sum(mark.Since(st))
	invoked := usage.Invoked(inv0, st.Invocations())
	pendingMarks := countPending(ctx, plain, st.Resources["CustomersTable"], "sys-cust-")

	// Side by side: each client alternates a POST and a bare PutItem, so both meet the same
	// background load (on this 2-core machine the consumer and the emulators share the CPU).
	sideN := max(200, n/4)
	sideAPI, sidePut := make([]time.Duration, sideN), make([]time.Duration, sideN)
	_, _ = timeAll(sideN, conc, func(i int) error {
		t := time.Now()
		if err := postOne(st, body(customers+n+i, "sys")); err != nil {
			return err
		}
		sideAPI[i] = time.Since(t)
		t = time.Now()
		err := floorPut(ctx, plain, table, body(i, "side"))
		sidePut[i] = time.Since(t)
		return err
	})
	waitIdle(ctx, plainSQS, st.Resources["RescoreQueue"])

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

func floorPut(ctx context.Context, db *dynamodb.Client, table string, b map[string]any) error {
	item, err := attributevalue.MarshalMap(b)
	if err != nil {
		return err
	}
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	return err
}

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

func postOne(st *localrun.Stack, b map[string]any) error {
	payload, _ := json.Marshal(b)
	req, _ := http.NewRequest(http.MethodPost, st.APIURL+"/v1/interactions", bytes.NewReader(payload))
	req.Header.Set("x-api-key", st.APIKey)
	req.Header.Set("content-type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST: %d %s", resp.StatusCode, rb)
	}
	return nil
}

// timeAll runs f for 0..n-1 on conc workers and returns each call's latency and the wall time.
func timeAll(n, conc int, f func(i int) error) ([]time.Duration, time.Duration) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	var failed atomic.Int64
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				if err := f(i); err != nil {
					if failed.Add(1) <= 3 {
						fmt.Fprintln(os.Stderr, "error:", err)
					}
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	return lat, time.Since(start)
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func waitIdle(ctx context.Context, q *sqs.Client, url string) {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
		if err == nil && out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			return
		}
	}
}

// waitApplied scans the customers table (unmetered: bookkeeping) until the interactions of the
// bench's customers add up to want, or a time limit passes.
func waitApplied(ctx context.Context, db *dynamodb.Client, table, prefix string, want int) int {
	got := 0
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		got = 0
		forEachCustomer(ctx, db, table, prefix, func(item map[string]any) {
			if v, ok := item["n"].(float64); ok {
				got += int(v)
			}
		})
		if got >= want {
			return got
		}
	}
	return got
}

func countPending(ctx context.Context, db *dynamodb.Client, table, prefix string) int {
	n := 0
	forEachCustomer(ctx, db, table, prefix, func(item map[string]any) {
		if p, ok := item["pend"].([]string); ok {
			n += len(p)
		}
	})
	return n
}

func forEachCustomer(ctx context.Context, db *dynamodb.Client, table, prefix string, f func(map[string]any)) {
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return
		}
		for _, it := range page.Items {
			var m map[string]any
			if attributevalue.UnmarshalMap(it, &m) == nil {
				if id, _ := m["customer_id"].(string); strings.HasPrefix(id, prefix) {
					f(m)
				}
			}
		}
	}
}
