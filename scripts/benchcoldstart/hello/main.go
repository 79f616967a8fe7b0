// Command hello is the cold start benchmark's baseline: the smallest aws-lambda-go function,
// built with the same flags as the project's functions.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, in map[string]any) (string, error) { return "hello", nil })
}
