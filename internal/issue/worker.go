package issue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/voucher"
)

// Message reasons on the VoucherQueue.
const (
	// ReasonScan: page through one shard of a campaign's segment.
	ReasonScan = "campaign_scan"
	// ReasonCampaign: issue a page of a campaign's members their vouchers.
	ReasonCampaign = voucher.ReasonCampaign
	// ReasonFiveStarReview: issue one customer a voucher after a 5-star review (sent by rescore).
	ReasonFiveStarReview = voucher.ReasonFiveStarReview
	// ReasonPublishCheck: publish voucher.issued for a customer's voucher in a program if its
	// issuer (an API request) died before publishing it. Sent delayed, before the voucher exists.
	ReasonPublishCheck = "publish_check"
)

// Paging of campaigns.
const (
	ScanPage = 1000 // members read per scan message
	PageSize = 100  // members per campaign message
)

// Message is a VoucherQueue message:
//
//	{"reason":"campaign_scan","campaign_id":..,"segment":..,"sub_segment":..,"program":..,"shard":3,"cursor":..}
//	{"reason":"campaign","campaign_id":..,"program":..,"customer_ids":[..]}
//	{"reason":"five_star_review","customer_id":..,"review_id":..}
//	{"reason":"publish_check","customer_id":..,"program":..}
type Message struct {
	Reason      string   `json:"reason"`
	CampaignID  string   `json:"campaign_id,omitempty"`
	Program     string   `json:"program,omitempty"`
	CustomerIDs []string `json:"customer_ids,omitempty"`
	CustomerID  string   `json:"customer_id,omitempty"`
	ReviewID    string   `json:"review_id,omitempty"`
	Segment     string   `json:"segment,omitempty"`
	SubSegment  string   `json:"sub_segment,omitempty"`
	Shard       *int     `json:"shard,omitempty"`
	Cursor      string   `json:"cursor,omitempty"`
}

// ErrBadMessage marks a message that can never be processed (it ends in the DLQ).
var ErrBadMessage = errors.New("bad voucher message")

// Decode parses and checks a message.
func Decode(body string) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	bad := func(format string, a ...any) (Message, error) {
		return m, fmt.Errorf("%w: %s", ErrBadMessage, fmt.Sprintf(format, a...))
	}
	validID := func(id string) bool {
		return id != "" && len(id) <= voucher.MaxCustomerID && !bytes.ContainsAny([]byte(id), "#\x00")
	}
	switch m.Reason {
	case ReasonScan:
		if m.CampaignID == "" || m.Segment == "" || m.Program == "" || m.Shard == nil || *m.Shard < 0 || *m.Shard >= dynamostore.SegmentShards {
			return bad("a scan needs campaign_id, segment, program and a shard 0-%d", dynamostore.SegmentShards-1)
		}
	case ReasonCampaign:
		if m.CampaignID == "" || m.Program == "" || len(m.CustomerIDs) == 0 || len(m.CustomerIDs) > PageSize {
			return bad("a campaign page needs campaign_id, program and 1-%d customer_ids", PageSize)
		}
		for _, id := range m.CustomerIDs {
			if !validID(id) {
				return bad("customer id %q", id)
			}
		}
	case ReasonFiveStarReview:
		if !validID(m.CustomerID) || len(m.ReviewID) > 128 {
			return bad("a five_star_review request needs a customer_id (and review_id at most 128 characters)")
		}
	case ReasonPublishCheck:
		if !validID(m.CustomerID) || m.Program == "" {
			return bad("a publish_check needs a customer_id and a program")
		}
	default:
		return bad("unknown reason %q", m.Reason)
	}
	return m, nil
}

// parallelIssues bounds the vouchers of one campaign page issued at once.
const parallelIssues = 10

