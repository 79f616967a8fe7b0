// Command benchreferral drives N full referrals through the local stack — issue a voucher
// (POST /v1/customers/{id}/vouchers), share it (referral_share interaction), click the link
// (GET /r/{code}), redeem the friend's first order (POST /v1/referrals) and grant the reward
// (GrantQueue → grant-reward, with ReturnWindowDays=0 so the grant follows at once) — and prints
// the DynamoDB units, SQS requests, Lambda invocations and time consumed per referral, beside the
// floor (one write per state change), with the cost per 1,000 referrals at on-demand prices.
// Every function logs its own rcu/wcu/sqs_requests per invocation (internal/meter); the runner's
// SQS polls (Lambda's event source mapping, billed to the account) are metered in this process.
// It is a benchmark, not a test.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/meter"
	"github.com/referral-engine/referral-engine/internal/usage"
)

// On-demand prices (us-east-1, USD) used for the cost per 1,000 referrals.
const (
	pricePerMillionWRU   = 0.625        // DynamoDB on-demand write request units
	pricePerMillionRRU   = 0.125        // DynamoDB on-demand read request units
	pricePerMillionSQS   = 0.40         // SQS standard requests
	pricePerGBSecond     = 0.0000133334 // Lambda arm64
	pricePerMillionLReq  = 0.20         // Lambda requests
	pricePerMillionHTTP  = 1.00         // API Gateway HTTP API requests
	lambdaGB             = 128.0 / 1024 // every function runs in 128 MB
	httpRequestsPerReady = 4            // issue, share, click, redeem
	floorWritesPerRef    = 5            // issued, shared, clicked, redeemed, granted: one write each
)

var functions = []string{"IssueVoucherFunction", "RecordInteractionFunction", "ClickRedirectFunction",
	"RedeemReferralFunction", "GrantRewardFunction", "RescoreCustomerFunction"}

// usageOut, when set, gets the run's totals as JSON for the cost report (scripts/benchcost).
var usageOut = flag.String("usage-out", "", "write the measured totals (usage.Measured JSON) to this file")

func main() {
	n := flag.Int("n", 200, "full referrals to run")
	conc := flag.Int("c", 8, "concurrent storefront clients")
	flag.Parse()
	if err := run(*n, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "bench-referral:", err)
		os.Exit(1)
	}
}

