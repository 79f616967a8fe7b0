// Command worker is a test SQS consumer: it records each message in the table and reports the
// messages whose body is "poison" as batch item failures.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/referral-engine/referral-engine/internal/awsclient"
)

type handler struct {
	db    *dynamodb.Client
	table string
}

func (h handler) handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		if m.Body == "poison" {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			continue
		}
		attr := ""
		if a, ok := m.MessageAttributes["attr"]; ok && a.StringValue != nil {
			attr = *a.StringValue
		}
		_, err := h.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(h.table),
			Item: map[string]types.AttributeValue{
				"pk":         &types.AttributeValueMemberS{Value: "msg#" + m.Body},
				"kind":       &types.AttributeValueMemberS{Value: "msg"},
				"batch_size": &types.AttributeValueMemberN{Value: strconv.Itoa(len(ev.Records))},
				"receives":   &types.AttributeValueMemberS{Value: m.Attributes["ApproximateReceiveCount"]},
				"source":     &types.AttributeValueMemberS{Value: m.EventSource + " " + m.EventSourceARN},
				"attr":       &types.AttributeValueMemberS{Value: attr},
			},
		})
		if err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	return resp, nil
}

func main() {
	c, err := awsclient.Load(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lambda.Start(handler{db: c.DynamoDB, table: os.Getenv("PROCESSED_TABLE")}.handle)
}
