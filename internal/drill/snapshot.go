package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/referral-engine/referral-engine/internal/localrun"
	"github.com/referral-engine/referral-engine/internal/segment"
)

// Snapshot is the state a drill compares: per table, its items as canonical text lines, sorted.
// Only what a run of the same input must reproduce is kept (see normalize).
type Snapshot map[string][]string

// DLQDepths are the messages left in each dead-letter queue: a drill must leave none.
func DLQDepths(ctx context.Context, st *localrun.Stack) (map[string]int, error) {
	out := map[string]int{}
	for id, url := range st.Resources {
		if !strings.HasSuffix(id, "DLQ") {
			continue
		}
		n, err := queueDepth(ctx, st.SQS, url)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out[id] = n
		}
	}
	return out, nil
}

// Take reads every table the workload writes (all but the API keys).
func Take(ctx context.Context, st *localrun.Stack) (Snapshot, error) {
	snap := Snapshot{}
	// Voucher codes are random per run: name them by owner and program instead.
	codes := map[string]string{}
	tables := []string{"VouchersTable", "InteractionsTable", "CustomersTable", "ReferralsTable", "LedgerTable", "StatsTable"}
	items := map[string][]map[string]any{}
	for _, tb := range tables {
		its, err := scan(ctx, st, tb)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", tb, err)
		}
		items[tb] = its
		if tb == "VouchersTable" {
			for _, it := range its {
				// Code items only: owner items (and click counters) hold customer_id too, for erasure.
				if pk, _ := it["pk"].(string); !strings.HasPrefix(pk, "CODE#") {
					continue
				}
				if c, ok := it["code"].(string); ok && it["customer_id"] != nil {
					codes[c] = fmt.Sprintf("<code of %v/%v>", it["customer_id"], it["program"])
				}
			}
		}
	}
	// Funnel counters are spread over random shards: compare their sums.
	funnel := map[string]float64{}
	for _, tb := range tables {
		for _, it := range items[tb] {
			if pk, _ := it["pk"].(string); tb == "StatsTable" && strings.HasPrefix(pk, "FUNNEL#") {
				n, _ := it["n"].(float64)
				funnel[pk[:strings.LastIndexByte(pk, '#')]] += n
				continue
			}
			if pk, _ := it["pk"].(string); tb == "StatsTable" && strings.HasPrefix(pk, segCounterPrefix) {
				continue // summed below
			}
			if line, keep := normalize(tb, it, codes); keep {
				snap[tb] = append(snap[tb], line)
			}
		}
		sort.Strings(snap[tb])
	}
	for k, n := range funnel {
		snap["StatsTable"] = append(snap["StatsTable"], fmt.Sprintf("%s (all shards) n:%g", k, n))
	}
	snap["StatsTable"] = append(snap["StatsTable"], segmentCounterLines(items["StatsTable"], items["CustomersTable"])...)
	sort.Strings(snap["StatsTable"])

	segments := map[string]string{}
	for _, it := range items["CustomersTable"] {
		if sk, _ := it["sk"].(string); sk == "PROFILE" {
			seg, _ := it["seg"].(string)
			segments[it["customer_id"].(string)] = seg
		}
	}
	events, err := outboundEvents(ctx, st, codes, segments)
	if err != nil {
		return nil, err
	}
	snap["OutboundQueue"] = events
	return snap, nil
}

// segCounterPrefix starts the segment counters' keys (dynamostore: SEG#<segment>#<shard>).
const segCounterPrefix = "SEG#"

// countersExact is the StatsTable line of a run whose segment counters equal the profiles.
const countersExact = "segment counters equal the profiles"

// segmentCounterLines renders the segment counters summed per segment and sub-segment (which
// shards hold a count that went back to zero depends on the path customers took), and whether
// they equal what the PROFILE items say: the counters must be exact in each run, not only
// equal across runs.
func segmentCounterLines(stats, customers []map[string]any) []string {
	counters, profiles := map[string]float64{}, map[string]float64{}
	for _, it := range stats {
		pk, _ := it["pk"].(string)
		if !strings.HasPrefix(pk, segCounterPrefix) {
			continue
		}
		seg := strings.TrimPrefix(pk[:strings.LastIndexByte(pk, '#')], segCounterPrefix)
		for k, v := range it {
			n, _ := v.(float64)
			switch {
			case k == "n":
				counters[seg] += n
			case strings.HasPrefix(k, "sub_"):
				counters[seg+"/"+strings.TrimPrefix(k, "sub_")] += n
			}
		}
	}
	for _, it := range customers {
		seg, _ := it["seg"].(string)
		if sk, _ := it["sk"].(string); sk != "PROFILE" || seg == "" {
			continue
		}
		profiles[seg]++
		subs, _ := it["sub"].([]string) // a string set
		for _, s := range subs {
			profiles[seg+"/"+s]++
		}
	}
	var lines []string
	for k, n := range counters {
		if n != 0 {
			lines = append(lines, fmt.Sprintf("segment counter %s (all shards) n:%g", k, n))
		}
	}
	keys := map[string]bool{}
	for k := range counters {
		keys[k] = true
	}
	for k := range profiles {
		keys[k] = true
	}
	var off []string
	for k := range keys {
		if counters[k] != profiles[k] {
			off = append(off, fmt.Sprintf("%s counted %g, %g profiles", k, counters[k], profiles[k]))
		}
	}
	sort.Strings(off)
	if len(off) == 0 {
		lines = append(lines, countersExact)
	} else {
		lines = append(lines, "segment counters differ from the profiles: "+strings.Join(off, "; "))
	}
	return lines
}