// Handle processes one VoucherQueue message. An error means the message is to be retried
// (ErrBadMessage: it never will work).
func (s *Service) Handle(ctx context.Context, m Message) error {
	switch m.Reason {
	case ReasonScan:
		return s.scan(ctx, m)
	case ReasonCampaign:
		terms, ok := s.rules.Terms(m.Program)
		if !ok {
			return fmt.Errorf("%w: unknown program %q", ErrBadMessage, m.Program)
		}
		return s.issueAll(ctx, m.CustomerIDs, terms, voucher.ReasonCampaign, m.CampaignID)
	case ReasonFiveStarReview:
		p, err := s.profiles.Placement(ctx, m.CustomerID)
		if err != nil {
			return err
		}
		terms, _ := s.rules.Terms(s.rules.CustomerProgram(p.Program, p.Segment))
		source := ""
		if m.ReviewID != "" {
			source = "review:" + m.ReviewID
		}
		return s.issueAll(ctx, []string{m.CustomerID}, terms, voucher.ReasonFiveStarReview, source)
	case ReasonPublishCheck:
		return s.publishCheck(ctx, m.CustomerID, m.Program)
	}
	return fmt.Errorf("%w: unknown reason %q", ErrBadMessage, m.Reason)
}

// errNotStale: an unpublished voucher is younger than the grace (its issuer may still be
// publishing it); the message comes back after the visibility timeout.
var errNotStale = errors.New("unpublished voucher not stale yet")

// publishCheck publishes voucher.issued for the customer's current voucher in program if it is
// still unpublished once stale. Usually it was published, or never created: nothing to do.
func (s *Service) publishCheck(ctx context.Context, customerID, program string) error {
	vs, err := s.vouchers.List(ctx, customerID, []string{program})
	if err != nil {
		return err
	}
	now := s.now()
	var due []voucher.Voucher
	for _, v := range vs {
		if v.PublishedAt != nil || !v.Current(now) {
			continue
		}
		if !s.publishDue(v, false, "", now) {
			return fmt.Errorf("voucher %s: %w", v.Code, errNotStale)
		}
		v.ShareURL = voucher.ShareURL(s.shareBase, v.Code)
		due = append(due, v)
	}
	return s.publish(ctx, due, now)
}

// scan reads one page of a shard and enqueues it in campaign pages, then the next page's scan.
func (s *Service) scan(ctx context.Context, m Message) error {
	ids, next, err := s.profiles.SegmentPage(ctx, m.Segment, *m.Shard, m.SubSegment, m.Cursor, ScanPage)
	if err != nil {
		return err
	}
	var bodies []string
	for start := 0; start < len(ids); start += PageSize {
		page := ids[start:min(start+PageSize, len(ids))]
		b, _ := json.Marshal(Message{Reason: ReasonCampaign, CampaignID: m.CampaignID, Program: m.Program, CustomerIDs: page})
		bodies = append(bodies, string(b))
	}
	if next != "" {
		cont := m
		cont.Cursor = next
		b, _ := json.Marshal(cont)
		bodies = append(bodies, string(b))
	}
	if len(bodies) == 0 {
		return nil
	}
	if err := s.queue.SendJSON(ctx, bodies); err != nil {
		return fmt.Errorf("enqueue campaign %s shard %d: %w", m.CampaignID, *m.Shard, err)
	}
	return nil
}

// issueAll issues each customer's voucher and publishes voucher.issued for those that are due.
// A redelivered message finds the vouchers it issued (source) and publishes what it had not.
func (s *Service) issueAll(ctx context.Context, customerIDs []string, terms voucher.Terms, reason, source string) error {
	now := s.now()
	var (
		mu   sync.Mutex
		due  []voucher.Voucher
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallelIssues)
	)
	for _, id := range customerIDs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			v, created, err := s.vouchers.Issue(ctx, voucher.Request{CustomerID: id, Terms: terms, Reason: reason, CampaignID: source}, now)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("issue %s: %w", id, err))
				return
			}
			if s.publishDue(v, created, source, now) {
				v.ShareURL = voucher.ShareURL(s.shareBase, v.Code)
				due = append(due, v)
			}
		})
	}
	wg.Wait()
	if err := s.publish(ctx, due, now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
