package voucherstore_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/referral-engine/referral-engine/internal/emulator"
	"github.com/referral-engine/referral-engine/internal/localrun"
)

var stack *localrun.Stack

// TestMain runs the tests against DynamoDB Local with the VouchersTable and CustomersTable of
// template.yaml itself (the rest of the template is left out: no functions to build).
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("voucherstore: skipped in -short mode (needs DynamoDB Local)")
		os.Exit(0)
	}
	repo, err := emulator.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "voucherstore")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tpl := filepath.Join(dir, "template.yaml")
	if err := tablesOnly(filepath.Join(repo, "template.yaml"), tpl, "VouchersTable", "CustomersTable", "StatsTable"); err != nil {
		fmt.Fprintln(os.Stderr, "voucherstore:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	stack, err = localrun.Start(ctx, localrun.Config{RepoDir: repo, TemplatePath: tpl, Quiet: true, ManualSchedules: true, ResourcePrefix: "vs-"})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "voucherstore: start local stack:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = stack.Close()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// tablesOnly writes a copy of the template holding only the named resources.
func tablesOnly(src, dst string, ids ...string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	root := doc.Content[0]
	var kept []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "AWSTemplateFormatVersion", "Transform", "Parameters":
			kept = append(kept, k, v)
		case "Resources":
			var res []*yaml.Node
			for j := 0; j+1 < len(v.Content); j += 2 {
				for _, id := range ids {
					if v.Content[j].Value == id {
						res = append(res, v.Content[j], v.Content[j+1])
					}
				}
			}
			if len(res) != 2*len(ids) {
				return fmt.Errorf("%s: not every one of %v is a resource", src, ids)
			}
			v.Content = res
			kept = append(kept, k, v)
		}
	}
	root.Content = kept
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o644)
}
