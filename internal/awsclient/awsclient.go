// Package awsclient builds the SDK clients every function and tool shares, once per cold start.
// Endpoints come from the SDK's standard configuration (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SQS), so one binary runs on AWS, LocalStack and the local emulators.
package awsclient

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/referral-engine/referral-engine/internal/meter"
)

// Clients holds the SDK clients a function needs.
type Clients struct {
	Config   aws.Config
	DynamoDB *dynamodb.Client
	SQS      *sqs.Client
}

// Load reads the standard SDK configuration and builds the clients.
func Load(ctx context.Context) (*Clients, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return New(cfg), nil
}

// New builds the clients from an already loaded configuration.
func New(cfg aws.Config) *Clients {
	return &Clients{
		Config:   cfg,
		DynamoDB: dynamodb.NewFromConfig(cfg, DynamoDBOptions, meter.DynamoDBOption),
		SQS:      sqs.NewFromConfig(cfg, meter.SQSOption),
	}
}

// DynamoDBOptions turns off the CRC32 response check against local endpoints only: DynamoDB
// Local does not send the header the SDK checks, and the SDK logs a warning on every call.
func DynamoDBOptions(o *dynamodb.Options) {
	if IsLocalEndpoint(o.BaseEndpoint) {
		o.DisableValidateResponseChecksum = true
	}
}

// IsLocalEndpoint reports whether DynamoDB calls go to an endpoint other than AWS's own.
func IsLocalEndpoint(base *string) bool {
	if base != nil && *base != "" {
		return true
	}
	return os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
}
