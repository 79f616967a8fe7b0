package ingest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/referral-engine/referral-engine/internal/interaction"
)

func TestEnvelopes(t *testing.T) {
	in := func(customer, event string) interaction.Interaction {
		return interaction.Interaction{CustomerID: customer, EventID: event}
	}
	for _, tc := range []struct {
		name string
		ins  []interaction.Interaction
		want []string // customer:event,event
	}{
		{"none", nil, nil},
		{"one customer", []interaction.Interaction{in("a", "1"), in("a", "2")}, []string{"a:1,2"}},
		{"by first appearance", []interaction.Interaction{in("b", "1"), in("a", "2"), in("b", "3")}, []string{"b:1,3", "a:2"}},
	} {
		var got []string
		for _, e := range Envelopes(tc.ins) {
			if e.Version != interaction.EnvelopeVersion {
				t.Errorf("%s: version %d", tc.name, e.Version)
			}
			s := e.CustomerID + ":"
			for i, x := range e.Interactions {
				if i > 0 {
					s += ","
				}
				s += x.EventID
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

type refusingQueue struct{}

func (refusingQueue) Enqueue(context.Context, []interaction.Envelope) error {
	return errors.New("sqs down")
}

type failingStore struct{}

func (failingStore) PutNew(context.Context, interaction.Interaction, time.Time) (Found, error) {
	return Found{}, errors.New("ddb down")
}

func (failingStore) Remove(context.Context, interaction.Interaction) error {
	return errors.New("ddb down")
}

// A refused send after the stores says so (ErrNotEnqueued: the click redirect leaves such a click
// to the sweeper); a store error does not.
func TestErrNotEnqueued(t *testing.T) {
	ins := []interaction.Interaction{{CustomerID: "a", EventID: "1", Type: interaction.ReferralClick, OccurredAt: time.Now()}}
	svc, _ := New(memStore{}, refusingQueue{}, time.Hour, nil)
	if _, err := svc.RecordParsed(context.Background(), ins, time.Now()); !errors.Is(err, ErrNotEnqueued) {
		t.Errorf("refused send: %v, want ErrNotEnqueued", err)
	}
	svc, _ = New(failingStore{}, &memQueue{}, time.Hour, nil)
	if _, err := svc.RecordParsed(context.Background(), ins, time.Now()); err == nil || errors.Is(err, ErrNotEnqueued) {
		t.Errorf("store error: %v, want an error other than ErrNotEnqueued", err)
	}
}
