package localrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/referral-engine/referral-engine/internal/emulator"
)

// Limits Lambda applies that the runner mirrors.
const (
	maxPayload  = 6 << 20          // synchronous request and response payloads
	initTimeout = 10 * time.Second // a runtime must ask for its first event within this
)

// FunctionError is an invocation that failed: the function reported an error, timed out, or its
// process died. Type and Message are what Lambda reports (errorType, errorMessage).
type FunctionError struct {
	Function string
	Type     string
	Message  string
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Function, e.Type, e.Message)
}

// fnRunner runs one function: a pool of up to max processes, each with its own Runtime API
// server, and invocations handed to an idle one.
type fnRunner struct {
	spec   *functionSpec
	binary string
	env    []string
	max    int
	log    io.Writer
	logger *slog.Logger

	sem chan struct{} // one token per concurrent invocation

	mu     sync.Mutex
	idle   []*instance
	all    map[*instance]bool
	closed bool
	seq    int

	invocations, errors, coldStarts atomic.Int64
}

func newFnRunner(spec *functionSpec, binary string, env []string, max int, log io.Writer, logger *slog.Logger) *fnRunner {
	return &fnRunner{spec: spec, binary: binary, env: env, max: max, log: log, logger: logger,
		sem: make(chan struct{}, max), all: map[*instance]bool{}}
}

// invoke runs one synchronous invocation. A *FunctionError reports a failure of the function;
// any other error is the caller's context ending or the runner shutting down.
func (f *fnRunner) invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if len(payload) > maxPayload {
		return nil, &FunctionError{f.spec.LogicalID, "RequestEntityTooLargeException", fmt.Sprintf("request payload of %d bytes exceeds %d", len(payload), maxPayload)}
	}
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-f.sem }()
	f.invocations.Add(1)
	out, err := f.invokeOnce(ctx, payload)
	var fe *FunctionError
	if errors.As(err, &fe) {
		f.errors.Add(1)
	}
	return out, err
}

func (f *fnRunner) invokeOnce(ctx context.Context, payload []byte) ([]byte, error) {
	inv := &invocation{id: newID(), payload: payload, done: make(chan invokeResult, 1)}
	var inst *instance
	// Hand the event to the runtime when it next asks for one. A warm process can exit after
	// its last response (aws-lambda-go exits after reporting a panic): the event never reached
	// it, so give it to another process, as Lambda would use a fresh sandbox.
	for attempt := 0; ; attempt++ {
		var fresh bool
		var err error
		inst, fresh, err = f.acquire()
		if err != nil {
			return nil, err
		}
		initTimer := time.NewTimer(initTimeout)
		select {
		case inst.next <- inv:
			initTimer.Stop()
		case <-inst.exited:
			initTimer.Stop()
			if !fresh && attempt < 3 {
				continue
			}
			return nil, inst.exitError(inv.id)
		case <-initTimer.C:
			inst.kill()
			return nil, &FunctionError{f.spec.LogicalID, "Runtime.InitTimeout", fmt.Sprintf("the runtime did not ask for an event within %s", initTimeout)}
		case <-ctx.Done():
			initTimer.Stop()
			f.release(inst)
			return nil, ctx.Err()
		}
		break
	}

	timer := time.NewTimer(f.spec.Timeout)
	defer timer.Stop()
	select {
	case res := <-inv.done:
		f.release(inst)
		if res.err != nil {
			return nil, res.err
		}
		return res.payload, nil
	case <-inst.exited:
		return nil, inst.exitError(inv.id)
	case <-timer.C:
		// Lambda stops the sandbox at the deadline; the next invocation gets a fresh process.
		inst.kill()
		return nil, &FunctionError{f.spec.LogicalID, "Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, f.spec.Timeout.Seconds())}
	case <-ctx.Done():
		inst.kill()
		return nil, ctx.Err()
	}
}

// acquire returns an idle live instance or starts a new one (fresh). The semaphore already
// bounds how many are in use, so a new one never exceeds max.
func (f *fnRunner) acquire() (inst *instance, fresh bool, err error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, false, errors.New("local runner is shutting down")
	}
	for len(f.idle) > 0 {
		inst := f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		if !inst.dead() {
			f.mu.Unlock()
			return inst, false, nil
		}
	}
	f.seq++
	n := f.seq
	f.mu.Unlock()

	inst, err = f.startInstance(n)
	if err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		go inst.stop()
		return nil, false, errors.New("local runner is shutting down")
	}
	f.coldStarts.Add(1)
	return inst, true, nil
}

func (f *fnRunner) release(inst *instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || inst.dead() {
		return
	}
	f.idle = append(f.idle, inst)
}

func (f *fnRunner) forget(inst *instance) {
	f.mu.Lock()
	delete(f.all, inst)
	f.mu.Unlock()
}

