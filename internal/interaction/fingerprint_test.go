package interaction

import (
	"testing"
	"time"
)

func TestFingerprint(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	total, other := int64(4990), int64(4991)
	base := Interaction{EventID: "e1", CustomerID: "c1", Type: Purchase, OccurredAt: at,
		Properties: Properties{OrderID: "o1", Total: &total, Currency: "EUR"}}
	fp := base.Fingerprint()
	for _, tt := range []struct {
		name string
		edit func(in *Interaction)
		same bool
	}{
		{"identical", func(in *Interaction) {}, true},
		{"other keys: the fingerprint is of the content", func(in *Interaction) { in.EventID, in.CustomerID = "e2", "c2" }, true},
		{"same instant in another zone", func(in *Interaction) { in.OccurredAt = at.In(time.FixedZone("CET", 3600)) }, true},
		{"equal pointer targets", func(in *Interaction) { v := int64(4990); in.Properties.Total = &v }, true},
		{"type", func(in *Interaction) { in.Type = Refund }, false},
		{"occurred_at by a nanosecond", func(in *Interaction) { in.OccurredAt = at.Add(time.Nanosecond) }, false},
		{"a property value", func(in *Interaction) { in.Properties.Total = &other }, false},
		{"a property added", func(in *Interaction) { in.Properties.ReferralCode = "AMB-1" }, false},
		{"a property moved to another field", func(in *Interaction) { in.Properties.OrderID, in.Properties.ReviewID = "", "o1" }, false},
	} {
		in := base
		tt.edit(&in)
		if got := in.Fingerprint() == fp; got != tt.same {
			t.Errorf("%s: same fingerprint = %v, want %v", tt.name, got, tt.same)
		}
	}
	// Maps (profile_update fields) are order independent.
	a := Interaction{Type: ProfileUpdate, OccurredAt: at, Properties: Properties{Fields: map[string]string{"birthday": "05-17", "city": "Roma"}}}
	b := Interaction{Type: ProfileUpdate, OccurredAt: at, Properties: Properties{Fields: map[string]string{"city": "Roma", "birthday": "05-17"}}}
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("map order changed the fingerprint")
	}
	if len(fp) != 22 {
		t.Errorf("fingerprint %q: %d characters, want 22", fp, len(fp))
	}
}
