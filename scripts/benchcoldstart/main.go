// Command benchcoldstart measures every function's cold start beside a hello-world
// aws-lambda-go function: each binary is built with the Makefile's build-<LogicalId> target for
// the host, then started RUNS times, interleaved, with its real environment (tables and queues
// by dummy names, endpoints on a closed local port: init must do no I/O) against a minimal
// local Lambda Runtime API. Init time is process start → the first
// GET /2018-06-01/runtime/invocation/next, when the handler is wired and waiting for work.
//
// Four baselines are built with the same flags: the plain hello world (the target's
// denominator), the same importing the DynamoDB package, and the DynamoDB and SQS packages (the
// SDK's package init, a floor no function linking them can go below), and the same building both
// clients. Each binary is then started a few more times with GODEBUG=inittrace=1, which times
// every package's init: the report gives the SDK's share (aws-sdk-go-v2 and smithy-go packages).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/referral-engine/referral-engine/internal/emulator"
	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/template"
)

const (
	hello    = "hello-world"
	helloDDB = "hello-world+DynamoDB-import" // hello-world linking the DynamoDB package
	helloSDK = "hello-world+SDK-import"      // ... the DynamoDB and SQS packages
	helloCli = "hello-world+SDK-clients"     // ... and building both clients
)

// baselines are built from scripts/benchcoldstart/<dir> with the functions' flags.
var baselines = map[string]string{hello: "hello", helloDDB: "hellodynamodbimport", helloSDK: "hellosdkimport", helloCli: "hellosdk"}

// traceRuns is how many extra starts per binary time each package's init (GODEBUG=inittrace=1).
const traceRuns = 7

// legend says what each baseline measures, printed with the results.
var legend = []string{
	hello + ": the plain aws-lambda-go hello world, the ratio's denominator",
	helloDDB + ": hello-world importing the DynamoDB client package, calling nothing:",
	"    the floor of the functions that call DynamoDB only",
	helloSDK + ": hello-world importing the DynamoDB and SQS client packages, calling nothing:",
	"    their package init runs in any process that links them, the floor of the others",
	helloCli + ": hello-world building both clients (awsclient.Load, sqsqueue.NewClient)",
	"x floor: the median over the floor of the packages the binary links",
	"SDK init: the median of the summed init of the aws-sdk-go-v2 and smithy-go packages (inittrace)",
}

// Targets (issue 6).
const (
	maxRatio = 1.5
	maxMB    = 15.0
)

func main() {
	runs := flag.Int("runs", 20, "cold starts per binary")
	flag.Parse()
	if err := run(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench-coldstart:", err)
		os.Exit(1)
	}
}

type binary struct {
	name, path         string
	env                []string
	size               int64
	inits              []time.Duration
	sdkInit            time.Duration // median summed init of the SDK packages (trace)
	linksDDB, linksSQS bool          // the binary links the DynamoDB / SQS client packages
}

