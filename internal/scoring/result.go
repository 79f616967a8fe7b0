package scoring

import "time"

// Result is a customer's segmentation at one moment, as segment.Evaluate returns it (the
// segment package names it segment.Result). It lives here, below the aggregate, so that
// aggregate.Customer can embed it: segment reads the aggregate, the aggregate stores the result.
// The dynamodbav names are the PROFILE item's (dynamostore: seg, sub, prg); reasons are not
// stored: Evaluate rebuilds them at read time.
type Result struct {
	Segment     string   `json:"segment" dynamodbav:"seg,omitempty"`
	SubSegments []string `json:"sub_segments" dynamodbav:"sub,stringset,omitempty"` // sorted
	Program     string   `json:"program" dynamodbav:"prg,omitempty"`                // program id
	Reasons     []string `json:"reasons" dynamodbav:"-"`
	Score       float64  `json:"score" dynamodbav:"sc"`
	// Breakdown sums to Score. Not stored: the read API recomputes it with the reasons, and
	// the item is billed per KB on every write.
	Breakdown map[string]float64 `json:"breakdown" dynamodbav:"-"`
	At        time.Time          `json:"computed_at" dynamodbav:"at,unixtime"`
	Config    string             `json:"config" dynamodbav:"cfg,omitempty"` // Config.ID()
	// NextReview is when Segment or SubSegments change with time alone; nil if never.
	NextReview *time.Time `json:"next_review_at,omitempty" dynamodbav:"nr,omitempty,unixtime"`
}
