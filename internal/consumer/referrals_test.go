package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/referral-engine/referral-engine/internal/httpapi"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/referral"
)

type fakeRedeemer struct {
	got     []referral.Redemption
	refunds []string // order ids
	err     error
}

func (f *fakeRedeemer) RefundInteraction(_ context.Context, in interaction.Interaction) (referral.RefundAnswer, error) {
	f.refunds = append(f.refunds, in.Properties.OrderID)
	if _, refusal := referral.AsRefusal(f.err); refusal { // refunds are never refused
		return referral.RefundAnswer{OrderID: in.Properties.OrderID, Status: referral.Voided}, nil
	}
	return referral.RefundAnswer{OrderID: in.Properties.OrderID, Status: referral.Voided}, f.err
}

func (f *fakeRedeemer) Redeem(_ context.Context, r referral.Redemption) (referral.Answer, error) {
	f.got = append(f.got, r)
	return referral.Answer{ReferralID: referral.ReferralID(r.OrderID)}, f.err
}

type fakeGranter struct{ got []string }

func (f *fakeGranter) Grant(_ context.Context, id string) (referral.GrantOutcome, error) {
	f.got = append(f.got, id)
	return referral.GrantedNow, nil
}

func fixture(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The sample events in events/ go through the same Mux the redeem-referral function uses.
func TestRedeemFixtures(t *testing.T) {
	red := &fakeRedeemer{}
	var httpCalls []string
	mux := Mux(func(_ context.Context, req httpapi.Request) (httpapi.Response, error) {
		httpCalls = append(httpCalls, req.RouteKey)
		return httpapi.Response{StatusCode: 201}, nil
	}, NewRedeem(red, nil).Handle)

	out, err := mux(context.Background(), fixture(t, "redeem-referral-sqs.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(events.SQSEventResponse)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "7b1c6a8e-0c4b-4a8e-9d55-3f2b0f7c1c02" {
		t.Errorf("failures %+v", resp)
	}
	if len(red.got) != 1 || red.got[0] != (referral.Redemption{Code: "ANNA-7KQ2XH", OrderID: "ord-9001", FriendCustomerID: "cust-marco", OrderTotal: 4900, Currency: "EUR"}) {
		t.Errorf("redeemed %+v", red.got)
	}
	if len(red.refunds) != 1 || red.refunds[0] != "ord-9001" {
		t.Errorf("refunds %v", red.refunds)
	}
	// A refusal is final: the message is not retried.
	red.err = referral.Refuse(referral.NotFirstPurchase, "no")
	out, _ = mux(context.Background(), fixture(t, "redeem-referral-sqs.json"))
	if n := len(out.(events.SQSEventResponse).BatchItemFailures); n != 1 {
		t.Errorf("a refusal was retried: %d failures", n)
	}
	// An error is retried.
	red.err = errors.New("dynamodb down")
	out, _ = mux(context.Background(), fixture(t, "redeem-referral-sqs.json"))
	if n := len(out.(events.SQSEventResponse).BatchItemFailures); n != 3 {
		t.Errorf("an error was not retried: %d failures", n)
	}
	for _, f := range []string{"redeem-referral.json", "refund-order.json"} {
		if _, err := mux(context.Background(), fixture(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	if len(httpCalls) != 2 || httpCalls[0] != "POST /v1/referrals" || httpCalls[1] != "POST /v1/orders/{order_id}/refunds" {
		t.Errorf("http %v", httpCalls)
	}
	// The request fixture is a valid redemption.
	var ev httpapi.Request
	_ = json.Unmarshal(fixture(t, "redeem-referral.json"), &ev)
	if _, err := referral.DecodeRedemption([]byte(ev.Body)); err != nil {
		t.Errorf("fixture body: %v", err)
	}
}

func TestGrantFixture(t *testing.T) {
	g := &fakeGranter{}
	var ev events.SQSEvent
	if err := json.Unmarshal(fixture(t, "grant-reward-sqs.json"), &ev); err != nil {
		t.Fatal(err)
	}
	resp, err := NewGrant(g, nil).Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "9a1c6a8e-0c4b-4a8e-9d55-3f2b0f7c1b02" || len(g.got) != 1 {
		t.Errorf("%+v %v", resp, g.got)
	}
}
