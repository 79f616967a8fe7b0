package drill

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Workload is what the storefronts and tools send during a drill, generated from a seed. Times
// are ages relative to the moment the workload is played, so two runs minutes apart score the
// same: ages are whole days plus about half a day, far from any window's edge.
type Workload struct {
	Seed      uint64
	Posts     []Post     // POST /v1/interactions bodies, in order
	Referrers []Referrer // who gets a voucher, and their friends
	// Erase are customers erased (DELETE /v1/customers/{id}) once everything else settled: a
	// referrer (referrals, ledger and leaderboard go to a pseudonym) and a plain customer.
	Erase []string
}

// Post is one POST /v1/interactions body.
type Post struct {
	Events []Event
	// BadField, when set, names the field of the broken item: the whole body must be refused
	// with a 400 naming it, and nothing of it stored.
	BadField string
	Replay   bool // the storefront sends it twice (a retry after a lost answer)
}

// Event is one interaction.
type Event struct {
	ID, Customer, Type string
	Age                time.Duration
	Props              map[string]any
}

// Referrer gets a voucher and shares it with Friends.
type Referrer struct {
	Customer, FirstName, Email string
	Friends                    []Friend
}

// Friend clicks the referrer's link and places a first order with the code.
type Friend struct {
	Customer, Email, Order string
	Total                  int64
	Clicks                 int
	ViaQueue               bool   // the order arrives as a purchase interaction carrying the code
	Fraud                  string // "self_referral" (the referrer's own email) or ""
	RefundBeforeRelease    bool   // voids the referral
	RefundAfterGrant       bool   // reverses the reward
	// RefundParts: how the refund comes: 0 through POST /v1/orders/{id}/refunds, otherwise as
	// that many refund interactions adding up to the order's total (each posted twice).
	RefundParts int
}

var kinds = []string{"purchase", "purchase", "purchase", "refund", "email_open", "email_click", "visit", "visit",
	"nps", "survey_answer", "review", "comment", "profile_update", "loyalty_join", "social_follow", "referral_share", "signup"}

// Generate makes a workload of about customers × (3..14) interactions and referrers with
// 1..3 friends each.
func Generate(seed uint64, customers, referrers int) Workload {
	r := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1))
	w := Workload{Seed: seed}
	var pending []Event
	flush := func() {
		for len(pending) > 0 {
			n := min(len(pending), 1+r.IntN(8))
			p := Post{Events: pending[:n:n], Replay: r.IntN(6) == 0}
			pending = pending[n:]
			if r.IntN(9) == 0 {
				p.BadField = breakOne(r, &p)
			}
			w.Posts = append(w.Posts, p)
		}
	}
	seq := 0
	for c := range customers {
		id := fmt.Sprintf("dr-%d-c%03d", seed%1000, c)
		orders := []string{}
		for range 3 + r.IntN(12) {
			seq++
			e := Event{ID: fmt.Sprintf("ev-%05d", seq), Customer: id, Type: kinds[r.IntN(len(kinds))],
				Age: time.Duration(r.IntN(400))*24*time.Hour + 11*time.Hour + time.Duration(r.IntN(120))*time.Minute}
			e.Props = props(r, e.Type, id, seq, &orders)
			if e.Props == nil { // a refund with no order to refund yet
				continue
			}
			pending = append(pending, e)
		}
		// Customers' events interleave in the posts, as from several storefront sessions.
		if r.IntN(3) == 0 {
			flush()
		}
	}
	flush()

	// Referrers are customers the system knows: with at least one interaction accepted.
	known := map[string]bool{}
	for _, p := range w.Posts {
		for _, e := range p.Events {
			if p.BadField == "" {
				known[e.Customer] = true
			}
		}
	}
	for c := 0; c < customers && len(w.Referrers) < referrers; c++ {
		id := fmt.Sprintf("dr-%d-c%03d", seed%1000, c)
		if !known[id] {
			continue
		}
		ref := Referrer{Customer: id, FirstName: []string{"Anna", "Marco", "Lucia", "Pablo", "Emma"}[r.IntN(5)]}
		ref.Email = ref.Customer + "@example.com"
		for j := range 1 + r.IntN(3) {
			f := Friend{Customer: fmt.Sprintf("%s-f%d", ref.Customer, j), Order: fmt.Sprintf("%s-o%d", ref.Customer, j),
				Total: int64(1500 + r.IntN(20000)), Clicks: r.IntN(3), ViaQueue: r.IntN(3) == 0}
			f.Email = f.Customer + "@example.net"
			switch r.IntN(8) {
			case 0:
				f.Fraud, f.Email = "self_referral", ref.Email
			case 1:
				f.RefundBeforeRelease, f.RefundParts = true, r.IntN(3)
			case 2:
				f.RefundAfterGrant, f.RefundParts = true, r.IntN(3)
			}
			if f.ViaQueue && f.Fraud != "" {
				f.ViaQueue = false // a refusal is checked on the API's answer
			}
			ref.Friends = append(ref.Friends, f)
		}
		w.Referrers = append(w.Referrers, ref)
	}
	if len(w.Referrers) > 0 {
		w.Erase = append(w.Erase, w.Referrers[r.IntN(len(w.Referrers))].Customer)
	}
	for c := customers - 1; c >= 0; c-- { // the last known customer who refers nobody
		id := fmt.Sprintf("dr-%d-c%03d", seed%1000, c)
		if known[id] && !slices.ContainsFunc(w.Referrers, func(r Referrer) bool { return r.Customer == id }) {
			w.Erase = append(w.Erase, id)
			break
		}
	}
	return w
}

