package awsclient

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/smithy-go/logging"
)

// Env is the SDK configuration a function reads from its environment.
type Env struct {
	// Config has the region, the credentials, the SDK's standard logger and the checksum and
	// account endpoint defaults; its other fields are left to the clients' defaults (retryer,
	// HTTP client), as config.LoadDefaultConfig leaves them when nothing configures them.
	Config aws.Config
	// DynamoDBEndpoint and SQSEndpoint are the services' base endpoints, "" for AWS's own.
	DynamoDBEndpoint, SQSEndpoint string
}

// FromEnv reads what Lambda sets in every function's environment, and only that:
//
//   - region: AWS_REGION, else AWS_DEFAULT_REGION;
//   - credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (the execution
//     role's, valid for the sandbox's lifetime), else the container credentials endpoint
//     AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN or
//     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (what Lambda gives a SnapStart function instead of keys);
//   - endpoints: AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS, else AWS_ENDPOINT_URL, none
//     if AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true (the SDK's precedence).
//
// Unlike config.LoadDefaultConfig it reads no shared config or credentials file (a function has
// no ~/.aws), no profile, SSO, web identity or IMDS, and no AWS_CA_BUNDLE, AWS_MAX_ATTEMPTS,
// AWS_RETRY_MODE or AWS_SDK_UA_APP_ID. A missing region or credentials is an error here, at
// cold start, rather than on the first request.
func FromEnv(getenv func(string) string) (Env, error) {
	var errs []error
	region := cmp.Or(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"))
	if region == "" {
		errs = append(errs, errors.New("no region: AWS_REGION is not set"))
	}
	creds, err := envCredentials(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	var ddb, sqs string
	if !strings.EqualFold(strings.TrimSpace(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")), "true") {
		shared := getenv("AWS_ENDPOINT_URL")
		ddb = cmp.Or(getenv("AWS_ENDPOINT_URL_DYNAMODB"), shared)
		sqs = cmp.Or(getenv("AWS_ENDPOINT_URL_SQS"), shared)
		if err := checkEndpoint(ddb); err != nil {
			errs = append(errs, fmt.Errorf("DynamoDB endpoint: %w", err))
		}
		if err := checkEndpoint(sqs); err != nil {
			errs = append(errs, fmt.Errorf("SQS endpoint: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Env{}, err
	}
	return Env{
		Config: aws.Config{
			Region:      region,
			Credentials: creds,
			// The logger config.LoadDefaultConfig sets, so that the SDK's warnings still reach
			// the function's log.
			Logger: logging.NewStandardLogger(os.Stderr),
			// config.LoadDefaultConfig's defaults when no variable sets them.
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
			AccountIDEndpointMode:      aws.AccountIDEndpointModePreferred,
		},
		DynamoDBEndpoint: ddb,
		SQSEndpoint:      sqs,
	}, nil
}

// envCredentials is the credentials provider the environment names.
func envCredentials(getenv func(string) string) (aws.CredentialsProvider, error) {
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case key != "" && secret != "":
		return credentials.StaticCredentialsProvider{Value: aws.Credentials{
			AccessKeyID:     key,
			SecretAccessKey: secret,
			SessionToken:    getenv("AWS_SESSION_TOKEN"),
			AccountID:       getenv("AWS_ACCOUNT_ID"),
			Source:          "EnvConfigCredentials", // the name config.LoadDefaultConfig gives them
		}}, nil
	case key != "" || secret != "":
		return nil, errors.New("incomplete credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set")
	}
	full := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if full == "" {
		return nil, errors.New("no credentials: neither AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set")
	}
	if err := checkCredentialsURI(full); err != nil {
		return nil, fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI: %w", err)
	}
	token, tokenFile := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"), getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
	p := endpointcreds.New(full, func(o *endpointcreds.Options) {
		o.AuthorizationToken = token
		if tokenFile != "" {
			// Read on every refresh, as the SDK does: the file's token may rotate.
			o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return "", fmt.Errorf("read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", err)
				}
				return strings.TrimSpace(string(b)), nil
			})
		}
	})
	// The SDK's own window for this provider: refresh five minutes before expiry.
	return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 5 * time.Minute }), nil
}

// checkCredentialsURI allows plain HTTP to a loopback host only, as the SDK does for this
// variable (it also allows the ECS and EKS link-local hosts, which Lambda does not use); the
// host is not resolved, since init must do no I/O.
func checkCredentialsURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme != "http":
		return fmt.Errorf("%q: scheme must be http or https", s)
	}
	if h := u.Hostname(); h == "localhost" || net.ParseIP(h).IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q: plain http is allowed to a loopback host only", s)
}

// checkEndpoint rejects an endpoint the SDK would only reject on the first request.
func checkEndpoint(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL with a host", s)
	}
	return nil
}
