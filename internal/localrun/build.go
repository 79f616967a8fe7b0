package localrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildParallelism caps concurrent builds: each `go build` uses every core already, and the
// machines this runs on have two.
const buildParallelism = 2

// buildFunctions builds every function the way `sam build` does for BuildMethod: makefile
// (`make build-<LogicalId>` with ARTIFACTS_DIR), but for the host's GOOS/GOARCH, and links each
// bootstrap into binDir so that a concurrent rebuild (another test package, another run) cannot
// change a binary under a running stack. It returns LogicalId -> binary path.
func buildFunctions(ctx context.Context, repo, templateDir, binDir string, fns []*functionSpec, progress func(string)) (map[string]string, error) {
	var (
		mu   sync.Mutex
		out  = map[string]string{}
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, buildParallelism)
	)
	build := func(f *functionSpec) {
		if progress != nil {
			progress("building " + f.LogicalID)
		}
		bin, err := buildOne(ctx, repo, templateDir, binDir, f)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		out[f.LogicalID] = bin
	}
	// The first build runs alone: with a cold Go build cache it compiles the dependencies all
	// functions share (the SDK, aws-lambda-go) once, instead of twice in parallel. With a warm
	// cache it costs nothing for three functions (two rounds either way).
	if len(fns) > 0 {
		build(fns[0])
	}
	for _, f := range fns[min(1, len(fns)):] {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			build(f)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func buildOne(ctx context.Context, repo, templateDir, binDir string, f *functionSpec) (string, error) {
	dir := filepath.Join(templateDir, f.CodeURI)
	if _, err := os.Stat(filepath.Join(dir, "Makefile")); err != nil {
		return "", fmt.Errorf("build %s: no Makefile in %s (CodeUri %q): the runner builds like `sam build` with BuildMethod: makefile", f.LogicalID, dir, f.CodeURI)
	}
	artifacts := filepath.Join(repo, ".local", "build", f.LogicalID)
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return "", err
	}
	// Another process may be building the same function right now (test packages run in
	// parallel): take turns.
	unlock, err := lockFile(ctx, artifacts+".lock")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", f.LogicalID, err)
	}
	defer unlock()

	target := "build-" + f.LogicalID
	cmd := exec.CommandContext(ctx, "make", "-s", target,
		"ARTIFACTS_DIR="+artifacts, "LAMBDA_GOOS="+runtime.GOOS, "LAMBDA_GOARCH="+runtime.GOARCH)
	cmd.Dir = dir
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(outBuf.String())
		if strings.Contains(msg, "No rule to make target") && strings.Contains(msg, target) {
			return "", fmt.Errorf("build %s: the Makefile in %s has no target %s (SAM calls build-<LogicalId> for BuildMethod: makefile): add one", f.LogicalID, dir, target)
		}
		return "", fmt.Errorf("build %s: make %s: %v\n%s", f.LogicalID, target, err, msg)
	}
	built := filepath.Join(artifacts, "bootstrap")
	if _, err := os.Stat(built); err != nil {
		return "", fmt.Errorf("build %s: make %s produced no %s", f.LogicalID, target, built)
	}
	bin := filepath.Join(binDir, f.LogicalID)
	_ = os.Remove(bin)
	if err := os.Link(built, bin); err != nil {
		if err := copyFile(built, bin); err != nil {
			return "", fmt.Errorf("build %s: %w", f.LogicalID, err)
		}
	}
	return bin, nil
}

func lockFile(ctx context.Context, path string) (func(), error) {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN); fh.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			fh.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			fh.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
