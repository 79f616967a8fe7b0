// Package awsclient builds the DynamoDB client every function shares (and the environment
// sqsqueue.NewClient builds the SQS client from), once per cold start, from the
// environment Lambda gives the process (see FromEnv). Endpoints come from the SDK's standard
// variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS), so one binary
// runs on AWS, LocalStack and the local emulators.
//
// The package deliberately does not import the SDK's config package: linking it initialises the
// STS, SSO, SSO OIDC and sign-in clients' packages and runs the shared-config loaders, about a
// millisecond of every cold start (bench-coldstart) for credential sources a Lambda function
// never uses. Tools that need profiles, SSO or IMDS call config.LoadDefaultConfig themselves.
package awsclient

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/referral-engine/referral-engine/internal/meter"
)

// Clients holds the DynamoDB client every function needs and the environment it was built from.
// The SQS client is built from Env by sqsqueue.NewClient, in the functions that send: linking
// the SQS package costs its package init in every cold start (bench-coldstart).
type Clients struct {
	Env      Env
	DynamoDB *dynamodb.Client
}

// Load builds the clients from the process environment (FromEnv). It does no I/O: the context
// is kept for callers and for credential sources that may need one later.
func Load(_ context.Context) (*Clients, error) {
	env, err := FromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return New(env), nil
}

// New builds the clients from an already read environment. The endpoint option comes before
// DynamoDBOptions, which looks at the endpoint it sets.
func New(env Env) *Clients {
	ddbEndpoint := func(o *dynamodb.Options) {
		if env.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(env.DynamoDBEndpoint)
		}
	}
	ddbOpts := []func(*dynamodb.Options){ddbEndpoint, DynamoDBOptions, meter.DynamoDBOption}
	if meter.AuditOn() { // local tests only: which calls the template's policies must allow
		ddbOpts = append(ddbOpts, meter.DynamoDBAudit)
	}
	return &Clients{Env: env, DynamoDB: dynamodb.NewFromConfig(env.Config, ddbOpts...)}
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
