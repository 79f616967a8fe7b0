// Command benchcost renders docs/cost.md, the cost per 1M interactions and per 1,000 referrals
// at on-demand prices, from what the benchmarks measured: it runs scripts/bench-ingest and
// scripts/bench-referral with -usage-out (or, with -render-only, reads their last output) and
// prices the DynamoDB units, SQS requests, Lambda invocations and handler time, and HTTP API
// requests they counted. docs/cost.json keeps the measured totals beside the figures.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/referral-engine/referral-engine/internal/emulator"
	"github.com/referral-engine/referral-engine/internal/usage"
)

// On-demand prices (us-east-1, USD).
type Prices struct {
	LambdaGBSecond   float64 `json:"lambda_arm64_gb_second"`
	LambdaPerMillion float64 `json:"lambda_requests_per_million"`
	LambdaGB         float64 `json:"lambda_memory_gb"`
	HTTPPerMillion   float64 `json:"http_api_requests_per_million"`
	SQSPerMillion    float64 `json:"sqs_requests_per_million"`
	WRUPerMillion    float64 `json:"dynamodb_write_units_per_million"`
	RRUPerMillion    float64 `json:"dynamodb_read_units_per_million"`
	LogsPerGB        float64 `json:"cloudwatch_logs_ingested_per_gb"`
}

var prices = Prices{
	LambdaGBSecond: 0.0000133334, LambdaPerMillion: 0.20, LambdaGB: 128.0 / 1024,
	HTTPPerMillion: 1.00, SQSPerMillion: 0.40, WRUPerMillion: 0.625, RRUPerMillion: 0.125, LogsPerGB: 0.50,
}

// Assumed log volume per invocation (the "request"/"batch" line, an EMF line, Lambda's platform
// report line), for the logs estimate only.
const logBytesPerInvocation = 700

// Cost is the cost of Per units of work.
type Cost struct {
	Per        float64 `json:"per"`
	DynamoDB   float64 `json:"dynamodb"`
	SQS        float64 `json:"sqs"`
	LambdaReq  float64 `json:"lambda_requests"`
	LambdaGBs  float64 `json:"lambda_compute"`
	HTTPAPI    float64 `json:"http_api"`
	Total      float64 `json:"total"`
	Lambda10x  float64 `json:"total_at_10x_handler_time"`
	LogsApprox float64 `json:"cloudwatch_logs_estimate"`
}

func price(m usage.Measured, per float64) Cost {
	k := per / float64(m.N)
	// Lambda bills whole milliseconds, rounded up; the handler logs them truncated: +1 ms each.
	billedMS := m.LambdaMS + float64(m.LambdaInvocations)
	c := Cost{Per: per,
		DynamoDB:  (m.WriteUnits*prices.WRUPerMillion + m.ReadUnits*prices.RRUPerMillion) / 1e6 * k,
		SQS:       m.SQSRequests * prices.SQSPerMillion / 1e6 * k,
		LambdaReq: float64(m.LambdaInvocations) * prices.LambdaPerMillion / 1e6 * k,
		LambdaGBs: billedMS / 1000 * prices.LambdaGB * prices.LambdaGBSecond * k,
		HTTPAPI:   float64(m.HTTPRequests) * prices.HTTPPerMillion / 1e6 * k,
	}
	c.Total = c.DynamoDB + c.SQS + c.LambdaReq + c.LambdaGBs + c.HTTPAPI
	c.Lambda10x = c.Total + 9*c.LambdaGBs
	c.LogsApprox = float64(m.LambdaInvocations) * logBytesPerInvocation / 1e9 * prices.LogsPerGB * k
	return c
}

func main() {
	renderOnly := flag.Bool("render-only", false, "render from the last run's .local/cost/*.json instead of running the benchmarks")
	ingestN := flag.Int("ingest-n", 2000, "bench-ingest interactions")
	referralN := flag.Int("referral-n", 300, "bench-referral referrals")
	flag.Parse()
	if err := run(*renderOnly, *ingestN, *referralN); err != nil {
		fmt.Fprintln(os.Stderr, "bench-cost:", err)
		os.Exit(1)
	}
}

