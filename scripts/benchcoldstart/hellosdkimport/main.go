// Command hellosdkimport is the cold start benchmark's floor: hello-world that links the DynamoDB
// and SQS client packages and calls nothing in them. Their package initialisation (endpoint rule
// sets, serialisation schemas) runs in every process that imports them, so no function that uses
// the SDK starts faster than this.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	// Imported for their init only: what linking the SDK's clients costs before any call.
	_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/aws/aws-sdk-go-v2/service/sqs"
)

func main() {
	lambda.Start(func(ctx context.Context, in map[string]any) (string, error) { return "hello", nil })
}