// outboundEvents drains the OutboundQueue (nothing consumes it locally) and renders what a
// subscriber must see whatever the faults: each event id once or more (delivery is at least
// once; subscribers de-duplicate by id), so the distinct ids of vouchers, referrals and rewards;
// and, per customer, segment.changed events forming one path from no segment to the segment the
// customer has (how many steps depends on batching; a lost or a stray change breaks the path).
func outboundEvents(ctx context.Context, st *localrun.Stack, codes, segments map[string]string) ([]string, error) {
	type change struct{ From, To string }
	seen := map[string]bool{}
	var lines []string
	paths := map[string][]change{}
	url := st.Resources["OutboundQueue"]
	for empty := 0; empty < 2; {
		out, err := st.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, VisibilityTimeout: 600})
		if err != nil {
			return nil, fmt.Errorf("drain the OutboundQueue: %w", err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			var ev struct {
				ID         string          `json:"id"`
				Type       string          `json:"type"`
				CustomerID string          `json:"customer_id"`
				Data       json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				return nil, fmt.Errorf("outbound message %s: %w", aws.ToString(m.Body), err)
			}
			if seen[ev.ID] {
				continue
			}
			seen[ev.ID] = true
			if ev.Type == segment.EventType {
				var c change
				if err := json.Unmarshal(ev.Data, &c); err != nil {
					return nil, fmt.Errorf("segment.changed %s: %w", ev.ID, err)
				}
				paths[ev.CustomerID] = append(paths[ev.CustomerID], c)
				continue
			}
			lines = append(lines, canon(ev.Type+" "+ev.ID, codes, func(string) bool { return false }))
		}
	}
	for cid, seg := range segments {
		if seg == "" {
			continue
		}
		// An Euler path from "" to seg: "" starts one more change than it ends, seg ends one
		// more than it starts, every other segment as many.
		bal := map[string]int{}
		for _, c := range paths[cid] {
			bal[c.From]--
			bal[c.To]++
		}
		ok := len(paths[cid]) > 0 && bal[""] == -1 && bal[seg] == 1
		for k, n := range bal {
			if k != "" && k != seg && n != 0 {
				ok = false
			}
		}
		if ok {
			lines = append(lines, fmt.Sprintf("segment.changed of %s: one path from no segment to %q", cid, seg))
		} else {
			lines = append(lines, fmt.Sprintf("segment.changed of %s: %v do not lead to %q", cid, paths[cid], seg))
		}
	}
	sort.Strings(lines)
	return lines, nil
}

func scan(ctx context.Context, st *localrun.Stack, logicalID string) ([]map[string]any, error) {
	var out []map[string]any
	p := dynamodb.NewScanPaginator(st.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(st.Resources[logicalID]), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		var its []map[string]any
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &its); err != nil {
			return nil, err
		}
		out = append(out, its...)
	}
	return out, nil
}

