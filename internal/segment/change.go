package segment

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// EventType is the outbound event a Change is published as.
const EventType = "segment.changed"

// Change is a segment change: the history record and the segment.changed event payload.
type Change struct {
	ID          string    `json:"id" dynamodbav:"id"` // deterministic: de-duplicates redeliveries
	CustomerID  string    `json:"customer_id" dynamodbav:"cid"`
	From        string    `json:"from" dynamodbav:"from"` // "" on the first segmentation
	To          string    `json:"to" dynamodbav:"to"`
	SubSegments []string  `json:"sub_segments" dynamodbav:"sub,omitempty"`
	Program     string    `json:"program" dynamodbav:"prg"`
	Score       float64   `json:"score" dynamodbav:"sc"`
	Reason      string    `json:"reason" dynamodbav:"why"`
	At          time.Time `json:"at" dynamodbav:"at,unixtime"`
}

// Diff returns the change from prev to next when the segment differs (a zero prev is a
// customer never segmented: From is ""). Sub-segment changes alone are not segment changes:
// they show in the stored Result.
func Diff(customerID string, prev, next Result) (Change, bool) {
	if prev.Segment == next.Segment {
		return Change{}, false
	}
	at := next.At.UTC().Truncate(time.Second)
	return Change{
		ID:         ChangeID(customerID, prev.Segment, next.Segment, at),
		CustomerID: customerID, From: prev.Segment, To: next.Segment,
		SubSegments: append([]string{}, next.SubSegments...), Program: next.Program, Score: next.Score,
		Reason: strings.Join(next.Reasons, "; "), At: at,
	}, true
}

// ChangeID derives a change's id from the customer, from, to and the second it happened, so a
// retried evaluation of the same change publishes the same id.
func ChangeID(customerID, from, to string, at time.Time) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d", customerID, from, to, at.Unix()))
	return "segchg_" + hex.EncodeToString(sum[:12])
}