// killAll SIGKILLs every process of the function (failure drills); in-flight invocations fail.
func (f *fnRunner) killAll() int {
	f.mu.Lock()
	insts := make([]*instance, 0, len(f.all))
	for i := range f.all {
		insts = append(insts, i)
	}
	f.idle = nil
	f.mu.Unlock()
	for _, i := range insts {
		i.kill()
	}
	return len(insts)
}

// close stops every process: SIGTERM first (functions using lambda.WithEnableSIGTERM get to
// run their hooks, as on Lambda), SIGKILL shortly after.
func (f *fnRunner) close() {
	f.mu.Lock()
	f.closed = true
	insts := make([]*instance, 0, len(f.all))
	for i := range f.all {
		insts = append(insts, i)
	}
	f.idle = nil
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, i := range insts {
		wg.Go(i.stop)
	}
	wg.Wait()
}

func (f *fnRunner) processCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for i := range f.all {
		if !i.dead() {
			n++
		}
	}
	return n
}

type invocation struct {
	id      string
	payload []byte
	done    chan invokeResult // buffered: the first result wins
}

type invokeResult struct {
	payload []byte
	err     *FunctionError
}

func (inv *invocation) finish(r invokeResult) {
	select {
	case inv.done <- r:
	default:
	}
}

// instance is one function process and the Runtime API server it talks to.
type instance struct {
	f        *fnRunner
	n        int
	srv      *http.Server
	cmd      *exec.Cmd
	next     chan *invocation
	exited   chan struct{}
	shutdown chan struct{}
	exitErr  error
	stopOnce sync.Once

	mu      sync.Mutex
	current *invocation
	initErr *FunctionError
}

func (f *fnRunner) startInstance(n int) (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime API listener for %s: %w", f.spec.LogicalID, err)
	}
	inst := &instance{f: f, n: n, next: make(chan *invocation), exited: make(chan struct{}), shutdown: make(chan struct{})}
	inst.srv = &http.Server{Handler: inst.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = inst.srv.Serve(ln) }()

	cmd := exec.Command(f.binary)
	cmd.Env = append(append([]string{}, f.env...),
		"AWS_LAMBDA_RUNTIME_API="+ln.Addr().String(),
		"AWS_LAMBDA_LOG_STREAM_NAME="+time.Now().UTC().Format("2006/01/02")+"/[$LATEST]"+strconv.Itoa(n))
	cmd.Stdout, cmd.Stderr = f.log, f.log
	emulator.SetProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		_ = inst.srv.Close()
		return nil, fmt.Errorf("start %s (%s): %w", f.spec.LogicalID, f.binary, err)
	}
	inst.cmd = cmd
	// Registered before the exit watcher can forget it, so a process that dies at once is
	// never left behind in f.all.
	f.mu.Lock()
	f.all[inst] = true
	f.mu.Unlock()
	go func() {
		inst.exitErr = cmd.Wait()
		close(inst.exited)
		_ = inst.srv.Close()
		f.forget(inst)
	}()
	return inst, nil
}

func (i *instance) dead() bool {
	select {
	case <-i.exited:
		return true
	default:
		return false
	}
}

// kill ends the process at once (SIGKILL to its group), as Lambda does on a timeout.
func (i *instance) kill() {
	i.stopOnce.Do(func() {
		defer close(i.shutdown)
		if i.dead() {
			return // reaped: its pid may belong to someone else by now
		}
		_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
		<-i.exited
	})
}

// stop ends the process the way Lambda retires a sandbox: SIGTERM, then SIGKILL 500 ms later.
// The Runtime API stays up meanwhile, so the runtime sees no errors while it shuts down.
func (i *instance) stop() {
	i.stopOnce.Do(func() {
		defer close(i.shutdown)
		if i.dead() {
			return
		}
		_ = emulator.KillGroup(i.cmd.Process.Pid, i.exited, 500*time.Millisecond)
	})
}

