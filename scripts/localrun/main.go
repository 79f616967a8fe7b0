// Command localrun is `make run`: it starts DynamoDB Local, fauxqs, every function of
// template.yaml and its HTTP API on 127.0.0.1, and runs until Ctrl-C.
//
// Environment: API_PORT (3000), DYNAMODB_PORT (8000), SQS_PORT (9324), LOCAL_API_KEY
// (local-dev-key), LOCAL_MAX_INSTANCES (4), DYNAMODB_DATA_DIR (unset: data in memory).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/referral-engine/referral-engine/internal/localrun"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(1)
	}
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("%s=%q is not a port number", name, v)
	}
	return n, nil
}

func run() error {
	apiPort, err := envInt("API_PORT", 3000)
	if err != nil {
		return err
	}
	ddbPort, err := envInt("DYNAMODB_PORT", 8000)
	if err != nil {
		return err
	}
	sqsPort, err := envInt("SQS_PORT", 9324)
	if err != nil {
		return err
	}
	maxInst, err := envInt("LOCAL_MAX_INSTANCES", 4)
	if err != nil {
		return err
	}

	// Ctrl-C during startup aborts it cleanly too.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	began := time.Now()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	stack, err := localrun.Start(ctx, localrun.Config{
		APIPort:      apiPort,
		DynamoDBPort: ddbPort,
		SQSPort:      sqsPort,
		DynamoDBPath: os.Getenv("DYNAMODB_DATA_DIR"),
		MaxInstances: maxInst,
		Logger:       logger,
		Progress:     func(msg string) { fmt.Fprintf(os.Stderr, "  %s...\n", msg) },
	})
	if err != nil {
		return err
	}

	fmt.Printf("\nReferral Engine is running locally (ready in %s)\n\n", time.Since(began).Round(100*time.Millisecond))
	fmt.Printf("  API       %s\n", stack.APIURL)
	if stack.APIKey != "" {
		fmt.Printf("  API key   %s   (header x-api-key; every scope)\n", stack.APIKey)
	}
	fmt.Printf("  DynamoDB  %s\n  SQS       %s\n\n", stack.DynamoDBEndpoint, stack.SQSEndpoint)
	fmt.Println("  Routes:")
	for _, r := range stack.Routes() {
		fmt.Printf("    %s\n", r)
	}
	if rules := stack.ScheduleRules(); len(rules) > 0 {
		fmt.Printf("  Schedules (fire now: curl -X POST %s/_local/schedules/fire[?rule=...]):\n", stack.APIURL)
		for _, r := range rules {
			fmt.Printf("    %s\n", r)
		}
	}
	fmt.Printf("\n  Try:\n    curl -s -X POST %s/v1/interactions -H 'x-api-key: %s' -H 'content-type: application/json' \\\n", stack.APIURL, stack.APIKey)
	fmt.Printf("      --data @events/requests/interaction-single.json\n")
	fmt.Printf("    curl -s %s/v1/customers/cust-anna -H 'x-api-key: %s'\n\n", stack.APIURL, stack.APIKey)
	fmt.Println("Ctrl-C stops everything. One line per invocation follows:")

	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "\nstopping...")
	if err := stack.Close(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	fmt.Fprintln(os.Stderr, "stopped")
	return nil
}
