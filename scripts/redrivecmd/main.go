// Command redrive moves messages from a dead-letter queue back to its source queue once the
// cause of their failures is fixed (internal/redrive). See scripts/redrive.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/referral-engine/referral-engine/internal/emulator"
	"github.com/referral-engine/referral-engine/internal/redrive"
	"github.com/referral-engine/referral-engine/internal/template"
)

func main() {
	queue := flag.String("queue", "", "the source queue's logical id (RescoreQueue) or its DLQ's, or the source queue's URL")
	to := flag.String("to", "", "the source queue's URL, when --queue is a DLQ's URL")
	dry := flag.Bool("dry-run", false, "list what would move (count, message ids, bodies truncated); move nothing")
	max := flag.Int("max", 0, "move at most N messages (0: all)")
	local := flag.Bool("local", false, "use the local stack's SQS emulator (127.0.0.1:$SQS_PORT, default 9324)")
	prefix := flag.String("prefix", "", "local queue name prefix (localrun's ResourcePrefix)")
	stack := flag.String("stack", "", "CloudFormation stack name: find logical ids' queues as <stack>-<id>-*")
	flag.Parse()
	if *queue == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*queue, *to, *dry, *max, *local, *prefix, *stack); err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
}

func run(queue, to string, dry bool, max int, local bool, prefix, stack string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var opts []func(*config.LoadOptions) error
	if local {
		port := os.Getenv("SQS_PORT")
		if port == "" {
			port = "9324"
		}
		opts = append(opts, config.WithRegion("us-east-1"), config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")),
			config.WithBaseEndpoint("http://127.0.0.1:"+port))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return err
	}
	c := sqs.NewFromConfig(cfg)

	var tmpl *template.Template
	if repo, err := emulator.RepoRoot(); err == nil {
		tmpl, _ = template.Load(filepath.Join(repo, "template.yaml"))
	}
	dlq, source, err := redrive.Resolve(ctx, c, tmpl, redrive.Target{Queue: queue, To: to, Prefix: prefix, Stack: stack})
	if err != nil {
		return err
	}
	verb := "moving"
	if dry {
		verb = "dry run: would move"
	}
	fmt.Printf("%s %s -> %s\n", verb, dlq, source)
	res, err := redrive.Run(ctx, c, redrive.Options{DLQ: dlq, Source: source, DryRun: dry, Max: max, Out: os.Stdout})
	if dry {
		fmt.Printf("%d message(s) would move; nothing moved\n", res.Seen)
	} else {
		fmt.Printf("%d message(s) moved, %d left in the DLQ\n", res.Moved, res.Failed)
	}
	return err
}
