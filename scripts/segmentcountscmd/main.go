// Command segmentcountscmd checks the segment counters against the segment index, and rebuilds
// them from it (scripts/segment-counts): stacks deployed before the counters existed have none.
//
//	scripts/segment-counts [--local | --endpoint URL] [--customers-table T] [--stats-table T] --check | --fix
//
// The tables default to $CUSTOMERS_TABLE and $STATS_TABLE, else CustomersTable and StatsTable
// (the names `make run` gives them). Counting the index reads ~60 bytes per customer: run it
// by hand, not on a schedule.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/referral-engine/referral-engine/internal/dynamostore"
	"github.com/referral-engine/referral-engine/internal/segment"
	"github.com/referral-engine/referral-engine/internal/toolclient"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "segment-counts:", err)
		os.Exit(1)
	}
}

// errDiffer: counters and index still differ.
var errDiffer = errors.New("the segment counters differ from the segment index")

// attempts: a live stack moves customers between the reads, so a difference is read again
// (and, with --fix, corrected) a few times before it counts.
const attempts = 3

var pause = 2 * time.Second

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("segment-counts", flag.ContinueOnError)
	check := fs.Bool("check", false, "compare the counters with a count of the segment index; exit 1 on a difference")
	fix := fs.Bool("fix", false, "correct the counters that differ from the index (those that did not move meanwhile)")
	local := fs.Bool("local", false, "use the local stack's DynamoDB Local (127.0.0.1:$DYNAMODB_PORT, default 8000)")
	endpoint := fs.String("endpoint", "", "DynamoDB endpoint (default: the SDK's configuration)")
	customersTable := fs.String("customers-table", toolclient.EnvOr("CUSTOMERS_TABLE", "CustomersTable"), "the stack's CustomersTableName")
	statsTable := fs.String("stats-table", toolclient.EnvOr("STATS_TABLE", "StatsTable"), "the stack's StatsTableName")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *check == *fix {
		fs.Usage()
		return errors.New("say --check or --fix")
	}
	if *local && *endpoint == "" {
		*endpoint = "http://127.0.0.1:" + toolclient.EnvOr("DYNAMODB_PORT", "8000")
	}
	db, err := toolclient.DynamoDB(ctx, *endpoint)
	if err != nil {
		return err
	}
	cs, err := dynamostore.NewCustomers(db, *customersTable)
	if err != nil {
		return err
	}
	sc, err := dynamostore.NewSegmentCounters(db, *statsTable)
	if err != nil {
		return err
	}
	segs := []string{segment.Ambassador, segment.FutureAmbassador, segment.Opportunist}
	var diffs []string
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			time.Sleep(pause)
		}
		// Counters, index, counters: a shard whose counters moved while the index was counted
		// (a rescore in between) is not compared this time.
		before, err := sc.ReadShards(ctx, segs)
		if err != nil {
			return err
		}
		index := map[string][]segment.Count{}
		for _, seg := range segs {
			if index[seg], err = cs.IndexCounts(ctx, seg); err != nil {
				return err
			}
		}
		after, err := sc.ReadShards(ctx, segs)
		if err != nil {
			return err
		}
		diffs = diffs[:0]
		for _, seg := range segs {
			for shard := range dynamostore.SegmentShards {
				have, want := after[seg][shard], index[seg][shard]
				if same(have, want) {
					continue
				}
				diffs = append(diffs, fmt.Sprintf("%s shard %02d: counters %s, index %s", seg, shard, show(have), show(want)))
				if !*fix || !same(before[seg][shard], have) {
					continue
				}
				wrote, err := sc.Correct(ctx, seg, shard, have, want)
				if err != nil {
					return err
				}
				if wrote {
					fmt.Fprintf(out, "fixed %s shard %02d: %s -> %s\n", seg, shard, show(have), show(want))
				}
			}
		}
		if len(diffs) == 0 {
			for _, seg := range segs {
				fmt.Fprintf(out, "%s: %s (counters = index)\n", seg, show(total(index[seg])))
			}
			return nil
		}
	}
	for _, d := range diffs {
		fmt.Fprintln(out, d)
	}
	return fmt.Errorf("%w in %d shards", errDiffer, len(diffs))
}

func same(a, b segment.Count) bool {
	return a.Members == b.Members && maps.Equal(nonZero(a.SubSegments), nonZero(b.SubSegments))
}

func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func total(shards []segment.Count) segment.Count {
	t := segment.Count{SubSegments: map[string]int{}}
	for _, c := range shards {
		t.Members += c.Members
		for k, v := range c.SubSegments {
			t.SubSegments[k] += v
		}
	}
	return t
}

func show(c segment.Count) string {
	subs := nonZero(c.SubSegments)
	parts := []string{fmt.Sprintf("%d members", c.Members)}
	for _, k := range slices.Sorted(maps.Keys(subs)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, subs[k]))
	}
	return strings.Join(parts, ", ")
}
