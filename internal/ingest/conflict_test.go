package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/apperr"
	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/ingest/ingesttest"
	"github.com/referral-engine/referral-engine/internal/interaction"
)

type queue struct{ envs []interaction.Envelope }

func (q *queue) Enqueue(_ context.Context, envs []interaction.Envelope) error {
	q.envs = append(q.envs, envs...)
	return nil
}

func purchase(event string, total int) string {
	return fmt.Sprintf(`{"event_id":%q,"customer_id":"marco","type":"purchase","occurred_at":"2026-11-01T10:00:00Z","properties":{"order_id":"o-%s","total":%d,"currency":"EUR"}}`, event, event, total)
}

func batch(items ...string) string {
	b := `{"interactions":[`
	for i, it := range items {
		if i > 0 {
			b += ","
		}
		b += it
	}
	return b + "]}"
}

// An event_id reused for other content is refused with a 409 naming it, and the request leaves
// nothing stored or enqueued; an unchanged replay is a duplicate.
func TestRecordRefusesReusedEventIDs(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		earlier   string // recorded first
		body      string
		wantField string // "" for a 202
		want      ingest.Result
	}{
		{"unchanged replay", purchase("e1", 100), purchase("e1", 100), "", ingest.Result{Duplicates: 1}},
		{"replay in a batch with a new event", purchase("e1", 100), batch(purchase("e2", 5), purchase("e1", 100)), "", ingest.Result{Accepted: 1, Duplicates: 1}},
		{"same event twice in a batch", "", batch(purchase("e1", 100), purchase("e1", 100)), "", ingest.Result{Accepted: 1, Duplicates: 1}},
		{"single body, other total", purchase("e1", 100), purchase("e1", 200), "event_id", ingest.Result{}},
		{"batch, other total, new events around it", purchase("e1", 100), batch(purchase("e2", 5), purchase("e1", 200), purchase("e3", 7)), "interactions[1].event_id", ingest.Result{}},
		{"other type", purchase("e1", 100), `{"event_id":"e1","customer_id":"marco","type":"visit","occurred_at":"2026-11-01T10:00:00Z","properties":{"duration_seconds":30}}`, "event_id", ingest.Result{}},
		{"other occurred_at", purchase("e1", 100), `{"event_id":"e1","customer_id":"marco","type":"purchase","occurred_at":"2026-11-01T10:00:01Z","properties":{"order_id":"o-e1","total":100,"currency":"EUR"}}`, "event_id", ingest.Result{}},
		{"same event id, other customer: another event", purchase("e1", 100), `{"event_id":"e1","customer_id":"lena","type":"purchase","occurred_at":"2026-11-01T10:00:00Z","properties":{"order_id":"o-e1","total":200,"currency":"EUR"}}`, "", ingest.Result{Accepted: 1}},
		{"within one batch", "", batch(purchase("e2", 5), purchase("e1", 100), purchase("e1", 200)), "interactions[2].event_id", ingest.Result{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, q := &ingesttest.Store{}, &queue{}
			svc, err := ingest.New(store, q, 400*24*time.Hour, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			if tt.earlier != "" {
				if _, err := svc.Record(context.Background(), []byte(tt.earlier)); err != nil {
					t.Fatal(err)
				}
			}
			stored, sent := store.Len(), len(q.envs)
			got, err := svc.Record(context.Background(), []byte(tt.body))
			if tt.wantField == "" {
				if err != nil || got != tt.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Status != http.StatusConflict || ae.Code != apperr.CodeConflict || ae.Field != tt.wantField {
				t.Fatalf("got %+v, %v; want a 409 on %s", got, err, tt.wantField)
			}
			if store.Len() != stored || len(q.envs) != sent {
				t.Errorf("the refused request left %d interactions stored and %d envelopes sent", store.Len()-stored, len(q.envs)-sent)
			}
		})
	}
}

// The system's own records (RecordParsed: referral steps, clicks) keep duplicate semantics: a
// retried step may restamp what it records.
func TestRecordParsedTakesReusedIDsAsDuplicates(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	store := &ingesttest.Store{}
	svc, err := ingest.New(store, &queue{}, 400*24*time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	in := interaction.Interaction{EventID: "success-r1", CustomerID: "anna", Type: interaction.ReferralSuccess, OccurredAt: now, Properties: interaction.Properties{Code: "AMB-1"}}
	if _, err := svc.RecordParsed(context.Background(), []interaction.Interaction{in}, now); err != nil {
		t.Fatal(err)
	}
	in.OccurredAt = now.Add(time.Minute)
	got, err := svc.RecordParsed(context.Background(), []interaction.Interaction{in}, now)
	if err != nil || got != (ingest.Result{Duplicates: 1}) {
		t.Fatalf("got %+v, %v; want one duplicate", got, err)
	}
}
