// Command apikeycmd manages API keys (scripts/apikey): create prints a new key once and stores
// only its SHA-256 hash; revoke marks a key revoked; list shows names, scopes, times and hash
// prefixes, never keys.
//
//	scripts/apikey [-table T] [-endpoint URL] create -name shopify -scope ingest [-scope read]
//	scripts/apikey revoke <key-or-hash>
//	scripts/apikey list
//
// The table defaults to $API_KEYS_TABLE, else ApiKeysTable (the name `make run` gives it). The
// endpoint defaults to the SDK's configuration (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL; none:
// AWS); against a local endpoint, missing credentials and region get local placeholders.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/toolclient"
)

type scopes []string

func (s *scopes) String() string { return strings.Join(*s, ",") }
func (s *scopes) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apikey:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	global := flag.NewFlagSet("apikey", flag.ContinueOnError)
	table := global.String("table", toolclient.EnvOr("API_KEYS_TABLE", "ApiKeysTable"), "API keys table name")
	endpoint := global.String("endpoint", "", "DynamoDB endpoint (default: the SDK's configuration)")
	if err := global.Parse(args); err != nil {
		return err
	}
	if global.NArg() == 0 {
		return errors.New("usage: apikey [-table T] [-endpoint URL] create|revoke|list ...")
	}
	db, err := toolclient.DynamoDB(ctx, *endpoint)
	if err != nil {
		return err
	}
	cmd, rest := global.Arg(0), global.Args()[1:]
	switch cmd {
	case "create":
		fs := flag.NewFlagSet("create", flag.ContinueOnError)
		name := fs.String("name", "", "who the key is for, e.g. shopify")
		var sc scopes
		fs.Var(&sc, "scope", "ingest, read or admin (repeat or comma-separate)")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		key, err := apikey.Create(ctx, db, *table, *name, sc)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\n", key)
		fmt.Fprintf(os.Stderr, "created %q (%s), hash %s…: the key above is shown once; only its hash is stored\n", *name, sc.String(), apikey.Hash(key)[:12])
		return nil
	case "revoke":
		if len(rest) != 1 {
			return errors.New("usage: apikey revoke <key-or-hash>")
		}
		rec, err := apikey.Revoke(ctx, db, *table, rest[0], time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked %q (hash %s…) at %s; running functions refuse it within their key cache TTL (API_KEY_CACHE_SECONDS, default %s)\n",
			rec.Name, rec.KeyHash[:12], rec.RevokedAt, apikey.DefaultCacheTTL)
		return nil
	case "list":
		recs, err := apikey.List(ctx, db, *table)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tSCOPES\tCREATED\tREVOKED\tHASH")
		for _, r := range recs {
			revoked := r.RevokedAt
			if revoked == "" {
				revoked = "-"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s…\n", r.Name, strings.Join(r.Scopes, ","), r.CreatedAt, revoked, r.KeyHash[:12])
		}
		return w.Flush()
	}
	return fmt.Errorf("unknown command %q (create, revoke, list)", cmd)
}
