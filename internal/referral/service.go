package referral

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/referral-engine/referral-engine/internal/aggregate"
	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
	"github.com/referral-engine/referral-engine/internal/metrics"
	"github.com/referral-engine/referral-engine/internal/outbound"
)

// OrderGuard is what the order's guard item holds: the order's referral and the request that
// created it, and what the order's refunds add up to. A guard without a referral is the
// tombstone of an order refunded before any redemption of it was processed.
type OrderGuard struct {
	ReferralID  string
	RequestHash string
	Refunds     Refunds
}

// Refund is one refund of an order: the whole order (POST /v1/orders/{id}/refunds), or an
// amount in the order's minor units (a refund interaction, counted once per EventID).
type Refund struct {
	Full    bool
	Amount  int64
	EventID string
}

// Refunds is what an order's refunds add up to.
type Refunds struct {
	Full   bool
	Amount int64
}

// Covers reports whether the refunds cancel the reward of an order of total: a full refund, or
// partial ones adding up to the total.
func (r Refunds) Covers(total int64) bool { return r.Full || (r.Amount > 0 && r.Amount >= total) }

// TombstoneTTL is how long an order refunded before its redemption keeps refusing it.
const TombstoneTTL = 180 * 24 * time.Hour

// ErrRetry says a redemption transaction lost a race (a conflict, or another request took the
// order): read again and decide.
var ErrRetry = errors.New("referral: concurrent change, read again")

// ErrStale says a referral's status changed since it was read: read it again.
var ErrStale = errors.New("referral: referral changed, read again")

// Store keeps referrals (referralstore.Store).
type Store interface {
	Load(ctx context.Context, code, orderID string) (*Code, *OrderGuard, error)
	OrderGuard(ctx context.Context, orderID string) (*OrderGuard, error)
	Get(ctx context.Context, id string) (*Referral, error)
	Redeem(ctx context.Context, ref Referral, code *Code, fps map[FingerprintKind]string, cap int, now time.Time) error
	Grant(ctx context.Context, ref *Referral, now time.Time) error
	Void(ctx context.Context, ref *Referral, now time.Time) error
	Reverse(ctx context.Context, ref *Referral, now time.Time) error
	Due(ctx context.Context, now time.Time, fn func(ids []string) error) error
	// AddRefund adds a refund to the order's guard (creating a tombstone when there is none),
	// once per refund, and returns the guard as it then is.
	AddRefund(ctx context.Context, orderID string, r Refund, now time.Time) (*OrderGuard, error)
}

// Profiles reads customer aggregates (dynamostore.Customers).
type Profiles interface {
	Find(ctx context.Context, customerID string) (*aggregate.Customer, time.Time, error)
}

// Publisher publishes outbound events (outbound.Publisher).
type Publisher interface {
	Publish(ctx context.Context, events ...outbound.Event) error
}

// Recorder records internal interactions for the referrer (ingest.Service).
type Recorder interface {
	RecordParsed(ctx context.Context, ins []interaction.Interaction, now time.Time) (ingest.Result, error)
}

// Sender sends JSON messages to a queue (sqsqueue.Publisher): the grant queue.
type Sender interface {
	SendJSON(ctx context.Context, bodies []string) error
}

// Deps are the service's collaborators; Grants may be nil where nothing enqueues grants.
type Deps struct {
	Store    Store
	Profiles Profiles
	Events   Publisher
	Recorder Recorder
	Grants   Sender
	Terms    Terms
	Salt     []byte
	Now      func() time.Time
	Log      *slog.Logger
}

// Service runs the referral lifecycle.
type Service struct{ d Deps }

// NewService checks the wiring.
func NewService(d Deps) (*Service, error) {
	if d.Store == nil || d.Events == nil || d.Recorder == nil {
		return nil, errors.New("referral: store, events and recorder are required")
	}
	if err := d.Terms.Validate(); err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Service{d: d}, nil
}

