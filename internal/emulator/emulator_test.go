package emulator

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func repo(t *testing.T) string {
	t.Helper()
	r, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := Installed(r); err != nil {
		t.Skipf("skipping: %v", err)
	}
	if testing.Short() {
		t.Skip("skipping in -short mode: starts emulators")
	}
	return r
}

func TestFindRepoRoot(t *testing.T) {
	r, err := FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s", r)
	}
	if _, err := FindRepoRoot(t.TempDir()); err == nil {
		t.Fatal("want an error outside any module")
	}
}

func TestStartStopBoth(t *testing.T) {
	r := repo(t)
	ctx := context.Background()
	type res struct {
		p   *Process
		err error
	}
	ddbc, sqsc := make(chan res, 1), make(chan res, 1)
	go func() {
		p, err := StartDynamoDB(ctx, DynamoDBOptions{Options: Options{RepoDir: r}})
		ddbc <- res{p, err}
	}()
	go func() { p, err := StartFauxqs(ctx, Options{RepoDir: r}); sqsc <- res{p, err} }()
	ddb, sqs := <-ddbc, <-sqsc
	for _, x := range []res{ddb, sqs} {
		if x.err != nil {
			t.Fatal(x.err)
		}
		t.Cleanup(func() { _ = x.p.Stop() })
	}
	for _, p := range []*Process{ddb.p, sqs.p} {
		pidFile := p.pidFile
		if _, err := os.Stat(pidFile); err != nil {
			t.Errorf("%s: pidfile: %v", p.Name, err)
		}
		pid := p.PID()
		if err := p.Stop(); err != nil {
			t.Fatalf("stop %s: %v", p.Name, err)
		}
		if alive(pid) {
			t.Errorf("%s (pid %d) still alive after Stop", p.Name, pid)
		}
		if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
			t.Errorf("%s: pidfile left behind", p.Name)
		}
		if err := p.Stop(); err != nil { // idempotent
			t.Errorf("second Stop: %v", err)
		}
	}
}

// A run that crashed left its emulator running and its pidfile behind: the next start on the
// same port kills it and takes over.
func TestStaleProcessIsReplaced(t *testing.T) {
	r := repo(t)
	ctx := context.Background()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	old, err := StartFauxqs(ctx, Options{RepoDir: r, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Stop()
	// Simulate the crash: forget the process without stopping it (its pidfile stays).
	oldPID := old.PID()
	fresh, err := StartFauxqs(ctx, Options{RepoDir: r, Port: port})
	if err != nil {
		t.Fatalf("second start on a port held by a stale run: %v", err)
	}
	defer fresh.Stop()
	select {
	case <-old.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("stale fauxqs (pid %d) still running", oldPID)
	}
	if fresh.PID() == oldPID {
		t.Fatal("same pid")
	}
}

// An emulator whose runner is still alive belongs to another running stack: never kill it.
func TestLiveOwnerIsNotKilled(t *testing.T) {
	r := repo(t)
	ctx := context.Background()
	other, err := StartFauxqs(ctx, Options{RepoDir: r})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Stop()
	owner := exec.Command("sleep", "30")
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Process.Kill()
	// Pretend the sleep process is the runner that started it.
	if err := os.WriteFile(other.pidFile, fmt.Appendf(nil, "%d %d\n", other.PID(), owner.Process.Pid), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = StartFauxqs(ctx, Options{RepoDir: r, Port: other.Port, PortEnv: "SQS_PORT"})
	if err == nil || !strings.Contains(err.Error(), "another local stack") || !strings.Contains(err.Error(), "SQS_PORT") {
		t.Fatalf("want a 'another local stack' error naming SQS_PORT, got %v", err)
	}
	select {
	case <-other.Done():
		t.Fatal("the other stack's emulator was killed")
	default:
	}
	// Once that runner is gone, its emulator is stale and gets replaced.
	_ = owner.Process.Kill()
	_ = owner.Wait()
	fresh, err := StartFauxqs(ctx, Options{RepoDir: r, Port: other.Port})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Stop()
	select {
	case <-other.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("stale emulator not killed")
	}
}

func TestPortTakenByStranger(t *testing.T) {
	r := repo(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = StartFauxqs(context.Background(), Options{RepoDir: r, Port: port, PortEnv: "SQS_PORT"})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{strconv.Itoa(port), "SQS_PORT", "in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestExitDuringStartReportsOutput(t *testing.T) {
	r := repo(t)
	// An unknown JVM heap size makes java exit at once with a message on stderr.
	_, err := StartDynamoDB(context.Background(), DynamoDBOptions{Options: Options{RepoDir: r}, MaxHeap: "bogus"})
	if err == nil {
		t.Fatal("want an error")
	}
	if !strings.Contains(err.Error(), "exited while starting") || !strings.Contains(strings.ToLower(err.Error()), "heap") {
		t.Fatalf("error lacks the cause: %v", err)
	}
}

func TestAliveSeesZombiesAsDead(t *testing.T) {
	if alive(1 << 30) {
		t.Fatal("nonexistent pid alive")
	}
	if !alive(os.Getpid()) {
		t.Fatal("self not alive")
	}
}