// exitError describes the invocation that was in flight when the process exited.
func (i *instance) exitError(reqID string) *FunctionError {
	<-i.exited
	i.mu.Lock()
	initErr := i.initErr
	i.mu.Unlock()
	if initErr != nil {
		return initErr
	}
	return &FunctionError{i.f.spec.LogicalID, "Runtime.ExitError", fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %v", reqID, i.exitErr)}
}

func (i *instance) handler() http.Handler {
	mux := http.NewServeMux()
	const base = "/2018-06-01/runtime/"
	mux.HandleFunc("GET "+base+"invocation/next", i.handleNext)
	mux.HandleFunc("POST "+base+"invocation/{id}/response", i.handleResponse)
	mux.HandleFunc("POST "+base+"invocation/{id}/error", i.handleError)
	mux.HandleFunc("POST "+base+"init/error", i.handleInitError)
	// The Extensions API, as far as aws-lambda-go's WithEnableSIGTERM uses it: it registers an
	// extension (which makes Lambda send SIGTERM before stopping the process) and blocks in next.
	mux.HandleFunc("POST /2020-01-01/extension/register", i.handleExtRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", i.handleExtNext)
	return mux
}

func (i *instance) handleNext(w http.ResponseWriter, r *http.Request) {
	select {
	case inv := <-i.next:
		i.mu.Lock()
		i.current = inv
		i.mu.Unlock()
		spec := i.f.spec
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(spec.Timeout).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", functionARN(spec.Name))
		h.Set("Lambda-Runtime-Trace-Id", traceID())
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	case <-i.shutdown:
		http.Error(w, `{"errorMessage":"shutting down"}`, http.StatusInternalServerError)
	}
}

// take returns the in-flight invocation with this id and clears it.
func (i *instance) take(id string) *invocation {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.current == nil || i.current.id != id {
		return nil
	}
	inv := i.current
	i.current = nil
	return inv
}

func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}

func (i *instance) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv := i.take(r.PathValue("id"))
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight with this id")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	switch {
	case err != nil:
		inv.finish(invokeResult{err: &FunctionError{i.f.spec.LogicalID, "Runtime.ResponseError", err.Error()}})
	case len(body) > maxPayload:
		inv.finish(invokeResult{err: &FunctionError{i.f.spec.LogicalID, "Function.ResponseSizeTooLarge", fmt.Sprintf("response payload exceeds %d bytes", maxPayload)}})
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "response payload too large")
		return
	case r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		// aws-lambda-go reports an error met while streaming the response in trailers.
		fe := &FunctionError{Function: i.f.spec.LogicalID, Type: r.Trailer.Get("Lambda-Runtime-Function-Error-Type")}
		if b, err := base64.StdEncoding.DecodeString(r.Trailer.Get("Lambda-Runtime-Function-Error-Body")); err == nil {
			var e struct{ ErrorMessage string }
			_ = json.Unmarshal(b, &e)
			fe.Message = e.ErrorMessage
		}
		inv.finish(invokeResult{err: fe})
	default:
		inv.finish(invokeResult{payload: body})
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func (i *instance) handleError(w http.ResponseWriter, r *http.Request) {
	inv := i.take(r.PathValue("id"))
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight with this id")
		return
	}
	inv.finish(invokeResult{err: i.readError(r)})
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func (i *instance) handleInitError(w http.ResponseWriter, r *http.Request) {
	fe := i.readError(r)
	if fe.Type == "" || fe.Type == "Unhandled" {
		fe.Type = "Runtime.InitError"
	}
	i.mu.Lock()
	i.initErr = fe
	i.mu.Unlock()
	i.f.logger.Error("function init failed", "function", i.f.spec.LogicalID, "type", fe.Type, "message", fe.Message)
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func (i *instance) readError(r *http.Request) *FunctionError {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var e struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	fe := &FunctionError{Function: i.f.spec.LogicalID}
	if json.Unmarshal(body, &e) == nil && (e.ErrorMessage != "" || e.ErrorType != "") {
		fe.Type, fe.Message = e.ErrorType, e.ErrorMessage
	} else {
		fe.Message = strings.TrimSpace(string(body))
	}
	if fe.Type == "" {
		fe.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return fe
}

func (i *instance) handleExtRegister(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Lambda-Extension-Identifier", newID())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"functionName": i.f.spec.Name, "functionVersion": "$LATEST", "handler": "bootstrap",
	})
}

func (i *instance) handleExtNext(w http.ResponseWriter, r *http.Request) {
	select {
	case <-i.shutdown:
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":%d}`, time.Now().Add(500*time.Millisecond).UnixMilli())
	case <-r.Context().Done():
	}
}

// newID returns a random UUID (v4), the shape of Lambda request ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func traceID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Sampled=0", time.Now().Unix(), hex.EncodeToString(b[:]))
}

// prefixWriter writes each complete line as "[prefix] line" to dst, holding a mutex shared by
// all writers to dst so that lines of concurrent functions do not interleave.
type prefixWriter struct {
	mu     *sync.Mutex
	dst    io.Writer
	prefix []byte
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte{}, p.prefix...), p.buf[:i+1]...)
		_, _ = p.dst.Write(line)
		p.buf = p.buf[i+1:]
	}
	if len(p.buf) > 64<<10 { // a very long line without newline: flush it anyway
		_, _ = p.dst.Write(append(append(append([]byte{}, p.prefix...), p.buf...), '\n'))
		p.buf = nil
	}
	return len(b), nil
}