// Answer is the 201 body of POST /v1/referrals.
type Answer struct {
	ReferralID  string         `json:"referral_id"`
	Status      string         `json:"status"`
	FriendOffer map[string]any `json:"friend_offer"`
}

func answer(r *Referral) Answer {
	offer := r.FriendOffer
	if offer == nil {
		offer = map[string]any{}
	}
	return Answer{ReferralID: r.ID, Status: r.Status, FriendOffer: offer}
}

const maxAttempts = 6

// Redeem accepts or refuses a redemption (a *Refusal). Replaying an accepted request (same
// order, code and friend) answers the same referral and re-runs its side effects, which are
// idempotent (deterministic event ids).
func (s *Service) Redeem(ctx context.Context, r Redemption) (Answer, error) {
	ans, err := s.redeem(ctx, r)
	if rf, ok := AsRefusal(err); ok {
		metrics.Add(metrics.ReferralsRefused, 1, "Reason", rf.Reason)
	}
	return ans, err
}

func (s *Service) redeem(ctx context.Context, r Redemption) (Answer, error) {
	for attempt := range maxAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return Answer{}, ctx.Err()
			case <-time.After(time.Duration(attempt*attempt*10) * time.Millisecond):
			}
		}
		now := s.d.Now()
		var code *Code
		var guard *OrderGuard
		var friend Friend
		var loadErr, profErr error
		var wg sync.WaitGroup
		wg.Go(func() { code, guard, loadErr = s.d.Store.Load(ctx, r.Code, r.OrderID) })
		if s.d.Profiles != nil {
			wg.Go(func() { friend, profErr = s.friend(ctx, r) })
		}
		wg.Wait()
		if err := errors.Join(loadErr, profErr); err != nil {
			return Answer{}, err
		}
		if guard != nil && guard.ReferralID == "" { // a tombstone
			if guard.Refunds.Covers(r.OrderTotal) {
				return Answer{}, Refuse(OrderRefunded, "order %s was refunded before it was redeemed", r.OrderID)
			}
			guard = nil // partly refunded: redeemed, its refunds kept on the guard
		}
		if guard != nil {
			if guard.RequestHash != r.RequestHash() {
				return Answer{}, Refuse(AlreadyRedeemed, "order %s already has a referral", r.OrderID)
			}
			ref, err := s.d.Store.Get(ctx, guard.ReferralID)
			if err != nil {
				return Answer{}, err
			}
			if ref == nil {
				return Answer{}, fmt.Errorf("order %s: guard without referral %s", r.OrderID, guard.ReferralID)
			}
			if err := s.afterRedeem(ctx, ref, now); err != nil {
				return Answer{}, err
			}
			return answer(ref), nil
		}
		if err := CheckCode(code, now); err != nil {
			return Answer{}, err
		}
		if err := CheckParties(r, code, friend); err != nil {
			return Answer{}, err
		}
		ref := s.d.Terms.New(r, code, now)
		err := s.d.Store.Redeem(ctx, ref, code, r.Fingerprints.Hashed(s.d.Salt), s.d.Terms.MonthlyCap, now)
		if errors.Is(err, ErrRetry) {
			continue
		}
		if err != nil {
			return Answer{}, err
		}
		metrics.Add(metrics.ReferralsRedeemed, 1)
		if err := s.afterRedeem(ctx, &ref, now); err != nil {
			return Answer{}, err
		}
		return answer(&ref), nil
	}
	return Answer{}, apperr.ErrConcurrentUpdate
}

func (s *Service) friend(ctx context.Context, r Redemption) (Friend, error) {
	c, _, err := s.d.Profiles.Find(ctx, r.FriendCustomerID)
	if e, ok := apperr.As(err); ok && e.Status == http.StatusNotFound {
		return Friend{}, nil
	}
	if err != nil {
		return Friend{}, fmt.Errorf("read friend %s: %w", r.FriendCustomerID, err)
	}
	f := Friend{Orders: c.Orders}
	for _, o := range c.RecentOrders {
		if o.OrderID == r.OrderID {
			f.ThisOrderCounted = true
		}
	}
	return f, nil
}

