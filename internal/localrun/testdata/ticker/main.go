// Command ticker is a test scheduled function: it records each event it gets in the table.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/awsclient"
)

func main() {
	c, err := awsclient.Load(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	table := os.Getenv("PROCESSED_TABLE")
	lambda.Start(func(ctx context.Context, ev json.RawMessage) error {
		var probe struct {
			ID  string `json:"id"`
			Job string `json:"job"`
		}
		_ = json.Unmarshal(ev, &probe)
		key := "tick#" + probe.ID + probe.Job
		_, err := c.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item: map[string]types.AttributeValue{
				"pk":    &types.AttributeValueMemberS{Value: key},
				"kind":  &types.AttributeValueMemberS{Value: "tick"},
				"event": &types.AttributeValueMemberS{Value: string(ev)},
			},
		})
		return err
	})
}
