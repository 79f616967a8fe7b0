// Package ingesttest gives tests of the layers above ingest (the API, its contract) an
// in-memory ingest.Store with the DynamoDB store's semantics; the store itself is tested
// against DynamoDB Local (internal/dynamostore).
package ingesttest

import (
	"context"
	"sync"
	"time"

	"github.com/referral-engine/referral-engine/internal/ingest"
	"github.com/referral-engine/referral-engine/internal/interaction"
)

// Store keeps interactions by customer and event id, with their fingerprints. Stored ones
// count as applied unless Pending is set.
type Store struct {
	Pending bool

	mu    sync.Mutex
	items map[string]string // customer/event -> fingerprint
}

func key(in interaction.Interaction) string { return in.CustomerID + "/" + in.EventID }

// PutNew implements ingest.Store.
func (m *Store) PutNew(_ context.Context, in interaction.Interaction, _ time.Time) (ingest.Found, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string]string{}
	}
	if fp, ok := m.items[key(in)]; ok {
		if m.Pending {
			return ingest.Found{Stored: ingest.DuplicatePending, Fingerprint: fp}, nil
		}
		return ingest.Found{Stored: ingest.DuplicateApplied, Fingerprint: fp}, nil
	}
	m.items[key(in)] = in.Fingerprint()
	return ingest.Found{Stored: ingest.Created}, nil
}

// Remove implements ingest.Store.
func (m *Store) Remove(_ context.Context, in interaction.Interaction) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items[key(in)] == in.Fingerprint() {
		delete(m.items, key(in))
	}
	return nil
}

// Len is how many interactions are stored.
func (m *Store) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}
