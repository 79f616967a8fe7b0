package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/meter"
)

var stack *localrun.Stack

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var err error
	stack, err = localrun.Start(ctx, localrun.Config{
		Quiet:           true,
		ManualSchedules: true,
		MaxInstances:    3,
		ResourcePrefix:  "e2e-",
		// Failed messages come back after 2 s instead of 3 minutes, so redrive to the DLQ
		// after maxReceiveCount is observable within a test; the sweep takes unapplied clicks
		// after 1 s instead of 10 minutes.
		Parameters: map[string]string{"ConsumerVisibilityTimeout": "2", "SweepGraceSeconds": "1"},
		// StopSQS makes the rescore queue unreachable for a click (sweep_test.go).
		FaultProxies: true,
		// A revoked API key is refused after 1 s, not the default minute (apikey_test.go); every
		// AWS call is logged for the IAM audit below.
		ExtraEnv: map[string]string{"API_KEY_CACHE_SECONDS": "1", meter.AuditEnvVar: "1"},
	})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start local stack:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		code = auditIAM()
	}
	if code != 0 {
		for _, f := range []string{"RecordInteractionFunction", "RescoreCustomerFunction", "ReadApiFunction",
			"IssueVoucherFunction", "CampaignWorkerFunction", "ClickRedirectFunction",
			"RedeemReferralFunction", "GrantRewardFunction", "ReleaseRewardsFunction", "MarketingApiFunction", "SweepInteractionsFunction"} {
			if b, err := os.ReadFile(stack.LogPath(f)); err == nil {
				fmt.Fprintf(os.Stderr, "---- %s log (tail) ----\n%s\n", f, tail(b, 3000))
			}
		}
	}
	_ = stack.Close()
	os.Exit(code)
}

// auditIAM checks, after every test ran, that the template's policies allow each DynamoDB and
// SQS call the functions made (IAM is not enforced locally: a missing action would fail only on
// AWS), and lists the granted actions no test exercised.
func auditIAM() int {
	denied, unused, err := stack.AuditIAM()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: IAM audit:", err)
		return 1
	}
	code := 0
	if len(denied) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: IAM audit: %d calls the template's policies do not allow (they would fail on AWS):\n  %s\n", len(denied), strings.Join(denied, "\n  "))
		code = 1
	}
	// Least privilege: with the whole suite run, every granted action must have been used.
	full := flag.Lookup("test.run").Value.String() == ""
	if len(unused) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: IAM audit: %d granted actions no test used:\n  %s\n", len(unused), strings.Join(unused, "\n  "))
		if full {
			fmt.Fprintln(os.Stderr, "e2e: IAM audit: remove them from template.yaml, or test the path that needs them")
			code = 1
		}
	}
	switch {
	case code == 0 && len(unused) == 0:
		fmt.Println("e2e: IAM audit: every call the functions made is allowed by their policies, and every granted action was used")
	case code == 0:
		fmt.Println("e2e: IAM audit: every call the functions made is allowed by their policies (a partial run: unused grants not enforced)")
	}
	return code
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

type response struct {
	Status int
	Body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

func call(t *testing.T, method, path string, body []byte, key string) response {
	t.Helper()
	req, err := http.NewRequest(method, stack.APIURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("content-type", "application/json")
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, b}
}

func post(t *testing.T, path string, body []byte) response {
	return call(t, http.MethodPost, path, body, stack.APIKey)
}

func get(t *testing.T, path string) response { return call(t, http.MethodGet, path, nil, stack.APIKey) }

// getCSV asks for the CSV form of a listing.
func getCSV(t *testing.T, path string) (response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, stack.APIURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", stack.APIKey)
	req.Header.Set("accept", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, b}, resp.Header.Get("content-type")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
