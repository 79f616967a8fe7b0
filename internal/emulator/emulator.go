// Package emulator starts and stops the local stand-ins for AWS services: DynamoDB Local (the
// AWS jar) and fauxqs (an SQS emulator). Each runs as a child process in its own process group so
// that Stop takes its children with it, and leaves a pidfile under .local/run so that the next run
// can clean up after a crashed one.
package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Where scripts/install-emulators puts the emulators, relative to the repository root.
const (
	DynamoDBDir = ".local/dynamodb"
	FauxqsBin   = ".local/emulators/node_modules/.bin/fauxqs"
	RunDir      = ".local/run"
)

// DefaultStartTimeout bounds how long Start waits for an emulator to answer. A cold JVM on a
// busy 2-core machine (tests of several packages starting stacks at once) can take ~10 s.
const DefaultStartTimeout = 60 * time.Second

// Options are common to both emulators.
type Options struct {
	// RepoDir is the repository root (holding go.mod); "" finds it from the working directory.
	RepoDir string
	// Port to listen on; 0 picks a free one.
	Port int
	// PortEnv names the environment variable that sets Port, for the "port in use" error.
	PortEnv string
	// StartTimeout bounds the wait for the emulator to answer; 0 means DefaultStartTimeout.
	StartTimeout time.Duration
	// Log receives the emulator's stdout and stderr; nil keeps only a tail for error messages.
	Log io.Writer
}

// DynamoDBOptions configure DynamoDB Local.
type DynamoDBOptions struct {
	Options
	// DBPath keeps data in this directory (-sharedDb -dbPath) instead of in memory.
	DBPath string
	// MaxHeap is the JVM -Xmx value; "" means 512m, which keeps the stack well under 1.5 GB.
	MaxHeap string
}

// Process is a running emulator.
type Process struct {
	Name     string // "DynamoDB Local" or "fauxqs"
	Port     int
	Endpoint string // http://127.0.0.1:<Port>

	cmd      *exec.Cmd
	pidFile  string
	tail     *tailBuffer
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// PID of the emulator's process (also its process group id).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop terminates the emulator and its children (the whole process group): SIGTERM, then
// SIGKILL after 3 s. It is safe to call more than once.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		p.stopErr = killGroup(p.cmd.Process.Pid, p.done, 3*time.Second)
		_ = os.Remove(p.pidFile)
	})
	return p.stopErr
}

// StartDynamoDB starts DynamoDB Local and waits until ListTables answers.
func StartDynamoDB(ctx context.Context, o DynamoDBOptions) (*Process, error) {
	repo, err := repoDir(o.RepoDir)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(repo, DynamoDBDir)
	jar := filepath.Join(dir, "DynamoDBLocal.jar")
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("DynamoDB Local is not installed (%s missing): run `make install-emulators`", jar)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, errors.New("DynamoDB Local needs a Java runtime (17+): install default-jre-headless")
	}
	heap := o.MaxHeap
	if heap == "" {
		heap = "512m"
	}
	spec := procSpec{
		name:   "DynamoDB Local",
		slug:   "dynamodb",
		marker: "DynamoDBLocal.jar",
		dir:    dir,
		cmd: func(port int) *exec.Cmd {
			// SerialGC: one small heap, no GC threads to speak of; C1 only: DynamoDB Local
			// starts faster and the local workload never needs C2's peak speed.
			args := []string{"-Xmx" + heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
				"-Djava.library.path=" + filepath.Join(dir, "DynamoDBLocal_lib"),
				"-jar", jar, "-port", strconv.Itoa(port)}
			if o.DBPath != "" {
				args = append(args, "-sharedDb", "-dbPath", o.DBPath)
			} else {
				args = append(args, "-inMemory")
			}
			return exec.Command("java", args...)
		},
		ready: dynamoDBReady,
	}
	if o.DBPath != "" {
		if err := os.MkdirAll(o.DBPath, 0o755); err != nil {
			return nil, fmt.Errorf("create DynamoDB data dir: %w", err)
		}
	}
	return start(ctx, repo, o.Options, spec)
}

// StartFauxqs starts fauxqs and waits until GET /health answers 200.
func StartFauxqs(ctx context.Context, o Options) (*Process, error) {
	repo, err := repoDir(o.RepoDir)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(repo, FauxqsBin)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("fauxqs is not installed (%s missing): run `make install-emulators`", bin)
	}
	spec := procSpec{
		name:   "fauxqs",
		slug:   "fauxqs",
		marker: "fauxqs",
		dir:    repo,
		cmd: func(port int) *exec.Cmd {
			c := exec.Command(bin)
			c.Env = append(os.Environ(), "FAUXQS_PORT="+strconv.Itoa(port), "FAUXQS_LOGGER=false")
			return c
		},
		ready: fauxqsReady,
	}
	return start(ctx, repo, o, spec)
}

// Installed reports nil when both emulators are installed under repo, else an error naming what
// is missing and how to install it (tests use it to skip).
func Installed(repo string) error {
	var missing []string
	if _, err := os.Stat(filepath.Join(repo, DynamoDBDir, "DynamoDBLocal.jar")); err != nil {
		missing = append(missing, "DynamoDB Local ("+DynamoDBDir+"/DynamoDBLocal.jar)")
	}
	if _, err := os.Stat(filepath.Join(repo, FauxqsBin)); err != nil {
		missing = append(missing, "fauxqs ("+FauxqsBin+")")
	}
	if _, err := exec.LookPath("java"); err != nil {
		missing = append(missing, "java")
	}
	if len(missing) > 0 {
		return fmt.Errorf("emulators not installed: %s; run `make install-emulators`", strings.Join(missing, ", "))
	}
	return nil
}

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return FindRepoRoot(wd)
}

