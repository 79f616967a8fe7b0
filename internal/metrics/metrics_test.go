package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"
)

type emfLine struct {
	AWS struct {
		Timestamp         int64 `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
}

func parse(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestEmitStructure(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
	e := New(&buf, "re-RedeemReferralFunction", func() time.Time { return at })
	e.Emit([]string{"Reason", "self_referral"}, M{Name: ReferralsRefused, Value: 1}, M{Name: ReferralsRedeemed, Value: 0})

	lines := parse(t, buf.Bytes())
	if len(lines) != 1 {
		t.Fatalf("want 1 line, got %d: %s", len(lines), buf.String())
	}
	var l emfLine
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &l); err != nil {
		t.Fatal(err)
	}
	if l.AWS.Timestamp != at.UnixMilli() {
		t.Errorf("Timestamp %d, want %d", l.AWS.Timestamp, at.UnixMilli())
	}
	if len(l.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("CloudWatchMetrics: %+v", l.AWS.CloudWatchMetrics)
	}
	d := l.AWS.CloudWatchMetrics[0]
	if d.Namespace != "ReferralEngine" {
		t.Errorf("Namespace %q", d.Namespace)
	}
	if want := [][]string{{"Function", "Reason"}}; !reflect.DeepEqual(d.Dimensions, want) {
		t.Errorf("Dimensions %v, want %v", d.Dimensions, want)
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Name != ReferralsRefused || d.Metrics[0].Unit != "Count" {
		t.Errorf("Metrics %+v: want only ReferralsRefused (zero values left out)", d.Metrics)
	}
	// Every dimension and metric named in the directive is a top-level member (EMF requires it).
	m := lines[0]
	for _, k := range []string{"Function", "Reason", ReferralsRefused} {
		if _, ok := m[k]; !ok {
			t.Errorf("member %s missing: %v", k, m)
		}
	}
	if m["Function"] != "re-RedeemReferralFunction" || m["Reason"] != "self_referral" || m[ReferralsRefused] != 1.0 {
		t.Errorf("values: %v", m)
	}
	if _, ok := m[ReferralsRedeemed]; ok {
		t.Errorf("zero metric written: %v", m)
	}
}

func TestNothingWhenAllZero(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "f", nil)
	e.Emit(nil, M{Name: InteractionsAccepted})
	var nilE *Emitter
	nilE.Emit(nil, M{Name: InteractionsAccepted, Value: 1})
	if buf.Len() != 0 {
		t.Fatalf("wrote %q", buf.String())
	}
}

func TestDefaultAndConcurrentLines(t *testing.T) {
	var buf syncBuffer
	prev := SetDefault(New(&buf, "", nil))
	defer SetDefault(prev)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			Emit(nil, M{Name: InteractionsAccepted, Value: 3}, M{Name: InteractionsDuplicate, Value: 1})
			Add(RewardsGranted, 1)
			Add(RewardsReversed, 0)
		})
	}
	wg.Wait()
	lines := parse(t, buf.Bytes())
	if len(lines) != 100 {
		t.Fatalf("want 100 whole lines, got %d", len(lines))
	}
	var l emfLine
	b, _ := json.Marshal(lines[0])
	_ = json.Unmarshal(b, &l)
	if got := l.AWS.CloudWatchMetrics[0].Dimensions; len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("no function name: dimensions %v, want one empty set", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte { return s.b.Bytes() }

func BenchmarkEmit(b *testing.B) {
	e := New(discard{}, "re-RecordInteractionFunction", nil)
	for b.Loop() {
		e.Emit(nil, M{Name: InteractionsAccepted, Value: 10}, M{Name: InteractionsDuplicate, Value: 2})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
