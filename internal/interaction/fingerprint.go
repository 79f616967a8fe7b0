package interaction

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// Fingerprint identifies an interaction's content: its type, occurred_at (to the nanosecond, in
// UTC) and properties, not its keys (customer and event id). Two posts of one event_id are the
// same event, a replay, only when their fingerprints are equal; otherwise the storefront reused
// an idempotency key for a different event (say, an order id as the event id of both the
// purchase and its refund), which is refused with a 409 rather than dropped as a duplicate.
func (in Interaction) Fingerprint() string {
	// Marshalling a struct is deterministic: fields in declaration order, map keys sorted.
	props, err := json.Marshal(in.Properties)
	if err != nil { // Properties holds strings, numbers, bools and a string map only
		panic(fmt.Sprintf("interaction: marshal properties: %v", err))
	}
	h := sha256.New()
	h.Write([]byte(in.Type))
	h.Write([]byte{0})
	h.Write([]byte(in.OccurredAt.UTC().Format(time.RFC3339Nano)))
	h.Write([]byte{0})
	h.Write(props)
	// 128 bits: collisions are out of reach, and the stored attribute stays small.
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}