// afterRedeem publishes referral.redeemed, records the referrer's referral_signup and, when the
// hold is over (a 0-day window), enqueues the grant: concurrently, each idempotent.
func (s *Service) afterRedeem(ctx context.Context, ref *Referral, now time.Time) error {
	publish := func() error {
		return s.d.Events.Publish(ctx, outbound.Event{
			ID: outbound.ReferralRedeemed + ":" + ref.ID, Type: outbound.ReferralRedeemed, At: ref.CreatedAt, CustomerID: ref.ReferrerID,
			Data: map[string]any{"referral_id": ref.ID, "code": ref.Code, "program": ref.Program, "order_id": ref.OrderID,
				"friend_customer_id": ref.FriendCustomerID, "order_total": ref.OrderTotal, "currency": ref.Currency,
				"reward": ref.Reward, "friend_offer": ref.FriendOffer, "release_at": ref.ReleaseAt},
		})
	}
	record := func() error {
		if _, err := s.d.Recorder.RecordParsed(ctx, []interaction.Interaction{{
			EventID: "signup-" + ref.ID, CustomerID: ref.ReferrerID, Type: interaction.ReferralSignup, OccurredAt: ref.CreatedAt,
			Properties: interaction.Properties{Code: ref.Code},
		}}, now); err != nil {
			return fmt.Errorf("record referral_signup of %s: %w", ref.ID, err)
		}
		return nil
	}
	steps := []func() error{publish, record}
	if ref.Status == Pending && ref.Due(now) && s.d.Grants != nil {
		steps = append(steps, func() error { return s.EnqueueGrants(ctx, []string{ref.ID}) })
	}
	return concurrently(steps...)
}

// concurrently runs fs at once and joins their errors.
func concurrently(fs ...func() error) error {
	errs := make([]error, len(fs))
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// GrantMessage is the grant queue's message.
type GrantMessage struct {
	Version    int    `json:"v"`
	ReferralID string `json:"referral_id"`
}

// DecodeGrant decodes a grant message.
func DecodeGrant(body string) (GrantMessage, error) {
	var m GrantMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return m, fmt.Errorf("decode grant message: %w", err)
	}
	if m.Version != 1 || m.ReferralID == "" {
		return m, fmt.Errorf("grant message without version 1 or referral id")
	}
	return m, nil
}

// EnqueueGrants sends one grant message per referral id (batched by the sender).
func (s *Service) EnqueueGrants(ctx context.Context, ids []string) error {
	if s.d.Grants == nil {
		return errors.New("referral: no grant queue")
	}
	bodies := make([]string, len(ids))
	for i, id := range ids {
		b, _ := json.Marshal(GrantMessage{Version: 1, ReferralID: id})
		bodies[i] = string(b)
	}
	if err := s.d.Grants.SendJSON(ctx, bodies); err != nil {
		return fmt.Errorf("enqueue %d grants: %w", len(ids), err)
	}
	return nil
}

// GrantOutcome says what Grant did.
type GrantOutcome string

// Grant outcomes.
const (
	GrantedNow     GrantOutcome = "granted"
	AlreadyGranted GrantOutcome = "already_granted" // events re-published
	NotDue         GrantOutcome = "not_due"
	Closed         GrantOutcome = "closed" // voided or reversed: nothing to do
	Unknown        GrantOutcome = "unknown"
)