func run(renderOnly bool, ingestN, referralN int) error {
	repo, err := emulator.RepoRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(repo, ".local", "cost")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ingestJSON, referralJSON := filepath.Join(dir, "ingest.json"), filepath.Join(dir, "referral.json")
	if !renderOnly {
		if err := bench(repo, "scripts/bench-ingest", "-n", strconv.Itoa(ingestN), "-c", "16", "-customers", "200", "-usage-out", ingestJSON); err != nil {
			return err
		}
		if err := bench(repo, "scripts/bench-referral", "-n", strconv.Itoa(referralN), "-c", "8", "-usage-out", referralJSON); err != nil {
			return err
		}
	}
	ing, err := usage.ReadMeasured(ingestJSON)
	if err != nil {
		return err
	}
	ref, err := usage.ReadMeasured(referralJSON)
	if err != nil {
		return err
	}
	ci, cr := price(ing, 1e6), price(ref, 1000)

	js, _ := json.MarshalIndent(map[string]any{"prices": prices, "measured": []usage.Measured{ing, ref},
		"per_million_interactions": ci, "per_thousand_referrals": cr}, "", "  ")
	if err := os.WriteFile(filepath.Join(repo, "docs", "cost.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	md := render(ing, ref, ci, cr)
	if err := os.WriteFile(filepath.Join(repo, "docs", "cost.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Printf("\ncost per 1M interactions $%.2f (target < $10), per 1,000 referrals $%.4f; wrote docs/cost.md and docs/cost.json\n", ci.Total, cr.Total)
	return nil
}

func bench(repo, script string, args ...string) error {
	fmt.Printf("== bash %s %s\n", script, strings.Join(args, " "))
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Dir = repo
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", script, err)
	}
	return nil
}

func render(ing, ref usage.Measured, ci, cr Cost) string {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Cost\n\n")
	p("<!-- Generated by `make bench-cost` (scripts/benchcost) from the benchmarks' measured units; do not edit by hand. -->\n\n")
	p("What the engine costs at AWS on-demand prices (us-east-1), computed from what `bench-ingest` and\n")
	p("`bench-referral` counted on the local stack: DynamoDB capacity units from `ReturnConsumedCapacity`\n")
	p("on every call, every SQS request (sends, and the event source mappings' polls as the local runner\n")
	p("makes them), every Lambda invocation and its handler time, every HTTP API request.\n\n")
	p("| | per 1M interactions | per 1,000 referrals |\n|---|---:|---:|\n")
	row := func(name string, a, c float64) { p("| %s | $%.4f | $%.4f |\n", name, a, c) }
	row("DynamoDB (on-demand units)", ci.DynamoDB, cr.DynamoDB)
	row("SQS requests", ci.SQS, cr.SQS)
	row("Lambda requests", ci.LambdaReq, cr.LambdaReq)
	row("Lambda compute (arm64, 128 MB)", ci.LambdaGBs, cr.LambdaGBs)
	row("HTTP API requests", ci.HTTPAPI, cr.HTTPAPI)
	p("| **total** | **$%.2f** | **$%.4f** |\n", ci.Total, cr.Total)
	p("| total if handlers ran 10x longer on Lambda | $%.2f | $%.4f |\n", ci.Lambda10x, cr.Lambda10x)
	p("| CloudWatch Logs, estimate (not in the total) | $%.2f | $%.4f |\n\n", ci.LogsApprox, cr.LogsApprox)
	target := "met"
	if ci.Total >= 10 {
		target = "MISSED"
	}
	p("Target: under $10 per 1M interactions: **%s** ($%.2f).\n\n", target, ci.Total)

	p("## Measured\n\n")
	p("| run | units | WCU / unit | RCU / unit | SQS requests / unit | invocations / unit | handler ms / unit | HTTP requests / unit |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range []usage.Measured{ing, ref} {
		n := float64(m.N)
		p("| `%s` (%d clients) | %d %ss | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", m.Bench, m.Clients, m.N, m.Unit,
			m.WriteUnits/n, m.ReadUnits/n, m.SQSRequests/n, float64(m.LambdaInvocations)/n, m.LambdaMS/n, float64(m.HTTPRequests)/n)
	}
	p("\n`bench-ingest` ran at %s, `bench-referral` at %s, on %s; `docs/cost.json` has the totals.\n\n", ing.At, ref.At, ing.Host)

	p("## Prices and assumptions\n\n")
	p("- Lambda arm64 $%.10f per GB-second at 128 MB ($%.2f per 1M requests); HTTP API $%.2f per 1M\n", prices.LambdaGBSecond, prices.LambdaPerMillion, prices.HTTPPerMillion)
	p("  requests; SQS $%.2f per 1M requests; DynamoDB on-demand $%.3f per 1M write units and $%.3f per\n", prices.SQSPerMillion, prices.WRUPerMillion, prices.RRUPerMillion)
	p("  1M read units. No free tier.\n")
	p("- **Interactions**: purchases of existing customers, **one interaction per request** (the worst\n")
	p("  case: a batch of up to 100 per request divides the HTTP API and record-interaction costs by\n")
	p("  the batch size). A customer's very first interaction costs more once (first segmentation,\n")
	p("  history, `segment.changed`), not included. Write units include the applied-marks still\n")
	p("  pending at the end of the run. Purchases without a referral code; no redemption.\n")
	p("- **Referrals**: a full referral is issue voucher, share, click, redeem and grant (4 HTTP requests),\n")
	p("  with the rescoring and outbound events they cause, `ReturnWindowDays=0` (release-rewards'\n")
	p("  queries not counted; they are a few reads per 15 minutes whatever the volume).\n")
	p("- **DynamoDB units** are DynamoDB Local's `ConsumedCapacity`. It counts transactions per table\n")
	p("  rather than per item, so the referral transactions' units differ from AWS's 2 per item per KB;\n")
	p("  see [referrals.md](referrals.md#costs-bash-scriptsbench-referral--n-300--c-8-local-stack-returnwindowdays0).\n")
	p("  The interactions path uses no transaction.\n")
	p("- **Lambda compute** is the handler time the functions logged on the development machine, plus\n")
	p("  1 ms per invocation for Lambda's rounding up. A 128 MB function has a fraction of a vCPU, so\n")
	p("  CPU-bound parts run slower there; the 10x row bounds that. Cold starts (about 7 ms of init,\n")
	p("  `make bench-coldstart`) are billed for `provided.al2023` but rare at steady load; not included.\n")
	p("- **SQS** counts the local runner's polls, which model Lambda's event source mapping (long polls,\n")
	p("  batches of 10, a 1 s batching window). On AWS the pollers' empty receives on idle queues add a\n")
	p("  small fixed cost (about 5 pollers x 3 per minute per queue) that does not grow with volume.\n")
	p("- **Not included**: CloudWatch Logs (estimated above at %d bytes per invocation and $%.2f per GB\n", logBytesPerInvocation, prices.LogsPerGB)
	p("  ingested; EMF metrics add custom metric charges per dimension set), X-Ray traces (sampled),\n")
	p("  DynamoDB storage, point-in-time recovery and TTL deletes (free), data transfer.\n")
	return b.String()
}
