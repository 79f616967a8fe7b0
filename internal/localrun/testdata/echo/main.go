// Command echo is a test function: it answers HTTP API requests with what it received.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type reply struct {
	Event    events.APIGatewayV2HTTPRequest `json:"event"`
	Env      map[string]string              `json:"env"`
	PID      int                            `json:"pid"`
	Deadline int64                          `json:"deadlineMs"`
	ARN      string                         `json:"arn"`
}

func handle(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if ms, err := strconv.Atoi(ev.QueryStringParameters["sleep"]); err == nil {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	switch ev.PathParameters["id"] {
	case "panic":
		panic("asked to panic")
	case "error":
		return events.APIGatewayV2HTTPResponse{}, errors.New("asked to fail")
	}
	if ev.PathParameters["proxy"] != "" {
		// Binary round trip: send the body back as bytes.
		body := []byte(ev.Body)
		if ev.IsBase64Encoded {
			body, _ = base64.StdEncoding.DecodeString(ev.Body)
		}
		return events.APIGatewayV2HTTPResponse{
			StatusCode:      200,
			Headers:         map[string]string{"Content-Type": "application/octet-stream", "X-Proxy": ev.PathParameters["proxy"]},
			Body:            base64.StdEncoding.EncodeToString(body),
			IsBase64Encoded: true,
		}, nil
	}
	env := map[string]string{}
	for _, k := range []string{"STAGE", "PROCESSED_TABLE", "WORK_QUEUE_URL", "WORK_QUEUE_ARN", "DLQ_NAME", "TABLE_ARN",
		"GREETING", "PROD", "EXTRA", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
		"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "AWS_ENDPOINT_URL_DYNAMODB",
		"AWS_ENDPOINT_URL_SQS", "AWS_ACCESS_KEY_ID", "HOME"} {
		env[k] = os.Getenv(k)
	}
	r := reply{Event: ev, Env: env, PID: os.Getpid()}
	if d, ok := ctx.Deadline(); ok {
		r.Deadline = d.UnixMilli()
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.ARN = lc.InvokedFunctionArn
	}
	b, _ := json.Marshal(r)
	status := 200
	if s, err := strconv.Atoi(ev.QueryStringParameters["status"]); err == nil {
		status = s
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode:        status,
		Headers:           map[string]string{"Content-Type": "application/json"},
		MultiValueHeaders: map[string][]string{"X-Multi": {"a", "b"}},
		Cookies:           []string{"session=abc; Path=/", "theme=dark"},
		Body:              string(b),
	}, nil
}

func main() {
	lambdacontext.NewLogger().Info("echo cold start")
	lambda.Start(handle)
}
