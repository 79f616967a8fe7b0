// Package issue issues referral vouchers (SPEC §4.1): on a storefront's request, to every member
// of a segment in a campaign, and to a customer who just left a 5-star review; and publishes
// voucher.issued once per voucher.
//
// Campaigns scale with their segment, never with a request: the API records the campaign (a
// conditional put: launching it again issues nothing twice) and enqueues one scan message per
// segment shard; the worker pages through its shard, fanning members out in pages of
// PageSize, and issues each member's voucher idempotently (one per customer and program).
package issue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/charset"
	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/outbound"
	"github.com/referral-engine/referral-engine/internal/segment"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// Vouchers stores vouchers and campaigns (voucherstore.Store).
type Vouchers interface {
	Issue(ctx context.Context, req voucher.Request, now time.Time) (voucher.Voucher, bool, error)
	List(ctx context.Context, customerID string, programs []string) ([]voucher.Voucher, error)
	MarkPublished(ctx context.Context, code voucher.Code, at time.Time) error
	RememberEmail(ctx context.Context, code voucher.Code, emailHash string) error
	Campaign(ctx context.Context, id string) (*voucher.Campaign, error)
	CreateCampaign(ctx context.Context, c voucher.Campaign) (bool, *voucher.Campaign, error)
	MarkCampaignLaunched(ctx context.Context, id string) error
}

// Profiles reads customers' segments (dynamostore.Customers).
type Profiles interface {
	Placement(ctx context.Context, customerID string) (dynamostore.Placement, error)
	CountSegment(ctx context.Context, segment, subSegment string) (int, error)
	SegmentPage(ctx context.Context, segment string, shard int, subSegment, cursor string, limit int) ([]string, string, error)
}

// Publisher publishes outbound events (outbound.Publisher).
type Publisher interface {
	Publish(ctx context.Context, events ...outbound.Event) error
}

// Queue sends JSON messages to the VoucherQueue (sqsqueue.Publisher).
type Queue interface {
	SendJSON(ctx context.Context, bodies []string) error
	SendDelayed(ctx context.Context, body string, delay time.Duration) error
}

