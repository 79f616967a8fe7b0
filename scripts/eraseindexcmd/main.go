// Command eraseindexcmd backfills the by-customer indexes erasure queries (scripts/erase-index):
// items written before them lack the index key (owner items, click counters, monthly caps,
// leaderboard counts), and an erasure, which never scans, would not find them.
//
//	scripts/erase-index [--local | --endpoint URL] [--vouchers-table T] [--referrals-table T] [--stats-table T] [--dry-run]
//
// The tables default to $VOUCHERS_TABLE, $REFERRALS_TABLE and $STATS_TABLE, else VouchersTable,
// ReferralsTable and StatsTable (the names `make run` gives them). It scans each table once:
// run it by hand, once after upgrading.
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

	"github.com/referral-engine/referral-engine/internal/erase"
	"github.com/referral-engine/referral-engine/internal/toolclient"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "erase-index:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("erase-index", flag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "count the items that lack the index key; change nothing")
	local := fs.Bool("local", false, "use the local stack's DynamoDB Local (127.0.0.1:$DYNAMODB_PORT, default 8000)")
	endpoint := fs.String("endpoint", "", "DynamoDB endpoint (default: the SDK's configuration)")
	vouchers := fs.String("vouchers-table", toolclient.EnvOr("VOUCHERS_TABLE", "VouchersTable"), "the stack's VouchersTableName")
	referrals := fs.String("referrals-table", toolclient.EnvOr("REFERRALS_TABLE", "ReferralsTable"), "the stack's ReferralsTableName")
	stats := fs.String("stats-table", toolclient.EnvOr("STATS_TABLE", "StatsTable"), "the stack's StatsTableName")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if *local && *endpoint == "" {
		*endpoint = "http://127.0.0.1:" + toolclient.EnvOr("DYNAMODB_PORT", "8000")
	}
	db, err := toolclient.DynamoDB(ctx, *endpoint)
	if err != nil {
		return err
	}
	verb := "set"
	if *dryRun {
		verb = "would set"
	}
	for _, t := range []struct{ kind, table string }{
		{erase.KindVouchers, *vouchers}, {erase.KindReferrals, *referrals}, {erase.KindStats, *stats},
	} {
		c, err := erase.Backfill(ctx, db, t.kind, t.table, *vouchers, *dryRun)
		if err != nil {
			return err
		}
		var missing []string
		total := 0
		for _, k := range slices.Sorted(maps.Keys(c.Missing)) {
			missing = append(missing, fmt.Sprintf("%s %d", k, c.Missing[k]))
			total += c.Missing[k]
		}
		line := fmt.Sprintf("%s: scanned %d items, %d without the index key", t.table, c.Scanned, total)
		if total > 0 {
			line += " (" + strings.Join(missing, ", ") + ")"
		}
		if *dryRun {
			line += fmt.Sprintf(", %s %d", verb, total-c.Unresolved)
		} else {
			line += fmt.Sprintf(", %s %d", verb, c.Set)
		}
		if c.Unresolved > 0 {
			line += fmt.Sprintf(", %d click counters of codes no longer stored (they expire)", c.Unresolved)
		}
		fmt.Fprintln(out, line)
	}
	return nil
}