func run(runs int) error {
	repo, err := emulator.RepoRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(repo, ".local", "bench-coldstart")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmpl, err := template.Load(filepath.Join(repo, "template.yaml"))
	if err != nil {
		return err
	}

	// A closed port: any network call during init fails fast instead of measuring a network.
	closed, err := closedPort()
	if err != nil {
		return err
	}
	envs, err := localrun.FunctionEnvironments(filepath.Join(repo, "template.yaml"), "bench-", closed+"/sqs", nil)
	if err != nil {
		return err
	}
	api, next, stop, err := runtimeAPI()
	if err != nil {
		return err
	}
	defer stop()

	fmt.Printf("building %d functions and %d baselines for %s/%s...\n", len(tmpl.Functions()), len(baselines), runtime.GOOS, runtime.GOARCH)
	var bins []*binary
	for _, name := range []string{hello, helloDDB, helloSDK, helloCli} {
		bins = append(bins, &binary{name: name, path: filepath.Join(dir, name, "bootstrap")})
	}
	for _, fn := range tmpl.Functions() {
		bins = append(bins, &binary{name: fn, path: filepath.Join(dir, fn, "bootstrap")})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(bins))
	sem := make(chan struct{}, runtime.NumCPU())
	for i, b := range bins {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = build(repo, b)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, b := range bins {
		fi, err := os.Stat(b.path)
		if err != nil {
			return err
		}
		b.size = fi.Size()
		b.env = environment(api, closed, b.name, envs[b.name])
	}

	// One unmeasured start each (page cache), then RUNS rounds in a random order per round.
	for _, b := range bins {
		if _, err := coldStart(b, next); err != nil {
			return err
		}
	}
	for range runs {
		order := slices.Clone(bins)
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, b := range order {
			d, err := coldStart(b, next)
			if err != nil {
				return err
			}
			b.inits = append(b.inits, d)
		}
	}

	for _, b := range bins {
		if err := trace(b); err != nil {
			return err
		}
	}

	base := median(bins[0].inits)
	floorDDB, floorBoth := median(bins[1].inits), median(bins[2].inits)
	fmt.Printf("\n%d cold starts each, interleaved; init = process start -> first GET .../invocation/next;\n", runs)
	fmt.Println("ratios are of medians (min is the least disturbed start, for a noisy machine)")
	for _, l := range legend {
		fmt.Println("  " + l)
	}
	fmt.Printf("\n%-28s %8s %8s %10s %8s %8s %8s %9s %10s\n", "binary", "size MB", "min ms", "median ms", "p90 ms", "x hello", "x floor", "links", "SDK init")
	worst, worstFloor, worstExSDK, biggest := 0.0, 0.0, 0.0, 0.0
	for _, b := range bins {
		m := median(b.inits)
		floor, links := floorBoth, "ddb+sqs"
		switch {
		case !b.linksDDB:
			floor, links = base, "-"
		case !b.linksSQS:
			floor, links = floorDDB, "ddb"
		}
		ratio := float64(m) / float64(base)
		mb := float64(b.size) / (1 << 20)
		if _, ok := baselines[b.name]; !ok {
			worst, biggest = max(worst, ratio), max(biggest, mb)
			worstFloor = max(worstFloor, float64(m)/float64(floor))
			worstExSDK = max(worstExSDK, float64(m-b.sdkInit)/float64(base))
		}
		fmt.Printf("%-28s %8.1f %8.2f %10.2f %8.2f %8.2f %8.2f %9s %7.2f ms\n", b.name, mb, ms(percentile(b.inits, 0)), ms(m), ms(percentile(b.inits, 0.9)), ratio, float64(m)/float64(floor), links, ms(b.sdkInit))
	}
	fmt.Printf("\nworst ratio %.2fx hello-world (target <= %.1fx), %.2fx its SDK-import floor (the floors: %.2fx hello-world with DynamoDB, %.2fx with DynamoDB and SQS);\n",
		worst, maxRatio, worstFloor, float64(floorDDB)/float64(base), float64(floorBoth)/float64(base))
	fmt.Printf("without the SDK packages' own init the worst would be %.2fx; largest %.1f MB (target < %.0f MB)\n", worstExSDK, biggest, maxMB)
	if worst > maxRatio || biggest >= maxMB {
		fmt.Println("TARGET MISSED")
	}
	return nil
}

// sdkModules are the import path prefixes whose package init counts as the SDK's.
var sdkModules = []string{"github.com/aws/aws-sdk-go-v2/", "github.com/aws/smithy-go"}

// trace starts b traceRuns times with GODEBUG=inittrace=1 and keeps the median of the SDK
// packages' summed init clock, and which service packages b links.
func trace(b *binary) error {
	var sums []time.Duration
	for range traceRuns {
		cmd := exec.Command(b.path)
		cmd.Env = append(slices.Clone(b.env), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		// The init lines are all written before main runs; the process then waits on the
		// runtime API, which answers /next only when told: kill it once it has asked.
		time.Sleep(200 * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		var sum time.Duration
		for line := range strings.Lines(stderr.String()) {
			// init <package> @<start> ms, <clock> ms clock, <bytes> bytes, <allocs> allocs
			f := strings.Fields(line)
			if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
				continue
			}
			switch f[1] {
			case "github.com/aws/aws-sdk-go-v2/service/dynamodb":
				b.linksDDB = true
			case "github.com/aws/aws-sdk-go-v2/service/sqs":
				b.linksSQS = true
			}
			if !slices.ContainsFunc(sdkModules, func(p string) bool { return strings.HasPrefix(f[1], p) }) {
				continue
			}
			var v float64
			if _, err := fmt.Sscan(f[4], &v); err != nil {
				return fmt.Errorf("%s: inittrace line %q: %w", b.name, line, err)
			}
			sum += time.Duration(v * float64(time.Millisecond))
		}
		sums = append(sums, sum)
	}
	b.sdkInit = median(sums)
	return nil
}

func build(repo string, b *binary) error {
	artifacts := filepath.Dir(b.path)
	var cmd *exec.Cmd
	if src, ok := baselines[b.name]; ok {
		cmd = exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", b.path, "./scripts/benchcoldstart/"+src)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	} else {
		cmd = exec.Command("make", "-s", "build-"+b.name, "ARTIFACTS_DIR="+artifacts, "LAMBDA_GOOS="+runtime.GOOS, "LAMBDA_GOARCH="+runtime.GOARCH)
	}
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %v\n%s", b.name, err, out)
	}
	return nil
}

// environment is what Lambda gives the process, plus the template's variables.
func environment(api, closed, name string, tpl map[string]string) []string {
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "TZ": ":UTC", "LANG": "en_US.UTF-8",
		"AWS_LAMBDA_RUNTIME_API": api, "_HANDLER": "bootstrap",
		"AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench",
		"AWS_ENDPOINT_URL":         closed,
		"AWS_LAMBDA_FUNCTION_NAME": "bench-" + name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench-" + name,
		"AWS_LAMBDA_LOG_FORMAT": "JSON",
	}
	for k, v := range tpl {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// coldStart starts b and returns the time until its first /next request, then kills it.
func coldStart(b *binary, next <-chan time.Time) (time.Duration, error) {
	// Drain a stale signal, if any.
	select {
	case <-next:
	default:
	}
	cmd := exec.Command(b.path)
	cmd.Env = b.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	exited := make(chan error, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: %w", b.name, err)
	}
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	select {
	case at := <-next:
		return at.Sub(start), nil
	case err := <-exited:
		exited <- err
		return 0, fmt.Errorf("%s exited during init (%v): %s", b.name, err, strings.TrimSpace(out.String()))
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("%s: no /next request within 10 s: %s", b.name, strings.TrimSpace(out.String()))
	}
}

// runtimeAPI serves GET /2018-06-01/runtime/invocation/next: it signals the time of arrival and
// holds the request until the process is killed.
func runtimeAPI() (addr string, next <-chan time.Time, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	ch := make(chan time.Time, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		select {
		case ch <- at:
		default:
		}
		<-r.Context().Done()
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), ch, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	}, nil
}

// closedPort returns http://127.0.0.1:<port> for a port nothing listens on.
func closedPort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr, nil
}

func median(ds []time.Duration) time.Duration { return percentile(ds, 0.5) }

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