// volatile are the attributes that differ between two correct runs of the same input played
// at the same base time: readings of the processing clock (the runs happen minutes apart), the
// exactly-once machinery's bookkeeping (versions, pending sets, lazy marks: how many deliveries
// it took is not state) and request ids. Names per item shape (dynamostore, aggregate, scoring).
var volatile = map[string]map[string]bool{
	"*": set("created_at", "updated_at", "received_at", "expires_at", "applied_at", "granted_at", "released_at",
		"voided_at", "reversed_at", "redeemed_at", "release_at", "due_shard", "request_hash", "grant_day", "day", "at",
		"published_at", "purge_at", "erased_at", "started_at", "refunded_at"),
	// lse: the last interaction, and the referral clicks, signups and successes the system
	// records occur at processing time.
	"CustomersTable": set("v", "pend", "upd", "at", "nr", "rv_at", "lse", "lca", "lra", "rba", "slc", "slr", "sw"),
	// fp: the content fingerprint hashes what is compared already, including the referral codes
	// (random per run) and the processing-time stamps of the system's own records. The
	// sweeper's index keys are present until an interaction is marked applied (lazily).
	"InteractionsTable": set("fp", "pending_shard", "pending_at"),
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// normalize renders an item as one canonical line, or drops it when the item is history whose
// shape depends on timing: a customer's segment history holds one entry per segment change, and
// how many changes a customer went through depends on how the interactions were batched.
func normalize(table string, it map[string]any, codes map[string]string) (string, bool) {
	if sk, _ := it["sk"].(string); table == "CustomersTable" && strings.HasPrefix(sk, "SEG#") {
		return "", false
	}
	if sk, _ := it["sk"].(string); table == "CustomersTable" && sk == "ERASED" {
		// What the attempt that finished found to erase: after a failed attempt, less.
		delete(it, "counts")
	}
	if typ, _ := it["type"].(string); table == "InteractionsTable" && strings.HasPrefix(typ, "referral_") && typ != "referral_share" {
		// Recorded by the system when it happens: at processing time.
		delete(it, "occurred_at")
		if typ == "referral_click" {
			it["event_id"] = "click-<request id>" // the API request id of the click
		}
	}
	if pk, _ := it["pk"].(string); table == "VouchersTable" && strings.HasPrefix(pk, "CODE#") {
		// Which path issued a customer's voucher (a 5-star review's, credited to the first such
		// review applied, or the storefront's request) depends on which came first.
		delete(it, "reason")
		delete(it, "campaign_id")
	}
	if pk, _ := it["pk"].(string); table == "VouchersTable" && strings.HasPrefix(pk, "CLICK#") {
		it["pk"] = pk[:strings.LastIndexByte(pk, '#')] // ...#<client hash>#<yyyymmddhh>: the hour of the run
	}
	drop := func(k string) bool { return volatile["*"][k] || volatile[table][k] }
	return canon(it, codes, drop), true
}

func canon(v any, codes map[string]string, drop func(string) bool) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if !drop(k) && x[k] != nil { // NULL and absent mean the same
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(k + ":" + canon(x[k], codes, drop))
		}
		b.WriteByte('}')
		return b.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canon(e, codes, drop)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return fmt.Sprintf("%d", int64(x))
		}
		// Scores decay continuously: runs minutes apart differ in the 4th significant digit;
		// Diff compares such numbers with a tolerance.
		return fmt.Sprintf("~%g", x)
	case string:
		for code, name := range codes {
			if strings.Contains(x, code) {
				x = strings.ReplaceAll(x, code, name)
			}
		}
		return fmt.Sprintf("%q", x)
	default:
		return fmt.Sprint(x)
	}
}

// Diff lists the lines only in a or only in b, per table. Numbers that are not integers (the
// scores) match within a relative 0.5% or 0.1: they decay with the clock.
func Diff(a, b Snapshot) []string {
	var out []string
	tables := map[string]bool{}
	for t := range a {
		tables[t] = true
	}
	for t := range b {
		tables[t] = true
	}
	names := make([]string, 0, len(tables))
	for t := range tables {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		count := map[string]int{}
		for _, l := range a[t] {
			count[l]++
		}
		for _, l := range b[t] {
			count[l]--
		}
		var onlyA, onlyB []string
		for l, n := range count {
			for ; n > 0; n-- {
				onlyA = append(onlyA, l)
			}
			for ; n < 0; n++ {
				onlyB = append(onlyB, l)
			}
		}
		sort.Strings(onlyA)
		sort.Strings(onlyB)
		for _, l := range onlyA {
			if k := closeMatch(l, onlyB); k >= 0 {
				onlyB = append(onlyB[:k], onlyB[k+1:]...)
				continue
			}
			out = append(out, t+": clean run only: "+l)
		}
		for _, l := range onlyB {
			out = append(out, t+": drill run only: "+l)
		}
	}
	return out
}

var inexact = regexp.MustCompile(`~[-+0-9.e]+`)

// closeMatch finds the line of lines equal to l but for inexact numbers within tolerance.
func closeMatch(l string, lines []string) int {
	skel := inexact.ReplaceAllString(l, "~")
	nums := inexact.FindAllString(l, -1)
	if len(nums) == 0 {
		return -1
	}
	for k, o := range lines {
		if inexact.ReplaceAllString(o, "~") != skel {
			continue
		}
		others := inexact.FindAllString(o, -1)
		ok := true
		for i := range nums {
			x, _ := strconv.ParseFloat(nums[i][1:], 64)
			y, _ := strconv.ParseFloat(others[i][1:], 64)
			// Or one step of the score's stored precision (0.1): a small score that decays
			// across a rounding boundary between runs (11.15) moves by 0.9%.
			if d := math.Abs(x - y); d > 0.005*math.Max(math.Abs(x), math.Abs(y)) && d > 0.1+1e-9 {
				ok = false
				break
			}
		}
		if ok {
			return k
		}
	}
	return -1
}
