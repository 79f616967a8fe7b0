package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// lambdaEnv is what Lambda sets for every function, as far as FromEnv reads it.
var lambdaEnv = map[string]string{
	"AWS_REGION":            "eu-west-1",
	"AWS_DEFAULT_REGION":    "eu-west-1",
	"AWS_ACCESS_KEY_ID":     "AKIDLAMBDA",
	"AWS_SECRET_ACCESS_KEY": "secret",
	"AWS_SESSION_TOKEN":     "token",
}

func with(base map[string]string, kv ...string) func(string) string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return func(k string) string { return m[k] }
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name                string
		getenv              func(string) string
		region, ddb, sqs    string
		wantErr             []string // substrings of the error, all of them
		key, token, account string
	}{
		{name: "lambda", getenv: with(lambdaEnv), region: "eu-west-1", key: "AKIDLAMBDA", token: "token"},
		{name: "default region only", getenv: with(lambdaEnv, "AWS_REGION", ""), region: "eu-west-1", key: "AKIDLAMBDA", token: "token"},
		{name: "AWS_REGION wins", getenv: with(lambdaEnv, "AWS_DEFAULT_REGION", "us-east-1"), region: "eu-west-1", key: "AKIDLAMBDA", token: "token"},
		{name: "no region", getenv: with(lambdaEnv, "AWS_REGION", "", "AWS_DEFAULT_REGION", ""), wantErr: []string{"no region: AWS_REGION is not set"}},
		{name: "no session token", getenv: with(lambdaEnv, "AWS_SESSION_TOKEN", ""), region: "eu-west-1", key: "AKIDLAMBDA"},
		{name: "account id", getenv: with(lambdaEnv, "AWS_ACCOUNT_ID", "123456789012"), region: "eu-west-1", key: "AKIDLAMBDA", token: "token", account: "123456789012"},
		{name: "no credentials", getenv: with(lambdaEnv, "AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", ""), wantErr: []string{"no credentials"}},
		{name: "key without secret", getenv: with(lambdaEnv, "AWS_SECRET_ACCESS_KEY", ""), wantErr: []string{"incomplete credentials"}},
		{name: "secret without key", getenv: with(lambdaEnv, "AWS_ACCESS_KEY_ID", ""), wantErr: []string{"incomplete credentials"}},
		{name: "every error at once", getenv: with(nil), wantErr: []string{"no region", "no credentials"}},
		{
			name:   "shared endpoint",
			getenv: with(lambdaEnv, "AWS_ENDPOINT_URL", "http://localhost:4566"),
			region: "eu-west-1", key: "AKIDLAMBDA", token: "token", ddb: "http://localhost:4566", sqs: "http://localhost:4566",
		},
		{
			name:   "service endpoints win over the shared one",
			getenv: with(lambdaEnv, "AWS_ENDPOINT_URL", "http://localhost:4566", "AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000", "AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"),
			region: "eu-west-1", key: "AKIDLAMBDA", token: "token", ddb: "http://127.0.0.1:8000", sqs: "http://127.0.0.1:9324",
		},
		{
			name:   "one service endpoint",
			getenv: with(lambdaEnv, "AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
			region: "eu-west-1", key: "AKIDLAMBDA", token: "token", ddb: "http://127.0.0.1:8000",
		},
		{
			name:   "configured endpoints ignored",
			getenv: with(lambdaEnv, "AWS_ENDPOINT_URL", "http://localhost:4566", "AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "True"),
			region: "eu-west-1", key: "AKIDLAMBDA", token: "token",
		},
		{name: "endpoint without scheme", getenv: with(lambdaEnv, "AWS_ENDPOINT_URL_SQS", "localhost:9324"), wantErr: []string{"SQS endpoint", "not an http(s) URL"}},
		{name: "endpoint not a URL", getenv: with(lambdaEnv, "AWS_ENDPOINT_URL", "http://[::1"), wantErr: []string{"DynamoDB endpoint", "SQS endpoint"}},
		{name: "container credentials over plain http elsewhere", getenv: with(lambdaEnv, "AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", "", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://credentials.example.com/creds"), wantErr: []string{"loopback host only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := FromEnv(tt.getenv)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, want one with %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if env.Config.Region != tt.region || env.DynamoDBEndpoint != tt.ddb || env.SQSEndpoint != tt.sqs {
				t.Errorf("region %q, endpoints %q %q; want %q, %q %q", env.Config.Region, env.DynamoDBEndpoint, env.SQSEndpoint, tt.region, tt.ddb, tt.sqs)
			}
			creds, err := env.Config.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID != tt.key || creds.SecretAccessKey != "secret" || creds.SessionToken != tt.token || creds.AccountID != tt.account || creds.CanExpire {
				t.Errorf("credentials %+v; want key %q, token %q, account %q, not expiring", creds, tt.key, tt.token, tt.account)
			}
			if env.Config.Logger == nil {
				t.Error("no logger: the SDK's warnings would be lost")
			}
		})
	}
}

