// Command hellosdk is the cold start benchmark's third baseline: hello-world plus what every
// function wires first, the DynamoDB and SQS clients (internal/awsclient), so the report tells
// the SDK's share of a cold start from the project's own.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
)

func main() {
	c, err := awsclient.Load(context.Background())
	sq := sqsqueue.NewClient(c.Env)
	if err != nil {
		os.Exit(1)
	}
	lambda.Start(func(ctx context.Context, in map[string]any) (string, error) {
		_, _ = c.DynamoDB, sq
		return "hello", nil
	})
}