// Grant grants a due referral's reward exactly once: the transaction moves it from pending to
// granted with its ledger entry. A redelivery of a granted referral (or of one granted and then
// reversed) re-publishes reward.granted and re-records referral_success (same ids: consumers
// de-duplicate); a voided referral, or one not yet due, is left alone.
func (s *Service) Grant(ctx context.Context, id string) (GrantOutcome, error) {
	for range maxAttempts {
		now := s.d.Now()
		ref, err := s.d.Store.Get(ctx, id)
		if err != nil {
			return "", err
		}
		if ref == nil {
			return Unknown, nil
		}
		out := AlreadyGranted
		switch ref.Status {
		case Pending:
			if !ref.Due(now) {
				return NotDue, nil
			}
			err := s.d.Store.Grant(ctx, ref, now)
			if errors.Is(err, ErrStale) {
				continue
			}
			if err != nil {
				return "", err
			}
			ref.Status, ref.GrantedAt = Granted, &now
			out = GrantedNow
			metrics.Add(metrics.RewardsGranted, 1)
		case Granted, Reversed:
			// Reversed: granted, then refunded before this redelivery of a grant that crashed
			// after its commit (only a grant is ever reversed). The grant happened, so its event
			// and interaction must exist too.
		default:
			return Closed, nil
		}
		at := now
		if ref.GrantedAt != nil {
			at = *ref.GrantedAt
		}
		err = concurrently(func() error {
			return s.d.Events.Publish(ctx, outbound.Event{
				ID: outbound.RewardGranted + ":" + ref.ID, Type: outbound.RewardGranted, At: at, CustomerID: ref.ReferrerID,
				Data: map[string]any{"referral_id": ref.ID, "program": ref.Program, "order_id": ref.OrderID, "reward": ref.Reward},
			})
		}, func() error {
			if _, err := s.d.Recorder.RecordParsed(ctx, []interaction.Interaction{{
				EventID: "success-" + ref.ID, CustomerID: ref.ReferrerID, Type: interaction.ReferralSuccess, OccurredAt: at,
				Properties: interaction.Properties{Code: ref.Code, OrderID: ref.OrderID},
			}}, now); err != nil {
				return fmt.Errorf("record referral_success of %s: %w", ref.ID, err)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		return out, nil
	}
	return "", apperr.ErrConcurrentUpdate
}

// Release enqueues a grant for every pending referral whose hold has passed; it returns how
// many it enqueued.
func (s *Service) Release(ctx context.Context) (int, error) {
	total := 0
	err := s.d.Store.Due(ctx, s.d.Now(), func(ids []string) error {
		if err := s.EnqueueGrants(ctx, ids); err != nil {
			return err
		}
		total += len(ids)
		return nil
	})
	return total, err
}

// RefundAnswer is the body of POST /v1/orders/{order_id}/refunds.
type RefundAnswer struct {
	OrderID    string `json:"order_id"`
	ReferralID string `json:"referral_id,omitempty"`
	// Status is the referral's: voided or reversed; no_referral for an order without one (its
	// later redemption is refused with order_refunded once refunds cover it); pending or granted
	// while partial refunds stay below the order's total.
	Status string `json:"status"`
}

// NoReferral is RefundAnswer.Status for an order without a referral.
const NoReferral = "no_referral"

// Refund is a full refund of the order: it voids the order's referral before its grant (it is
// never granted) or reverses it after (a reversing ledger entry and reward.reversed). An order
// without a referral gets a tombstone, so that a redemption of it processed later is refused.
// Idempotent.
func (s *Service) Refund(ctx context.Context, orderID string) (RefundAnswer, error) {
	return s.refund(ctx, orderID, Refund{Full: true})
}

// RefundOrder serves POST /v1/orders/{order_id}/refunds: a full refund (Refund), or one partial
// refund counted once per refund id, added to the order's refunds as a refund interaction's.
func (s *Service) RefundOrder(ctx context.Context, orderID string, r RefundRequest) (RefundAnswer, error) {
	if r.Full() {
		return s.Refund(ctx, orderID)
	}
	return s.refund(ctx, orderID, Refund{Amount: r.Amount, EventID: refundKey("route", r.RefundID)})
}

// refundKey names a refund on the order guard by a hash of its keys: the guard must hold no
// customer id (erasure).
func refundKey(scope, id string) string {
	key := sha256.Sum256([]byte(scope + "\x00" + id))
	return hex.EncodeToString(key[:16])
}

// RefundInteraction applies a refund interaction (the RedeemQueue path): its amount is added to
// the order's refunds (once per event id), and the reward is cancelled as by Refund once they
// add up to the referred order's total.
func (s *Service) RefundInteraction(ctx context.Context, in interaction.Interaction) (RefundAnswer, error) {
	if in.Type != interaction.Refund || in.Properties.OrderID == "" || in.Properties.Amount == nil {
		return RefundAnswer{}, fmt.Errorf("interaction %s is not a refund of an order", in.EventID)
	}
	return s.refund(ctx, in.Properties.OrderID, Refund{Amount: *in.Properties.Amount, EventID: refundKey(in.CustomerID, in.EventID)})
}

func (s *Service) refund(ctx context.Context, orderID string, rf Refund) (RefundAnswer, error) {
	for range maxAttempts {
		now := s.d.Now()
		g, err := s.d.Store.AddRefund(ctx, orderID, rf, now) // idempotent: again on a retry
		if err != nil {
			return RefundAnswer{}, err
		}
		if g.ReferralID == "" {
			return RefundAnswer{OrderID: orderID, Status: NoReferral}, nil
		}
		ref, err := s.d.Store.Get(ctx, g.ReferralID)
		if err != nil {
			return RefundAnswer{}, err
		}
		if ref == nil {
			return RefundAnswer{}, fmt.Errorf("order %s: guard without referral %s", orderID, g.ReferralID)
		}
		if !g.Refunds.Covers(ref.OrderTotal) {
			return RefundAnswer{OrderID: orderID, ReferralID: ref.ID, Status: ref.Status}, nil
		}
		metric := "" // counted only when this call changed the status
		switch ref.Status {
		case Pending:
			err = s.d.Store.Void(ctx, ref, now)
			ref.Status, metric = Voided, metrics.RewardsVoided
		case Granted:
			err = s.d.Store.Reverse(ctx, ref, now)
			ref.Status, metric = Reversed, metrics.RewardsReversed
		}
		if errors.Is(err, ErrStale) {
			continue
		}
		if err != nil {
			return RefundAnswer{}, err
		}
		if metric != "" {
			metrics.Add(metric, 1)
		}
		if ref.Status == Reversed {
			if err := s.d.Events.Publish(ctx, outbound.Event{
				ID: outbound.RewardReversed + ":" + ref.ID, Type: outbound.RewardReversed, At: now, CustomerID: ref.ReferrerID,
				Data: map[string]any{"referral_id": ref.ID, "program": ref.Program, "order_id": ref.OrderID, "reward": ref.Reward},
			}); err != nil {
				return RefundAnswer{}, err
			}
		}
		return RefundAnswer{OrderID: orderID, ReferralID: ref.ID, Status: ref.Status}, nil
	}
	return RefundAnswer{}, apperr.ErrConcurrentUpdate
}

// FromPurchase turns a purchase interaction carrying referral_code (the RedeemQueue path) into
// a redemption; the friend's email is unknown there, so the email guard is not used.
func FromPurchase(in interaction.Interaction) (Redemption, error) {
	p := in.Properties
	code, ok := NormalizeCode(p.ReferralCode)
	if in.Type != interaction.Purchase || !ok || p.OrderID == "" || p.Total == nil || p.Currency == "" || in.CustomerID == "" {
		return Redemption{}, fmt.Errorf("interaction %s is not a purchase with a referral code", in.EventID)
	}
	return Redemption{Code: code, OrderID: p.OrderID, FriendCustomerID: in.CustomerID, OrderTotal: *p.Total, Currency: p.Currency}, nil
}
