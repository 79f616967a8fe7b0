package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/referral"
	"github.com/referral-engine/referral-engine/internal/sweep"
)

// Player plays a workload against a stack as the storefronts and tools would: every request is
// retried on a 5xx, a 429 or a lost connection until it gets its answer (storefront retries with
// the same event ids, orders and codes), and every answer is checked.
type Player struct {
	Stack   *localrun.Stack
	Clients int           // concurrent storefront clients; 0 means 4
	Within  time.Duration // bound on the whole play; 0 means 4 minutes
	Log     func(format string, args ...any)
	// Gate, when set, is held by a drill's fault for the whole of an outage; the play takes it
	// to enter the click phase, so that no gated outage runs into the clicks (see Phase). SQS
	// outages are not gated: the sweep applies the clicks they leave unapplied.
	Gate sync.Locker
	// Now is the base of the workload's times (occurred_at = Now - age); zero means when Play
	// starts. Runs compared with each other use the same base.
	Now time.Time

	http     *http.Client
	deadline time.Time
	retries  atomic.Int64
	phase    atomic.Value
}

// Result tells what the play went through.
type Result struct {
	Requests, Retries int64
	Vouchers          int
	Referrals         int // accepted
	Took              time.Duration
}

// Phase is what the play is doing now ("interactions", "vouchers", "referrals" (waiting for
// the last applied), "clicks", "redeem", "refunds", "release", "reversals", "erase-wait",
// "erase", "settling", "done"): drills time their faults by it.
func (p *Player) Phase() string {
	s, _ := p.phase.Load().(string)
	return s
}

