// Command hellodynamodbimport is the cold start floor of the functions that call DynamoDB only
// (the read APIs): hello-world linking the DynamoDB client package and calling nothing in it.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	// Imported for its init only: what linking the DynamoDB client costs before any call.
	_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func main() {
	lambda.Start(func(ctx context.Context, in map[string]any) (string, error) { return "hello", nil })
}