func run(n, conc int) error {
	ctx := context.Background()
	fmt.Println("starting the local stack (emulators, real function binaries, ReturnWindowDays=0)...")
	st, err := localrun.Start(ctx, localrun.Config{Quiet: true, ManualSchedules: true, ResourcePrefix: "rbench-", MaxInstances: conc,
		Parameters: map[string]string{"ReturnWindowDays": "0", "ReferrerMonthlyCap": "1000"}})
	if err != nil {
		return err
	}
	defer st.Close()
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	plainDB := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(st.DynamoDBEndpoint) })
	plainSQS := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(st.SQSEndpoint) })
	queues := []string{"RescoreQueue", "RedeemQueue", "GrantQueue"}
	idle := func() {
		for _, q := range queues {
			waitIdle(ctx, plainSQS, st.Resources[q])
		}
	}

	// The referrers are customers already (issue-voucher needs a known customer): one purchase
	// each, recorded before anything is measured.
	for _, prefix := range []string{"warm", "run"} {
		count := n
		if prefix == "warm" {
			count = 2 * conc
		}
		if err := seedReferrers(st, prefix, count); err != nil {
			return err
		}
	}
	idle()

	// Warm up every function, then measure.
	if _, fails := runAll(st, 2*conc, conc, "warm"); fails > 0 {
		return fmt.Errorf("warm-up: %d referrals failed", fails)
	}
	idle()
	waitGrants(ctx, plainDB, st.Resources["LedgerTable"], 2*conc)

	mark := usage.Start(st)
	inv0 := st.Invocations()
	u0 := meter.Snapshot()
	start := time.Now()
	lat, fails := runAll(st, n, conc, "run")
	if fails > 0 {
		return fmt.Errorf("%d of %d referrals failed", fails, n)
	}
	granted := waitGrants(ctx, plainDB, st.Resources["LedgerTable"], 2*conc+n) - 2*conc
	elapsed := time.Since(start)
	idle()
	runner := meter.Snapshot().Sub(u0)
	inv1 := st.Invocations()
	per := mark.Since(st)

	var tot usage.Totals
	invocations := 0
	for _, f := range functions {
		tot = tot.Add(per[f])
		invocations += inv1[f] - inv0[f]
	}
	r := float64(n)
	fmt.Printf("\nbench-referral: %d full referrals (issue → share → click → redeem → grant), %d clients; granted %d in %s\n\n", n, conc, granted, elapsed.Round(time.Millisecond))
	rss := peakRSS("rbench-")
	fmt.Printf("%-28s %8s %8s %8s %8s %10s %12s %12s\n", "per referral", "WCU", "RCU", "ddb", "sqs", "invokes", "ms (sum)", "peak RSS MB")
	for _, f := range functions {
		u := per[f]
		fmt.Printf("%-28s %8.2f %8.2f %8.2f %8.2f %10.2f %12.2f %12.1f\n", f, u.WriteUnits/r, u.ReadUnits/r, u.DynamoDBCalls/r, u.SQSRequests/r, float64(inv1[f]-inv0[f])/r, u.DurationMS/r, rss["rbench-"+f])
	}
	fmt.Printf("%-28s %8s %8s %8s %8.2f\n", "event source polls (runner)", "", "", "", float64(runner.SQSRequests)/r)
	sqsTotal := tot.SQSRequests + float64(runner.SQSRequests)
	fmt.Printf("%-28s %8.2f %8.2f %8.2f %8.2f %10.2f %12.2f\n", "total", tot.WriteUnits/r, tot.ReadUnits/r, tot.DynamoDBCalls/r, sqsTotal/r, float64(invocations)/r, tot.DurationMS/r)
	fmt.Printf("%-28s %8d %8d %8s %8s\n", "floor (1 write/state change)", floorWritesPerRef, 0, "", "0")
	fmt.Printf("\nratio to the floor: %.1fx write units\n", tot.WriteUnits/r/floorWritesPerRef)
	fmt.Printf("API latency per step p50/p99 (ms): issue %s, share %s, click %s, redeem %s\n",
		pp(lat[0]), pp(lat[1]), pp(lat[2]), pp(lat[3]))

	k := 1000.0 / r
	ddb := (tot.WriteUnits*pricePerMillionWRU + tot.ReadUnits*pricePerMillionRRU) / 1e6 * k
	sq := sqsTotal * pricePerMillionSQS / 1e6 * k
	lam := (tot.DurationMS/1000*lambdaGB*pricePerGBSecond + float64(invocations)*pricePerMillionLReq/1e6) * k
	api := float64(httpRequestsPerReady*1000) * pricePerMillionHTTP / 1e6
	floor := floorWritesPerRef * 1000 * pricePerMillionWRU / 1e6
	fmt.Printf("\ncost per 1,000 referrals (USD, on-demand): DynamoDB %.5f, SQS %.5f, Lambda %.5f, HTTP API %.5f = %.5f; floor (writes only) %.5f\n",
		ddb, sq, lam, api, ddb+sq+lam+api, floor)
	fmt.Printf("prices: DynamoDB $%.3f/M write units, $%.3f/M read units; SQS $%.2f/M requests; Lambda arm64 $%.10f/GB-s at 128 MB (handler time as logged) + $%.2f/M requests; HTTP API $%.2f/M requests\n",
		pricePerMillionWRU, pricePerMillionRRU, pricePerMillionSQS, pricePerGBSecond, pricePerMillionLReq, pricePerMillionHTTP)
	if *usageOut != "" {
		if err := usage.WriteMeasured(*usageOut, usage.Measured{Bench: "bench-referral", Unit: "referral", N: n, Clients: conc,
			WriteUnits: tot.WriteUnits, ReadUnits: tot.ReadUnits, SQSRequests: sqsTotal,
			LambdaInvocations: invocations, LambdaMS: tot.DurationMS, HTTPRequests: httpRequestsPerReady * n}); err != nil {
			return err
		}
	}
	if granted != n {
		return fmt.Errorf("only %d of %d rewards granted", granted, n)
	}
	return nil
}