// Play runs the workload to the end and waits until the stack is idle (queues drained, nothing
// in flight). It returns an error for any answer that is not the one the workload expects.
func (p *Player) Play(ctx context.Context, w Workload) (Result, error) {
	began := time.Now()
	if p.Clients <= 0 {
		p.Clients = 4
	}
	if p.Within <= 0 {
		p.Within = 4 * time.Minute
	}
	if p.Log == nil {
		p.Log = func(string, ...any) {}
	}
	p.http = &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	p.deadline = began.Add(p.Within)
	ctx, cancel := context.WithDeadline(ctx, p.deadline)
	defer cancel()
	var res Result
	var requests atomic.Int64
	now := p.Now
	if now.IsZero() {
		now = began
	}

	p.phase.Store("interactions")
	err := p.parallel(ctx, len(w.Posts), func(i int) error {
		post := w.Posts[i]
		for range 1 + btoi(post.Replay) {
			requests.Add(1)
			status, body, err := p.call(ctx, http.MethodPost, "/v1/interactions", post.Body(now))
			if err != nil {
				return err
			}
			if post.BadField == "" && status != 202 {
				return fmt.Errorf("post %d: %d %s, want 202", i, status, body)
			}
			if post.BadField != "" && (status != 400 || errorField(body) != post.BadField) {
				return fmt.Errorf("post %d: %d %s, want a 400 naming %s", i, status, body, post.BadField)
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}

	// A voucher needs a known customer: the referrers' interactions must have been applied.
	p.phase.Store("vouchers")
	codes := make([]string, len(w.Referrers))
	err = p.parallel(ctx, len(w.Referrers), func(i int) error {
		ref := w.Referrers[i]
		body, _ := json.Marshal(map[string]string{"first_name": ref.FirstName, "email": ref.Email})
		for {
			requests.Add(1)
			status, out, err := p.call(ctx, http.MethodPost, "/v1/customers/"+ref.Customer+"/vouchers", body)
			if err != nil {
				return err
			}
			if status == 404 { // not applied yet
				if err := sleep(ctx, 200*time.Millisecond); err != nil {
					return fmt.Errorf("voucher of %s: the customer never appeared: %w", ref.Customer, err)
				}
				continue
			}
			var v struct{ Code string }
			if (status != 200 && status != 201) || json.Unmarshal(out, &v) != nil || v.Code == "" {
				return fmt.Errorf("voucher of %s: %d %s", ref.Customer, status, out)
			}
			codes[i] = v.Code
			return nil
		}
	})
	if err != nil {
		return res, err
	}
	res.Vouchers = len(codes)

	p.phase.Store("referrals")
	type friendRef struct {
		ref  int
		f    Friend
		code string
	}
	var friends []friendRef
	for i, r := range w.Referrers {
		for _, f := range r.Friends {
			friends = append(friends, friendRef{i, f, codes[i]})
		}
	}
	// Clicks first, in their own phase: a click is recorded best effort (see package click): a
	// store outage loses it, so the drills keep DynamoDB faults and kills out of this phase.
	// An SQS outage may run into it: a click stored but not enqueued is applied by the sweep
	// (fired before the erasures, in every run).
	if p.Gate != nil {
		p.Gate.Lock()
	}
	p.phase.Store("clicks")
	if p.Gate != nil {
		p.Gate.Unlock()
	}
	err = p.parallel(ctx, len(friends), func(i int) error {
		fr := friends[i]
		for range fr.f.Clicks {
			requests.Add(1)
			status, body, err := p.call(ctx, http.MethodGet, "/r/"+strings.ToLower(fr.code)+"?ref=drill", nil)
			if err != nil {
				return err
			}
			if status != 302 {
				return fmt.Errorf("click %s: %d %s", fr.code, status, body)
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	p.phase.Store("redeem")
	var accepted atomic.Int64
	err = p.parallel(ctx, len(friends), func(i int) error {
		fr := friends[i]
		requests.Add(1)
		if fr.f.ViaQueue {
			buy, _ := json.Marshal(map[string]any{"event_id": fr.f.Order + "-buy", "customer_id": fr.f.Customer, "type": "purchase",
				"occurred_at": now.UTC().Format(time.RFC3339),
				"properties":  map[string]any{"order_id": fr.f.Order, "total": fr.f.Total, "currency": "EUR", "referral_code": fr.code}})
			status, body, err := p.call(ctx, http.MethodPost, "/v1/interactions", buy)
			if err != nil {
				return err
			}
			if status != 202 {
				return fmt.Errorf("friend purchase %s: %d %s", fr.f.Order, status, body)
			}
			accepted.Add(1)
			return nil
		}
		red, _ := json.Marshal(map[string]any{"code": fr.code, "order_id": fr.f.Order, "friend_customer_id": fr.f.Customer,
			"friend_email": fr.f.Email, "order_total": fr.f.Total, "currency": "EUR"})
		status, body, err := p.call(ctx, http.MethodPost, "/v1/referrals", red)
		if err != nil {
			return err
		}
		switch {
		case fr.f.Fraud == "" && status == 201:
			accepted.Add(1)
		case fr.f.Fraud != "" && status == 422 && errorCode(body) == fr.f.Fraud:
		default:
			return fmt.Errorf("redeem %s (fraud %q): %d %s", fr.f.Order, fr.f.Fraud, status, body)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Referrals = int(accepted.Load())
	// Orders that came through the RedeemQueue: wait until their referral exists.
	for _, fr := range friends {
		if fr.f.Fraud != "" {
			continue
		}
		if err := p.until(ctx, "referral of "+fr.f.Order, func() (bool, error) {
			st, err := p.referralStatus(ctx, fr.f.Order)
			return st != "", err
		}); err != nil {
			return res, err
		}
	}

	refund := func(f Friend, want string) error {
		if f.RefundParts == 0 {
			for range 2 { // a refund posted twice changes nothing the second time
				requests.Add(1)
				status, body, err := p.call(ctx, http.MethodPost, "/v1/orders/"+f.Order+"/refunds", []byte(`{}`))
				if err != nil {
					return err
				}
				if status != 200 || !strings.Contains(string(body), `"status":"`+want+`"`) {
					return fmt.Errorf("refund %s: %d %s, want %s", f.Order, status, body, want)
				}
			}
			return nil
		}
		// Refund interactions adding up to the total, each posted twice (a storefront replay):
		// the RedeemQueue path counts each once and cancels the reward at the total.
		for k, amount := range refundParts(f.Total, f.RefundParts) {
			body, _ := json.Marshal(map[string]any{"event_id": fmt.Sprintf("%s-rf%d", f.Order, k), "customer_id": f.Customer,
				"type": "refund", "occurred_at": now.UTC().Format(time.RFC3339), "properties": map[string]any{"order_id": f.Order, "amount": amount}})
			for range 2 {
				requests.Add(1)
				status, resp, err := p.call(ctx, http.MethodPost, "/v1/interactions", body)
				if err != nil {
					return err
				}
				if status != 202 {
					return fmt.Errorf("refund interaction %s: %d %s", f.Order, status, resp)
				}
			}
		}
		return p.until(ctx, "the refunds of "+f.Order+" to make it "+want, func() (bool, error) {
			st, err := p.referralStatus(ctx, f.Order)
			return st == want, err
		})
	}
	p.phase.Store("refunds")
	for _, fr := range friends {
		if fr.f.Fraud == "" && fr.f.RefundBeforeRelease {
			if err := refund(fr.f, "voided"); err != nil {
				return res, err
			}
		}
	}

	// The return window passes: every held reward becomes due (the drill moves release_at into
	// the past, as a day passing would) and the release runs until all are granted (a failed
	// run is simply run again, as the schedule would).
	p.phase.Store("release")
	for _, fr := range friends {
		if fr.f.Fraud != "" || fr.f.RefundBeforeRelease {
			continue
		}
		if err := p.until(ctx, "the hold of "+fr.f.Order+" to end", func() (bool, error) { return true, p.endHold(ctx, fr.f.Order) }); err != nil {
			return res, err
		}
	}
	if err := p.until(ctx, "every reward granted", func() (bool, error) {
		for _, fr := range friends {
			if fr.f.Fraud != "" || fr.f.RefundBeforeRelease {
				continue
			}
			st, err := p.referralStatus(ctx, fr.f.Order)
			if err != nil || st != "granted" {
				if _, ferr := p.Stack.FireSchedules(ctx, "ReleaseRewardsFunction"); ferr != nil {
					return false, ferr
				}
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return res, err
	}

	p.phase.Store("reversals")
	for _, fr := range friends {
		if fr.f.Fraud == "" && fr.f.RefundAfterGrant {
			if err := refund(fr.f, "reversed"); err != nil {
				return res, err
			}
		}
	}

	// Erasure once the customers' messages are all processed (one in flight could recreate
	// a profile: docs/referrals.md), under the faults all the same.
	p.phase.Store("erase-wait")
	if err := p.until(ctx, "the stack to settle before the erasures", p.idle); err != nil {
		return res, err
	}
	// The sweep, as its schedule would after the grace (SweepGraceSeconds): clicks stored while
	// SQS was out are enqueued again. A failed run is run again, as the schedule would, and
	// runs go on until one finds nothing left to enqueue.
	for swept := -1; swept != 0; {
		if err := p.until(ctx, "a sweep of unapplied clicks", func() (bool, error) {
			out, err := p.Stack.Invoke(ctx, "SweepInteractionsFunction", []byte(`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`))
			var r sweep.Result
			if err == nil {
				err = json.Unmarshal(out, &r)
			}
			swept = r.Enqueued
			return err == nil, err
		}); err != nil {
			return res, err
		}
		if swept > 0 {
			p.Log("sweep: %d clicks enqueued again", swept)
		}
		if err := p.until(ctx, "the stack to settle after the sweep", p.idle); err != nil {
			return res, err
		}
	}
	p.phase.Store("erase")
	for _, id := range w.Erase {
		requests.Add(1)
		status, body, err := p.call(ctx, http.MethodDelete, "/v1/customers/"+id, nil)
		if err != nil {
			return res, err
		}
		if status != 200 {
			return res, fmt.Errorf("erase %s: %d %s", id, status, body)
		}
	}

	p.phase.Store("settling")
	if err := p.until(ctx, "the stack to settle", p.idle); err != nil {
		return res, err
	}
	p.phase.Store("done")
	res.Requests, res.Retries, res.Took = requests.Load(), p.retries.Load(), time.Since(began)
	return res, nil
}

// call sends one request and retries it, with the same body, until it gets an answer that is
// not a 5xx or a 429.
func (p *Player) call(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, p.Stack.APIURL+path, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("x-api-key", p.Stack.APIKey)
		if body != nil {
			req.Header.Set("content-type", "application/json")
		}
		resp, err := p.http.Do(req)
		var status int
		var out []byte
		if err == nil {
			out, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
		if err == nil && status < 500 && status != 429 {
			return status, out, nil
		}
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("%s %s: no answer before the drill's deadline (last: %d %s %v)", method, path, status, out, err)
		}
		p.retries.Add(1)
		if attempt%10 == 9 {
			p.Log("%s %s still failing after %d attempts: %d %s %v", method, path, attempt+1, status, trim(out), err)
		}
		if err := sleep(ctx, backoff); err != nil {
			return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (p *Player) parallel(ctx context.Context, n int, do func(i int) error) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(p.Clients, max(n, 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := do(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// until polls cond every 200 ms; errors of the stack's own stores (an emulator down in a
// drill) are retried too, until the play's deadline.
func (p *Player) until(ctx context.Context, what string, cond func() (bool, error)) error {
	var last error
	for {
		ok, err := cond()
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			return fmt.Errorf("waiting for %s: deadline passed (last error: %v)", what, last)
		}
	}
}

func (p *Player) referralStatus(ctx context.Context, order string) (string, error) {
	out, err := p.Stack.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(p.Stack.Resources["ReferralsTable"]),
		Key:            referralKey(order),
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("#s"), ExpressionAttributeNames: map[string]string{"#s": "status"}})
	if err != nil {
		return "", err
	}
	if s, ok := out.Item["status"].(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value, nil
	}
	return "", nil
}

// referralKey is the key of the referral of an order (referralstore's REF# item).
func referralKey(order string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: "REF#" + referral.ReferralID(order)},
		"sk": &ddbtypes.AttributeValueMemberS{Value: "REF"}}
}

// endHold moves a pending referral's release time into the past.
func (p *Player) endHold(ctx context.Context, order string) error {
	_, err := p.Stack.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(p.Stack.Resources["ReferralsTable"]),
		Key:                      referralKey(order),
		UpdateExpression:         aws.String("SET release_at = :t"),
		ConditionExpression:      aws.String("#s = :pending"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":t":       &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)},
			":pending": &ddbtypes.AttributeValueMemberS{Value: "pending"}},
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return nil // granted already
	}
	return err
}

// idle: every queue empty (visible and in flight) and no invocation running, twice in a row a
// second apart (a consumer's last act is often a send to the next queue).
func (p *Player) idle() (bool, error) {
	for range 2 {
		if p.Stack.InFlight() > 0 {
			return false, nil
		}
		for id, url := range p.Stack.Resources {
			// The consumers' queues (DLQs end in "DLQ"); the OutboundQueue has no consumer here.
			if !strings.HasSuffix(id, "Queue") || id == "OutboundQueue" {
				continue
			}
			n, err := queueDepth(context.Background(), p.Stack.SQS, url)
			if err != nil {
				return false, err
			}
			if n > 0 {
				return false, nil
			}
		}
		time.Sleep(time.Second)
	}
	return p.Stack.InFlight() == 0, nil
}

func queueDepth(ctx context.Context, q *sqs.Client, url string) (int, error) {
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"} {
		var v int
		fmt.Sscan(out.Attributes[k], &v)
		n += v
	}
	return n, nil
}

func errorField(body []byte) string {
	var e struct{ Error struct{ Field string } }
	_ = json.Unmarshal(body, &e)
	return e.Error.Field
}

func errorCode(body []byte) string {
	var e struct{ Error struct{ Code string } }
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func trim(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// refundParts splits total into n amounts (n >= 1) adding up to it.
func refundParts(total int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = total / int64(n)
	}
	out[n-1] += total % int64(n)
	return out
}
