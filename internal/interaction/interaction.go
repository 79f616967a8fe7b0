// Package interaction defines the interactions storefronts and tools send (SPEC §5) and
// validates them strictly: every type's properties, ranges, times, currencies and lengths,
// refusing unknown fields, with the exact path of the field at fault.
package interaction

import (
	"time"
)

// Type is an interaction type.
type Type string

// The interaction types of SPEC §5.
const (
	Purchase      Type = "purchase"
	Refund        Type = "refund"
	EmailOpen     Type = "email_open"
	EmailClick    Type = "email_click"
	Visit         Type = "visit"
	NPS           Type = "nps"
	SurveyAnswer  Type = "survey_answer"
	Review        Type = "review"
	Comment       Type = "comment"
	ProfileUpdate Type = "profile_update"
	LoyaltyJoin   Type = "loyalty_join"
	SocialFollow  Type = "social_follow"
	ReferralShare Type = "referral_share"
	Signup        Type = "signup"
)

// Internal types: the referral lifecycle records them for the referrer (the click and redirect
// function, redeem-referral, grant-reward) through the same store and queue, so they are scored
// exactly once like any interaction. The API never accepts them.
const (
	ReferralClick   Type = "referral_click"   // properties: code
	ReferralSignup  Type = "referral_signup"  // properties: code (the friend signed up)
	ReferralSuccess Type = "referral_success" // properties: code, order_id (reward granted)
)

// Interaction is one validated event about one customer.
type Interaction struct {
	EventID    string     `json:"event_id"`
	CustomerID string     `json:"customer_id"`
	Type       Type       `json:"type"`
	OccurredAt time.Time  `json:"occurred_at"`
	Properties Properties `json:"properties"`
}

// Properties is the union of every type's properties; validation guarantees that only the
// ones of the interaction's type are set, and that required ones are.
type Properties struct {
	OrderID         string            `json:"order_id,omitempty"`
	Total           *int64            `json:"total,omitempty"`  // purchase, minor units
	Amount          *int64            `json:"amount,omitempty"` // refund, minor units
	Currency        string            `json:"currency,omitempty"`
	DiscountUsed    *bool             `json:"discount_used,omitempty"`
	ReferralCode    string            `json:"referral_code,omitempty"`
	CampaignID      string            `json:"campaign_id,omitempty"`
	LinkID          string            `json:"link_id,omitempty"`
	DurationSeconds *int64            `json:"duration_seconds,omitempty"`
	Pages           *int64            `json:"pages,omitempty"`
	Score           *int64            `json:"score,omitempty"` // nps 0-10
	SurveyID        string            `json:"survey_id,omitempty"`
	Stars           *int64            `json:"stars,omitempty"`
	ReviewID        string            `json:"review_id,omitempty"`
	CommentID       string            `json:"comment_id,omitempty"`
	Fields          map[string]string `json:"fields,omitempty"` // profile_update: field name -> value given
	ProgramID       string            `json:"program_id,omitempty"`
	Network         string            `json:"network,omitempty"`
	Code            string            `json:"code,omitempty"`
	Channel         string            `json:"channel,omitempty"`
}

// MaxBatch is the largest batch POST /v1/interactions accepts.
const MaxBatch = 100

// MaxFuture is how far ahead of the server clock occurred_at may be (clock skew allowance).
const MaxFuture = 5 * time.Minute

// Envelope is the rescore queue's message: one customer's newly accepted interactions.
type Envelope struct {
	Version      int           `json:"v"`
	CustomerID   string        `json:"customer_id"`
	Interactions []Interaction `json:"interactions,omitempty"`
	// Review asks for a re-evaluation with no new interaction (the scheduled rescoring).
	Review bool `json:"review,omitempty"`
}

// EnvelopeVersion is the current message format.
const EnvelopeVersion = 1