// FindRepoRoot walks up from dir to the directory holding go.mod.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod in %s or any parent", dir)
		}
		d = parent
	}
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func repoDir(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	return RepoRoot()
}

type procSpec struct {
	name, slug string
	marker     string // a substring of a stale process's command line that proves it is ours
	dir        string
	cmd        func(port int) *exec.Cmd
	ready      func(ctx context.Context, endpoint string) error
}

func start(ctx context.Context, repo string, o Options, spec procSpec) (*Process, error) {
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	runDir := filepath.Join(repo, RunDir)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", runDir, err)
	}
	// A free port picked by us can be taken by a concurrent test process before the emulator
	// binds it: then try another. A port the user chose is never changed.
	attempts := 1
	if o.Port == 0 {
		attempts = 3
	}
	var lastErr error
	for range attempts {
		port := o.Port
		if port == 0 {
			p, err := FreePort()
			if err != nil {
				return nil, fmt.Errorf("find a free port for %s: %w", spec.name, err)
			}
			port = p
		}
		p, err := startOnce(ctx, runDir, port, o, spec, timeout)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, runDir string, port int, o Options, spec procSpec, timeout time.Duration) (*Process, error) {
	pidFile := filepath.Join(runDir, fmt.Sprintf("%s-%d.pid", spec.slug, port))
	if owner := killStale(pidFile, spec.marker); owner != 0 {
		return nil, fmt.Errorf("%s: port %d is used by the %s of another local stack that is still running (runner pid %d): stop it or set %s to another port",
			spec.name, port, spec.name, owner, cmpOr(o.PortEnv, "another port"))
	}
	if err := waitPortFree(port, 2*time.Second); err != nil {
		env := ""
		if o.PortEnv != "" {
			env = fmt.Sprintf(" or set %s to another port", o.PortEnv)
		}
		return nil, fmt.Errorf("%s: port %d on 127.0.0.1 is already in use by another process: stop it%s", spec.name, port, env)
	}

	cmd := spec.cmd(port)
	cmd.Dir = spec.dir
	tail := &tailBuffer{max: 8 << 10}
	var out io.Writer = tail
	if o.Log != nil {
		out = io.MultiWriter(tail, o.Log)
	}
	cmd.Stdout, cmd.Stderr = out, out
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	p := &Process{
		Name: spec.name, Port: port, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port),
		cmd: cmd, pidFile: pidFile, tail: tail, done: make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	// "<emulator pid> <runner pid>": the next start kills the emulator only if its runner is gone.
	_ = os.WriteFile(pidFile, fmt.Appendf(nil, "%d %d\n", cmd.Process.Pid, os.Getpid()), 0o644)

	began := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := spec.ready(rctx, p.Endpoint)
		cancel()
		if err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			_ = p.Stop()
			return nil, fmt.Errorf("%s exited while starting on port %d (%v); its output ends with:\n%s", spec.name, port, p.waitErr, p.tail.String())
		case <-deadline.C:
			_ = p.Stop()
			return nil, fmt.Errorf("%s did not answer on port %d within %s (last error: %v); its output ends with:\n%s", spec.name, port, time.Since(began).Round(time.Millisecond), err, p.tail.String())
		case <-ctx.Done():
			_ = p.Stop()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// killStale kills the emulator a previous run left behind (its pidfile survived a crash of the
// runner), but only if its command line shows it is an emulator: the pid may have been reused
// since. If the runner that started it is still alive, it is not stale: killStale leaves it
// and returns that runner's pid.
func killStale(pidFile, marker string) (liveOwner int) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	var pid, owner int
	_, _ = fmt.Sscan(string(b), &pid, &owner)
	if pid <= 1 || !alive(pid) {
		_ = os.Remove(pidFile)
		return 0
	}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && !bytes.Contains(cmdline, []byte(marker)) {
		_ = os.Remove(pidFile)
		return 0
	}
	if owner > 1 && owner != os.Getpid() && alive(owner) {
		return owner
	}
	_ = killGroup(pid, nil, 3*time.Second)
	_ = os.Remove(pidFile)
	return 0
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func waitPortFree(port int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killGroup sends SIGTERM to the process group, then SIGKILL after grace. done, when not nil,
// is closed once the leader has been reaped; otherwise liveness is polled.
func killGroup(pid int, done <-chan struct{}, grace time.Duration) error {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	exited := func() bool {
		if done != nil {
			select {
			case <-done:
				return true
			default:
				return false
			}
		}
		return !alive(pid)
	}
	deadline := time.Now().Add(grace)
	for !exited() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// SIGKILL the group even if the leader is gone: a child may have ignored SIGTERM.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if done != nil {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("process %d did not exit after SIGKILL", pid)
		}
	}
	return nil
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie (exited, not yet reaped by its parent) still answers signal 0.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	return true
}

func dynamoDBReady(ctx context.Context, endpoint string) error {
	c := dynamodb.New(dynamodb.Options{
		Region:                          "us-east-1",
		BaseEndpoint:                    aws.String(endpoint),
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		DisableValidateResponseChecksum: true,
		RetryMaxAttempts:                1,
	})
	_, err := c.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
	return err
}

func fauxqsReady(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /health: %s", resp.Status)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// SetProcAttrs gives cmd (not yet started) the same process setup as the emulators: its own
// process group, killed with the runner where the OS allows it. The local runner uses it for
// function processes.
func SetProcAttrs(cmd *exec.Cmd) { setProcAttrs(cmd) }

// KillGroup sends SIGTERM to the process group pid, then SIGKILL after grace; done, when not nil,
// is closed by the caller once the leader has been reaped.
func KillGroup(pid int, done <-chan struct{}, grace time.Duration) error {
	return killGroup(pid, done, grace)
}