func pp(d []time.Duration) string {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f/%.1f", ms(s[(len(s)-1)/2]), ms(s[(len(s)-1)*99/100]))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(st *localrun.Stack, method, path string, body any, want int) ([]byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, st.APIURL+path, rd)
	req.Header.Set("x-api-key", st.APIKey)
	req.Header.Set("content-type", "application/json")
	t := time.Now()
	resp, err := client.Do(req)
	d := time.Since(t)
	if err != nil {
		return nil, d, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return nil, d, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b, d, nil
}

// runAll runs n full referrals on conc workers; it returns the latencies of the four API steps.
func runAll(st *localrun.Stack, n, conc int, prefix string) ([4][]time.Duration, int) {
	var lat [4][]time.Duration
	var mu sync.Mutex
	var next, fails atomic.Int64
	var wg sync.WaitGroup
	now := time.Now().UTC().Format(time.RFC3339)
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				var d [4]time.Duration
				err := func() error {
					referrer, friend := fmt.Sprintf("%s-referrer-%d", prefix, i), fmt.Sprintf("%s-friend-%d", prefix, i)
					b, t, err := do(st, "POST", "/v1/customers/"+referrer+"/vouchers", map[string]any{}, 201)
					if err != nil {
						return err
					}
					d[0] = t
					var v struct {
						Code string `json:"code"`
					}
					if err := json.Unmarshal(b, &v); err != nil || v.Code == "" {
						return fmt.Errorf("voucher: %s", b)
					}
					if _, d[1], err = do(st, "POST", "/v1/interactions", map[string]any{"event_id": "share-" + referrer, "customer_id": referrer,
						"type": "referral_share", "occurred_at": now, "properties": map[string]any{"code": v.Code, "channel": "whatsapp"}}, 202); err != nil {
						return err
					}
					if _, d[2], err = do(st, "GET", "/r/"+v.Code, nil, 302); err != nil {
						return err
					}
					_, d[3], err = do(st, "POST", "/v1/referrals", map[string]any{"code": v.Code, "order_id": "order-" + friend,
						"friend_customer_id": friend, "friend_email": friend + "@example.com", "order_total": 4900, "currency": "EUR"}, 201)
					return err
				}()
				if err != nil {
					if fails.Add(1) <= 3 {
						fmt.Fprintln(os.Stderr, "error:", err)
					}
					continue
				}
				mu.Lock()
				for k := range d {
					lat[k] = append(lat[k], d[k])
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat, int(fails.Load())
}

func seedReferrers(st *localrun.Stack, prefix string, n int) error {
	at := time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for start := 0; start < n; start += 100 {
		var batch []map[string]any
		for i := start; i < min(start+100, n); i++ {
			id := fmt.Sprintf("%s-referrer-%d", prefix, i)
			batch = append(batch, map[string]any{"event_id": "seed-" + id, "customer_id": id, "type": "purchase", "occurred_at": at,
				"properties": map[string]any{"order_id": "seed-" + id, "total": 9900, "currency": "EUR"}})
		}
		if _, _, err := do(st, "POST", "/v1/interactions", map[string]any{"interactions": batch}, 202); err != nil {
			return err
		}
	}
	return nil
}

func waitIdle(ctx context.Context, q *sqs.Client, url string) {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
		if err == nil && out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			return
		}
	}
}

// waitGrants counts grant entries in the ledger (unmetered scans) until want or a time limit.
func waitGrants(ctx context.Context, db *dynamodb.Client, table string, want int) int {
	got := 0
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		got = 0
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ProjectionExpression: aws.String("sk")})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				break
			}
			for _, it := range page.Items {
				if sk, ok := it["sk"].(*ddbtypes.AttributeValueMemberS); ok && strings.HasSuffix(sk.Value, "#grant") {
					got++
				}
			}
		}
		if got >= want {
			return got
		}
	}
	return got
}

// peakRSS reads, on Linux, the peak resident set (VmHWM) of each running function process of
// this stack (its AWS_LAMBDA_FUNCTION_NAME starts with prefix), in MB, the largest per function.
func peakRSS(prefix string) map[string]float64 {
	out := map[string]float64{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		env, err := os.ReadFile("/proc/" + d.Name() + "/environ")
		if err != nil {
			continue
		}
		name := ""
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("AWS_LAMBDA_FUNCTION_NAME=")); ok {
				name = string(v)
			}
		}
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		status, err := os.ReadFile("/proc/" + d.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				var kb float64
				_, _ = fmt.Sscan(f[1], &kb)
				out[name] = max(out[name], kb/1024)
			}
		}
	}
	return out
}