// Service issues vouchers.
type Service struct {
	vouchers  Vouchers
	profiles  Profiles
	publisher Publisher
	queue     Queue
	rules     *voucher.Rules
	shareBase string
	grace     time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// Config wires a Service; every field but Now and Log is required.
type Config struct {
	Vouchers  Vouchers
	Profiles  Profiles
	Publisher Publisher
	Queue     Queue
	Rules     *voucher.Rules
	// ShareBase is the base of share URLs ({base}/r/{code}); "" lets each call give its own.
	ShareBase string
	// PublishGrace is how old an unpublished voucher must be before anyone but its issuer
	// publishes it; 0 means StaleAfter.
	PublishGrace time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

// New builds the service, rejecting missing dependencies at wiring time.
func New(c Config) (*Service, error) {
	if c.Vouchers == nil || c.Profiles == nil || c.Publisher == nil || c.Queue == nil || c.Rules == nil {
		return nil, errors.New("issue: vouchers, profiles, publisher, queue and rules are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.PublishGrace <= 0 {
		c.PublishGrace = StaleAfter
	}
	return &Service{vouchers: c.Vouchers, profiles: c.Profiles, publisher: c.Publisher, queue: c.Queue,
		rules: c.Rules, shareBase: c.ShareBase, grace: c.PublishGrace, now: c.Now, log: c.Log}, nil
}

// Rules returns the voucher rules the service issues under.
func (s *Service) Rules() *voucher.Rules { return s.rules }

// publishCheckMargin: the publish check arrives this long after the grace has passed.
const publishCheckMargin = 5 * time.Second

// StaleAfter is the default PublishGrace: how old an unpublished voucher must be before anyone
// but its issuer publishes it. Longer than any function's timeout, so the issuer has finished or
// died (a shorter one only risks publishing an event twice, with the same id).
const StaleAfter = 60 * time.Second

// Ask is a storefront's request for a customer's voucher.
type Ask struct {
	CustomerID string
	Program    string // "" for the customer's program
	FirstName  string // "" for none; given explicitly, it becomes the code's prefix
	EmailHash  string // the customer's email hash, "" when not given
	ShareBase  string // "" for the service's
}

// ForCustomer returns the customer's current voucher in their program (or the one asked for),
// issuing it if there is none; created tells which. An unknown customer is a 404.
func (s *Service) ForCustomer(ctx context.Context, a Ask) (voucher.Voucher, bool, error) {
	if a.Program != "" {
		if _, ok := s.rules.Terms(a.Program); !ok {
			return voucher.Voucher{}, false, apperr.Invalid("program", "unknown program %q (one of %v)", a.Program, s.rules.Programs())
		}
	}
	now := s.now()
	// The customer's placement and current vouchers in parallel: a customer who has one is
	// answered in two round trips (GetItem, then two BatchGetItems of which the second waits).
	var (
		placement  dynamostore.Placement
		current    []voucher.Voucher
		perr, lerr error
		wg         sync.WaitGroup
	)
	wg.Go(func() { placement, perr = s.profiles.Placement(ctx, a.CustomerID) })
	wg.Go(func() { current, lerr = s.vouchers.List(ctx, a.CustomerID, s.rules.Programs()) })
	wg.Wait()
	if perr != nil {
		return voucher.Voucher{}, false, perr
	}
	if lerr != nil {
		return voucher.Voucher{}, false, lerr
	}
	program := a.Program
	if program == "" {
		program = s.rules.CustomerProgram(placement.Program, placement.Segment)
	}
	base := a.ShareBase
	if base == "" {
		base = s.shareBase
	}
	for _, v := range current {
		if v.Program == program && v.Current(now) {
			if err := s.rememberEmail(ctx, &v, a.EmailHash); err != nil {
				return voucher.Voucher{}, false, err
			}
			v.ShareURL = voucher.ShareURL(base, v.Code)
			if err := s.publishIfDue(ctx, v, false, "", now); err != nil {
				s.log.WarnContext(ctx, "publish voucher.issued", "code", v.Code, "error", err.Error())
			}
			return v, false, nil
		}
	}
	// Before creating: a check that publishes voucher.issued if this request dies between
	// creating the voucher and publishing it (nobody may ever ask for the voucher again).
	check, _ := json.Marshal(Message{Reason: ReasonPublishCheck, CustomerID: a.CustomerID, Program: program})
	if err := s.queue.SendDelayed(ctx, string(check), s.grace+publishCheckMargin); err != nil {
		return voucher.Voucher{}, false, fmt.Errorf("enqueue the publish check of %s: %w", a.CustomerID, err)
	}
	terms, _ := s.rules.Terms(program)
	v, created, err := s.vouchers.Issue(ctx, voucher.Request{
		CustomerID: a.CustomerID, Terms: terms, Reason: voucher.ReasonRequest, Prefix: voucher.PrefixFrom(a.FirstName),
		EmailHash: a.EmailHash,
	}, now)
	if err != nil {
		return voucher.Voucher{}, false, err
	}
	if !created { // a concurrent request issued it
		if err := s.rememberEmail(ctx, &v, a.EmailHash); err != nil {
			return voucher.Voucher{}, false, err
		}
	}
	v.ShareURL = voucher.ShareURL(base, v.Code)
	// A voucher created and not published would be lost to the ESP: fail the request so that
	// the storefront retries; the retry returns the voucher and publishes it once it is stale.
	if err := s.publishIfDue(ctx, v, created, "", now); err != nil {
		return voucher.Voucher{}, false, err
	}
	return v, created, nil
}

// rememberEmail stores the email hash the storefront gave on a voucher that has none (issued by
// a campaign or a review): the self-referral rule needs it. A failure fails the request, which
// the storefront retries.
func (s *Service) rememberEmail(ctx context.Context, v *voucher.Voucher, emailHash string) error {
	if emailHash == "" || v.EmailHash != "" {
		return nil
	}
	if err := s.vouchers.RememberEmail(ctx, v.Code, emailHash); err != nil {
		return err
	}
	v.EmailHash = emailHash
	return nil
}

// publishIfDue publishes voucher.issued for v unless it was published: by the request that
// created it, by a redelivery of the message that issued it (source), or by anyone once it is
// StaleAfter old (its issuer died between creating and publishing).
func (s *Service) publishIfDue(ctx context.Context, v voucher.Voucher, created bool, source string, now time.Time) error {
	if !s.publishDue(v, created, source, now) {
		return nil
	}
	return s.publish(ctx, []voucher.Voucher{v}, now)
}

func (s *Service) publishDue(v voucher.Voucher, created bool, source string, now time.Time) bool {
	return v.PublishedAt == nil && (created || (source != "" && v.CampaignID == source) || now.Sub(v.CreatedAt) >= s.grace)
}

func (s *Service) publish(ctx context.Context, vs []voucher.Voucher, now time.Time) error {
	if len(vs) == 0 {
		return nil
	}
	evs := make([]outbound.Event, len(vs))
	for i, v := range vs {
		evs[i] = IssuedEvent(v)
	}
	if err := s.publisher.Publish(ctx, evs...); err != nil {
		return err
	}
	var errs []error
	for _, v := range vs {
		if err := s.vouchers.MarkPublished(ctx, v.Code, now); err != nil {
			errs = append(errs, err) // the next publisher sends the same id again: harmless
		}
	}
	return errors.Join(errs...)
}

// IssuedData is the data of a voucher.issued event.
type IssuedData struct {
	Code           voucher.Code  `json:"code"`
	Program        string        `json:"program"`
	ShareURL       string        `json:"share_url"`
	FriendOffer    voucher.Offer `json:"friend_offer"`
	ReferrerReward voucher.Offer `json:"referrer_reward"`
	ExpiresAt      time.Time     `json:"expires_at"`
	UseLimit       int           `json:"use_limit"`
	Reason         string        `json:"reason"`
	CampaignID     string        `json:"campaign_id,omitempty"`
}

// IssuedEvent is voucher.issued for v, with the id voucher.issued:<code>.
func IssuedEvent(v voucher.Voucher) outbound.Event {
	return outbound.Event{
		ID: outbound.VoucherIssued + ":" + string(v.Code), Type: outbound.VoucherIssued, At: v.CreatedAt,
		CustomerID: v.CustomerID,
		Data: IssuedData{Code: v.Code, Program: v.Program, ShareURL: v.ShareURL, FriendOffer: v.FriendOffer,
			ReferrerReward: v.ReferrerReward, ExpiresAt: v.ExpiresAt, UseLimit: v.UseLimit, Reason: v.Reason,
			CampaignID: v.CampaignID},
	}
}

// CampaignRequest is the body of POST /v1/campaigns.
type CampaignRequest struct {
	Segment    string `json:"segment"`
	SubSegment string `json:"sub_segment,omitempty"`
	Program    string `json:"program,omitempty"`
	// CampaignID tells campaigns to the same segment apart ("" for the segment's campaign).
	CampaignID string `json:"campaign_id,omitempty"`
}

var clientIDPattern = charset.New("A-Za-z0-9_.-", 1, 64)

var subSegments = []string{segment.BestBuyer, segment.DecliningBasket, segment.EngagedNonSharer, segment.FiveStarReviewer,
	segment.Lapsed, segment.NewCustomer, segment.ReferredCustomer, segment.SocialFollower}

// Launch records a campaign and enqueues the scan of every shard of its segment; launching
// the same campaign again returns its record and issues nothing (relaunched true). A launch
// whose launcher died before enqueuing everything is resumed by the next launch.
func (s *Service) Launch(ctx context.Context, r CampaignRequest) (c voucher.Campaign, relaunched bool, err error) {
	if !slices.Contains(s.rules.Segments(), r.Segment) {
		return c, false, apperr.Invalid("segment", "unknown segment %q (one of %v)", r.Segment, s.rules.Segments())
	}
	if r.SubSegment != "" && !slices.Contains(subSegments, r.SubSegment) {
		return c, false, apperr.Invalid("sub_segment", "unknown sub-segment %q (one of %v)", r.SubSegment, subSegments)
	}
	if r.Program == "" {
		r.Program = s.rules.ProgramForSegment(r.Segment)
	} else if _, ok := s.rules.Terms(r.Program); !ok {
		return c, false, apperr.Invalid("program", "unknown program %q (one of %v)", r.Program, s.rules.Programs())
	}
	if r.CampaignID != "" && !clientIDPattern.MatchString(r.CampaignID) {
		return c, false, apperr.Invalid("campaign_id", "must be 1-64 characters A-Z a-z 0-9 _ . -")
	}
	id := voucher.CampaignID(r.Segment, r.SubSegment, r.Program, r.CampaignID)
	now := s.now().UTC().Truncate(time.Second)
	existing, err := s.vouchers.Campaign(ctx, id)
	if err != nil {
		return c, false, err
	}
	if existing == nil {
		n, err := s.profiles.CountSegment(ctx, r.Segment, r.SubSegment)
		if err != nil {
			return c, false, err
		}
		c = voucher.Campaign{ID: id, Segment: r.Segment, SubSegment: r.SubSegment, Program: r.Program, Count: n,
			Status: voucher.CampaignLaunching, CreatedAt: now}
		created, old, err := s.vouchers.CreateCampaign(ctx, c)
		if err != nil {
			return c, false, err
		}
		if !created {
			existing = old
		}
	}
	if existing != nil {
		c, relaunched = *existing, true
		if c.Status == voucher.CampaignLaunched || now.Sub(c.CreatedAt) < StaleAfter {
			return c, true, nil // launched, or being launched right now
		}
	}
	bodies := make([]string, 0, dynamostore.SegmentShards)
	for shard := range dynamostore.SegmentShards {
		b, _ := json.Marshal(Message{Reason: ReasonScan, CampaignID: c.ID, Segment: c.Segment, SubSegment: c.SubSegment,
			Program: c.Program, Shard: &shard})
		bodies = append(bodies, string(b))
	}
	if err := s.queue.SendJSON(ctx, bodies); err != nil {
		return c, relaunched, fmt.Errorf("enqueue campaign %s: %w", c.ID, err)
	}
	if err := s.vouchers.MarkCampaignLaunched(ctx, c.ID); err != nil {
		return c, relaunched, err
	}
	c.Status = voucher.CampaignLaunched
	return c, relaunched, nil
}