// The clients get the endpoints, and DynamoDB's response checksum check is off for a local one
// only (DynamoDB Local does not send the header).
func TestNewSetsEndpoints(t *testing.T) {
	for _, tt := range []struct {
		name, ddb, sqs string
	}{
		{name: "AWS"},
		{name: "local", ddb: "http://127.0.0.1:8000", sqs: "http://127.0.0.1:9324"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL", "")
			t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "")
			env, err := FromEnv(with(lambdaEnv, "AWS_ENDPOINT_URL_DYNAMODB", tt.ddb, "AWS_ENDPOINT_URL_SQS", tt.sqs))
			if err != nil {
				t.Fatal(err)
			}
			c := New(env)
			ddb := c.DynamoDB.Options()
			if got := aws.ToString(ddb.BaseEndpoint); got != tt.ddb {
				t.Errorf("DynamoDB endpoint %q, want %q", got, tt.ddb)
			}
			if c.Env.SQSEndpoint != tt.sqs { // the SQS client's (sqsqueue.NewClient)
				t.Errorf("SQS endpoint %q, want %q", c.Env.SQSEndpoint, tt.sqs)
			}
			if ddb.DisableValidateResponseChecksum != (tt.ddb != "") {
				t.Errorf("DisableValidateResponseChecksum %v with endpoint %q", ddb.DisableValidateResponseChecksum, tt.ddb)
			}
			if ddb.Region != "eu-west-1" {
				t.Errorf("region %q", ddb.Region)
			}
		})
	}
}

// Without keys in the environment (SnapStart), credentials come from the container credentials
// endpoint, with the authorization token from the variable or, when set, the file.
func TestFromEnvContainerCredentials(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, file, want string
	}{
		{name: "token variable", want: "from-env"},
		{name: "token file", file: tokenFile, want: "from-file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var gotAuth string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth = r.Header.Get("Authorization")
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"AccessKeyId":"AKIDCONTAINER","SecretAccessKey":"s","Token":"t","Expiration":"` +
					time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`))
			}))
			defer srv.Close()
			env, err := FromEnv(with(lambdaEnv, "AWS_ACCESS_KEY_ID", "", "AWS_SECRET_ACCESS_KEY", "", "AWS_SESSION_TOKEN", "",
				"AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/creds",
				"AWS_CONTAINER_AUTHORIZATION_TOKEN", "from-env",
				"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			creds, err := env.Config.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if creds.AccessKeyID != "AKIDCONTAINER" || !creds.CanExpire {
				t.Errorf("credentials %+v", creds)
			}
			if gotAuth != tt.want {
				t.Errorf("Authorization %q, want %q", gotAuth, tt.want)
			}
		})
	}
}

// The package's cold start saving is in what it does not link: the config package would bring
// the STS, SSO, SSO OIDC and sign-in clients' package init into every function.
func TestNoSharedConfigLoader(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"aws-sdk-go-v2/config", "aws-sdk-go-v2/service/sts", "aws-sdk-go-v2/service/sso", "aws-sdk-go-v2/feature/ec2/imds"} {
			if strings.HasSuffix(dep, banned) || strings.Contains(dep, banned+"/") {
				t.Errorf("awsclient links %s", dep)
			}
		}
	}
}