func props(r *rand.Rand, typ, customer string, seq int, orders *[]string) map[string]any {
	switch typ {
	case "purchase":
		o := fmt.Sprintf("%s-po%d", customer, seq)
		*orders = append(*orders, o)
		p := map[string]any{"order_id": o, "total": 500 + r.IntN(30000), "currency": "EUR"}
		if r.IntN(3) == 0 {
			p["discount_used"] = r.IntN(2) == 0
		}
		return p
	case "refund":
		if len(*orders) == 0 {
			return nil
		}
		return map[string]any{"order_id": (*orders)[r.IntN(len(*orders))], "amount": 100 + r.IntN(400)}
	case "email_open":
		return map[string]any{"campaign_id": fmt.Sprintf("nl-%d", r.IntN(5))}
	case "email_click":
		return map[string]any{"campaign_id": fmt.Sprintf("nl-%d", r.IntN(5)), "link_id": "cta"}
	case "visit":
		return map[string]any{"duration_seconds": r.IntN(1800), "pages": 1 + r.IntN(20)}
	case "nps":
		return map[string]any{"score": r.IntN(11)}
	case "survey_answer":
		return map[string]any{"survey_id": "s1"}
	case "review":
		return map[string]any{"stars": 1 + r.IntN(5), "review_id": fmt.Sprintf("rv-%d", seq)}
	case "comment":
		return map[string]any{}
	case "profile_update":
		return map[string]any{"fields": map[string]any{"birthday": fmt.Sprintf("%02d-%02d", 1+r.IntN(12), 1+r.IntN(28))}}
	case "loyalty_join":
		return map[string]any{"program_id": "club"}
	case "social_follow":
		return map[string]any{"network": []string{"instagram", "tiktok", "facebook"}[r.IntN(3)]}
	case "referral_share":
		return map[string]any{"code": "SHARE-" + fmt.Sprint(r.IntN(100)), "channel": []string{"whatsapp", "email", "link"}[r.IntN(3)]}
	default: // signup
		return map[string]any{}
	}
}

// breakOne spoils one item of the post as a buggy integration would and returns the field the
// 400 must name.
func breakOne(r *rand.Rand, p *Post) string {
	i := r.IntN(len(p.Events))
	e := &p.Events[i]
	cp := map[string]any{}
	for k, v := range e.Props {
		cp[k] = v
	}
	e.Props = cp
	prefix := ""
	if len(p.Events) > 1 {
		prefix = fmt.Sprintf("interactions[%d].", i)
	}
	switch r.IntN(4) {
	case 0:
		e.Type = "telepathy"
		return prefix + "type"
	case 1:
		e.Props["mood"] = "great"
		return prefix + "properties.mood"
	case 2:
		e.Customer = "spaces are not allowed"
		return prefix + "customer_id"
	default:
		e.ID = ""
		return prefix + "event_id"
	}
}

// Body renders the post as the storefront sends it at now.
func (p Post) Body(now time.Time) []byte {
	items := make([]map[string]any, len(p.Events))
	for i, e := range p.Events {
		items[i] = map[string]any{"event_id": e.ID, "customer_id": e.Customer, "type": e.Type,
			"occurred_at": now.Add(-e.Age).UTC().Format(time.RFC3339), "properties": e.Props}
	}
	var b []byte
	if len(items) == 1 {
		b, _ = json.Marshal(items[0])
	} else {
		b, _ = json.Marshal(map[string]any{"interactions": items})
	}
	return b
}

// Accepted counts the interactions the workload's valid posts carry.
func (w Workload) Accepted() int {
	n := 0
	for _, p := range w.Posts {
		if p.BadField == "" {
			n += len(p.Events)
		}
	}
	return n
}
