// Package toolclient builds the DynamoDB client of the operator scripts (scripts/apikey,
// scripts/segment-counts...): the SDK's default configuration, with profiles, SSO and the
// instance metadata service that the functions do without (internal/awsclient). Against a local
// endpoint, a missing region and missing credentials get local placeholders.
package toolclient

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/referral-engine/referral-engine/internal/awsclient"
)

// DynamoDB builds the client; endpoint, when set, is the DynamoDB endpoint (a local stack's).
func DynamoDB(ctx context.Context, endpoint string) (*dynamodb.Client, error) {
	var opts []func(*config.LoadOptions) error
	local := endpoint != "" || awsclient.IsLocalEndpoint(nil)
	if local && os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion("us-east-1"))
	}
	if local && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		awsclient.DynamoDBOptions(o)
	}), nil
}

// EnvOr is the variable's value, or def when it is unset or empty.
func EnvOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
