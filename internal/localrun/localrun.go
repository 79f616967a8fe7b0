// Package localrun runs the stack template.yaml describes on the local emulators: it creates the
// tables and queues, builds each function with the Makefile target `sam build` uses, runs it as
// its own process(es) against a local Lambda Runtime API, serves the HTTP API routes as API
// Gateway payload 2.0 events, polls the SQS event sources like Lambda's event source mapping and
// fires the schedules. Everything comes from the template, so local and deployed cannot drift.
package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/referral-engine/referral-engine/internal/apikey"
	"github.com/referral-engine/referral-engine/internal/awsclient"
	"github.com/referral-engine/referral-engine/internal/emulator"
	"github.com/referral-engine/referral-engine/internal/sqsqueue"
)

// DefaultAPIKey is the local API key when LOCAL_API_KEY is not set.
const DefaultAPIKey = "local-dev-key"

// Config says what to run and where.
type Config struct {
	// RepoDir is the repository root; "" finds it from the working directory (go.mod).
	RepoDir string
	// TemplatePath is the SAM template; "" means <RepoDir>/template.yaml.
	TemplatePath string

	// Ports; 0 picks a free port (what tests want).
	APIPort, DynamoDBPort, SQSPort int
	// DynamoDBEndpoint and SQSEndpoint use emulators that are already running instead of
	// starting DynamoDB Local and fauxqs (the ports above are then ignored for them).
	DynamoDBEndpoint, SQSEndpoint string
	// DynamoDBPath keeps DynamoDB Local's data in this directory; "" keeps it in memory.
	DynamoDBPath string

	// Only, when set, keeps just these resources of the template (logical ids): a store's
	// tests need its tables, not the whole stack.
	Only []string
	// ResourcePrefix is put before every table, queue and function name.
	ResourcePrefix string
	// Parameters override the template parameters' defaults.
	Parameters map[string]string
	// APIKey is seeded into the ApiKeysTable with every scope; "" means $LOCAL_API_KEY, else
	// DefaultAPIKey.
	APIKey string

	// MaxInstances caps the processes per function (its local concurrency); 0 means 4.
	MaxInstances int
	// ManualSchedules fires schedules only on demand (FireSchedules, the admin route), never
	// on their timers: deterministic tests.
	ManualSchedules bool
	// ExtraEnv is added to every function's environment (after the template's).
	ExtraEnv map[string]string
	// Duplicates, when set, delivers every SQS batch twice with random delays (failure drills).
	Duplicates *Duplicates
	// FaultProxies puts a TCP proxy in front of the SQS emulator this stack starts, so that a
	// drill can make SQS refuse connections (StopSQS) without fauxqs losing its messages.
	FaultProxies bool

	// Quiet sends function output to .local/run/logs/<function>.log instead of stderr, and
	// invocation lines to Out only if Out is set.
	Quiet bool
	// Out receives one line per invocation; nil means stdout (or nothing when Quiet).
	Out io.Writer
	// Logger receives the runner's own progress and warnings; nil means a text logger on
	// stderr (discarding below Warn when Quiet).
	Logger *slog.Logger
	// Progress, when set, is called with short human progress messages during Start.
	Progress func(string)
}

// Stack is a running local stack.
type Stack struct {
	APIURL           string // http://127.0.0.1:<port>
	DynamoDBEndpoint string
	SQSEndpoint      string
	// APIKey is the seeded key (with every scope), if the template has an ApiKeysTable.
	APIKey string
	// Resources maps each table, queue and function logical id to its local physical name
	// (queues: their URL).
	Resources map[string]string
	DynamoDB  *dynamodb.Client
	SQS       *sqs.Client
	// LogDir holds the function logs when Config.Quiet is set.
	LogDir string

	ctx     context.Context
	cancel  context.CancelFunc
	cfg     Config
	repo    string
	logger  *slog.Logger
	out     io.Writer
	outMu   sync.Mutex
	model   *model
	runners map[string]*fnRunner
	apiPort int
	server  *http.Server
	emus    []*emulator.Process
	// The emulators this stack started (nil when it uses running ones), for the drills' faults.
	ddb, sqsProc *emulator.Process
	faultMu      sync.Mutex
	sqsPaused    bool
	sqsProxy     *proxy
	dups         *dupSource
	binDir       string
	logs         []io.Closer
	wg           sync.WaitGroup

	schedules []*scheduleSpec
	closeOnce sync.Once
	closeErr  error
	closing   atomic.Bool
}

var stackSeq atomic.Int64

// Start brings the whole stack up: emulators and builds concurrently, then tables, queues, the
// API key, the HTTP API, the SQS pollers and the schedule timers. On error everything already
// started is stopped.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	began := time.Now()
	s := &Stack{cfg: cfg, runners: map[string]*fnRunner{}, Resources: map[string]string{}, dups: newDupSource(cfg.Duplicates)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if cfg.RepoDir == "" {
		if s.repo, err = emulator.RepoRoot(); err != nil {
			return nil, err
		}
	} else if s.repo, err = filepath.Abs(cfg.RepoDir); err != nil {
		return nil, err
	}
	s.setupOutput()
	progress := func(msg string) {
		if cfg.Progress != nil {
			cfg.Progress(msg)
		}
		s.logger.Debug(msg)
	}

	tplPath := cfg.TemplatePath
	if tplPath == "" {
		tplPath = filepath.Join(s.repo, "template.yaml")
	}
	tpl, err := loadTemplate(tplPath)
	if err != nil {
		return nil, err
	}
	if len(cfg.Only) > 0 {
		if err := tpl.KeepOnly(cfg.Only); err != nil {
			return nil, fmt.Errorf("%s: %w", tplPath, err)
		}
	}

	// Ports first: the model needs the SQS endpoint for queue URLs.
	apiLn, err := listen(cfg.APIPort, "API_PORT")
	if err != nil {
		return nil, err
	}
	s.apiPort = apiLn.Addr().(*net.TCPAddr).Port
	s.APIURL = "http://" + apiLn.Addr().String()
	s.server = &http.Server{ReadHeaderTimeout: 30 * time.Second}
	defer func() {
		if err != nil {
			apiLn.Close()
		}
	}()

	runDir := filepath.Join(s.repo, emulator.RunDir)
	s.binDir = filepath.Join(runDir, "stacks", fmt.Sprintf("%d-%d", os.Getpid(), stackSeq.Add(1)))
	cleanStaleStacks(filepath.Join(runDir, "stacks"))
	if err := os.MkdirAll(s.binDir, 0o755); err != nil {
		return nil, err
	}

	// Emulators and builds run concurrently: the JVM start is the slowest step.
	emuCtx, emuCancel := context.WithCancel(ctx)
	defer emuCancel()
	type emuResult struct {
		p   *emulator.Process
		err error
	}
	ddbCh, sqsCh := make(chan emuResult, 1), make(chan emuResult, 1)
	// Emulator output is noisy and kept only for error messages (Options.Log nil).
	var emuLog io.Writer
	if cfg.DynamoDBEndpoint == "" {
		progress("starting DynamoDB Local")
		go func() {
			p, err := emulator.StartDynamoDB(emuCtx, emulator.DynamoDBOptions{
				Options: emulator.Options{RepoDir: s.repo, Port: cfg.DynamoDBPort, PortEnv: "DYNAMODB_PORT", Log: emuLog},
				DBPath:  cfg.DynamoDBPath,
			})
			ddbCh <- emuResult{p, err}
		}()
	} else {
		ddbCh <- emuResult{}
	}
	if cfg.SQSEndpoint == "" {
		progress("starting fauxqs (SQS)")
		go func() {
			p, err := emulator.StartFauxqs(emuCtx, emulator.Options{RepoDir: s.repo, Port: cfg.SQSPort, PortEnv: "SQS_PORT", Log: emuLog})
			sqsCh <- emuResult{p, err}
		}()
	} else {
		sqsCh <- emuResult{}
	}
	// The SQS endpoint must be known before the model resolves queue URLs; wait for fauxqs.
	sqsRes := <-sqsCh
	if sqsRes.p != nil {
		s.emus = append(s.emus, sqsRes.p)
		s.sqsProc = sqsRes.p
	}
	if sqsRes.err != nil {
		emuCancel()
		if r := <-ddbCh; r.p != nil {
			s.emus = append(s.emus, r.p)
		}
		return nil, sqsRes.err
	}
	s.SQSEndpoint = cfg.SQSEndpoint
	if sqsRes.p != nil {
		s.SQSEndpoint = sqsRes.p.Endpoint
		if cfg.FaultProxies {
			if s.sqsProxy, err = newProxy(strings.TrimPrefix(s.SQSEndpoint, "http://")); err != nil {
				emuCancel()
				if r := <-ddbCh; r.p != nil {
					s.emus = append(s.emus, r.p)
				}
				return nil, fmt.Errorf("SQS fault proxy: %w", err)
			}
			s.SQSEndpoint = "http://" + s.sqsProxy.addr
		}
	}

	m, err := newModel(tpl, cfg.ResourcePrefix, cfg.Parameters, s.SQSEndpoint)
	if err != nil {
		emuCancel()
		if r := <-ddbCh; r.p != nil {
			s.emus = append(s.emus, r.p)
		}
		return nil, fmt.Errorf("%s: %w", tplPath, err)
	}
	s.model = m
	for _, w := range m.warnings {
		s.logger.Warn(w)
	}

	binaries, buildErr := buildFunctions(ctx, s.repo, filepath.Dir(tplPath), s.binDir, m.functions, progress)
	if buildErr != nil {
		emuCancel()
	}
	ddbRes := <-ddbCh
	if ddbRes.p != nil {
		s.emus = append(s.emus, ddbRes.p)
		s.ddb = ddbRes.p
	}
	if buildErr != nil {
		return nil, buildErr
	}
	if ddbRes.err != nil {
		return nil, ddbRes.err
	}
	s.DynamoDBEndpoint = cfg.DynamoDBEndpoint
	if ddbRes.p != nil {
		s.DynamoDBEndpoint = ddbRes.p.Endpoint
	}

	creds := credentials.NewStaticCredentialsProvider("local", "local", "")
	awsCfg := aws.Config{Region: Region, Credentials: creds}
	s.DynamoDB = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(s.DynamoDBEndpoint)
	}, awsclient.DynamoDBOptions)
	// Metered like the functions' clients: on AWS the event source mapping's polls are billed too.
	s.SQS = sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(s.SQSEndpoint) }, sqsqueue.Metered)

	progress("creating tables and queues")
	if err := createTables(ctx, s.DynamoDB, m.tables, s.logger); err != nil {
		return nil, err
	}
	if err := createQueues(ctx, s.SQS, m, s.logger); err != nil {
		return nil, err
	}
	for _, t := range m.tables {
		s.Resources[t.LogicalID] = t.Name
	}
	for _, q := range m.queues {
		s.Resources[q.LogicalID] = m.queueURL(q.Name)
	}
	for _, f := range m.functions {
		s.Resources[f.LogicalID] = f.Name
	}

	if tpl.Resources["ApiKeysTable"] != nil {
		s.APIKey = cfg.APIKey
		if s.APIKey == "" {
			s.APIKey = os.Getenv("LOCAL_API_KEY")
		}
		if s.APIKey == "" {
			s.APIKey = DefaultAPIKey
		}
		if err := apikey.Put(ctx, s.DynamoDB, s.Resources["ApiKeysTable"], s.APIKey, "local", apikey.AllScopes); err != nil {
			return nil, fmt.Errorf("seed local API key: %w", err)
		}
	}

	maxInst := cfg.MaxInstances
	if maxInst <= 0 {
		maxInst = 4
	}
	for _, f := range m.functions {
		env, err := s.functionEnv(f)
		if err != nil {
			return nil, err
		}
		logw, err := s.functionLog(f)
		if err != nil {
			return nil, err
		}
		s.runners[f.LogicalID] = newFnRunner(f, binaries[f.LogicalID], env, maxInst, logw, s.logger)
	}

	// HTTP API.
	api := &httpAPI{s: s}
	for _, f := range m.functions {
		api.routes = append(api.routes, f.Routes...)
	}
	sortRoutes(api.routes)
	seen := map[string]string{}
	for _, r := range api.routes {
		if other, dup := seen[r.Key]; dup {
			return nil, fmt.Errorf("route %s is declared by both %s and %s", r.Key, other, r.Function.LogicalID)
		}
		seen[r.Key] = r.Function.LogicalID
	}
	s.server.Handler = api
	s.wg.Go(func() { _ = s.server.Serve(apiLn) })

	// SQS event sources: several pollers per queue so that batches overlap, as Lambda scales
	// pollers with the backlog; never more than the function can run at once.
	for _, f := range m.functions {
		for _, src := range f.SQS {
			n := min(2, maxInst)
			if src.MaxConcurrency > 0 {
				n = min(n, src.MaxConcurrency)
			}
			for range n {
				p := &poller{s: s, src: src, queueURL: m.queueURL(src.QueueName), fn: s.runners[f.LogicalID]}
				s.wg.Go(func() { p.run(s.ctx) })
			}
		}
		s.schedules = append(s.schedules, f.Schedules...)
	}
	if !cfg.ManualSchedules {
		for _, sc := range s.schedules {
			if sc.Enabled {
				s.wg.Go(func() { s.runSchedule(sc) })
			}
		}
	}
	s.logger.Info("local stack ready", "api", s.APIURL, "dynamodb", s.DynamoDBEndpoint, "sqs", s.SQSEndpoint,
		"functions", len(m.functions), "routes", len(api.routes), "took", time.Since(began).Round(time.Millisecond))
	return s, nil
}

func (s *Stack) setupOutput() {
	cfg := s.cfg
	s.logger = cfg.Logger
	if s.logger == nil {
		level := slog.LevelInfo
		if cfg.Quiet {
			level = slog.LevelWarn
		}
		s.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	s.out = cfg.Out
	if s.out == nil {
		if cfg.Quiet {
			s.out = io.Discard
		} else {
			s.out = os.Stdout
		}
	}
	s.LogDir = filepath.Join(s.repo, emulator.RunDir, "logs")
}

var stderrMu sync.Mutex

func (s *Stack) functionLog(f *functionSpec) (io.Writer, error) {
	if !s.cfg.Quiet {
		return &prefixWriter{mu: &stderrMu, dst: os.Stderr, prefix: []byte("[" + f.LogicalID + "] ")}, nil
	}
	if err := os.MkdirAll(s.LogDir, 0o755); err != nil {
		return nil, err
	}
	// One file per run: truncated at start, so it never grows across runs.
	fh, err := os.OpenFile(s.LogPath(f.LogicalID), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	s.logs = append(s.logs, fh)
	return &prefixWriter{mu: &sync.Mutex{}, dst: fh}, nil
}

// LogPath is where a function's output goes when Config.Quiet is set.
func (s *Stack) LogPath(logicalID string) string {
	return filepath.Join(s.LogDir, s.cfg.ResourcePrefix+logicalID+".log")
}

// functionEnv is what Lambda would give the process, plus the template's variables with local
// names, plus Config.ExtraEnv. Nothing of the runner's own environment leaks in but PATH: on
// Lambda a function sees no AWS_PROFILE, no HOME with ~/.aws.
func (s *Stack) functionEnv(f *functionSpec) ([]string, error) {
	tplEnv, err := s.model.environment(f)
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"LAMBDA_TASK_ROOT":                s.binDir,
		"_HANDLER":                        "bootstrap",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_REGION":                      Region,
		"AWS_DEFAULT_REGION":              Region,
		"AWS_ACCESS_KEY_ID":               "local",
		"AWS_SECRET_ACCESS_KEY":           "local",
		"AWS_ENDPOINT_URL_DYNAMODB":       s.DynamoDBEndpoint,
		"AWS_ENDPOINT_URL_SQS":            s.SQSEndpoint,
		"AWS_LAMBDA_FUNCTION_NAME":        f.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(f.MemorySize),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + f.Name,
		"AWS_LAMBDA_LOG_FORMAT":           f.LogFormat,
	}
	if f.AppLogLevel != "" {
		env["AWS_LAMBDA_LOG_LEVEL"] = f.AppLogLevel
	}
	for k, v := range tplEnv {
		env[k] = v
	}
	for k, v := range s.cfg.ExtraEnv {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for _, k := range sortedKeys(env) {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}

func listen(port int, envName string) (net.Listener, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("API: port %d on 127.0.0.1 is already in use: stop what holds it or set %s to another port (%w)", port, envName, err)
	}
	return ln, nil
}

// cleanStaleStacks removes binary dirs of runs whose process is gone (crashed or killed).
func cleanStaleStacks(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		pidStr, _, _ := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// logInvocation prints one line per invocation: time, function, trigger, duration, outcome.
func (s *Stack) logInvocation(fn, trigger string, began time.Time, outcome string) {
	line := fmt.Sprintf("%s %-28s %-44s %6dms  %s\n", began.Format("15:04:05.000"), fn, trigger, time.Since(began).Milliseconds(), outcome)
	s.outMu.Lock()
	_, _ = io.WriteString(s.out, line)
	s.outMu.Unlock()
}

// Invoke runs one synchronous invocation of a function with payload (a JSON event) and returns
// its result; a *FunctionError when the function failed.
func (s *Stack) Invoke(ctx context.Context, logicalID string, payload []byte) ([]byte, error) {
	f := s.runners[logicalID]
	if f == nil {
		return nil, fmt.Errorf("no function %s", logicalID)
	}
	began := time.Now()
	out, err := f.invoke(ctx, payload)
	outcome := "ok"
	if err != nil {
		outcome = "error: " + err.Error()
	}
	s.logInvocation(logicalID, "invoke", began, outcome)
	return out, err
}

// FunctionStats counts a function's invocations.
type FunctionStats struct {
	Invocations int // started invocations
	Errors      int // of which failed (function error, timeout, crash)
	ColdStarts  int // processes started
	Processes   int // processes alive now
}

// Stats returns each function's counters, by logical id.
func (s *Stack) Stats() map[string]FunctionStats {
	out := map[string]FunctionStats{}
	for id, f := range s.runners {
		out[id] = FunctionStats{
			Invocations: int(f.invocations.Load()), Errors: int(f.errors.Load()),
			ColdStarts: int(f.coldStarts.Load()), Processes: f.processCount(),
		}
	}
	return out
}

// Invocations returns the number of invocations per function, by logical id.
func (s *Stack) Invocations() map[string]int {
	out := map[string]int{}
	for id, f := range s.runners {
		out[id] = int(f.invocations.Load())
	}
	return out
}

// KillFunction SIGKILLs every running process of the function, as a crash would: in-flight
// invocations fail and the next invocation starts a new process. It returns how many it killed.
func (s *Stack) KillFunction(logicalID string) (int, error) {
	f := s.runners[logicalID]
	if f == nil {
		return 0, fmt.Errorf("no function %s", logicalID)
	}
	return f.killAll(), nil
}

// Fired reports one schedule firing.
type Fired struct {
	Rule       string `json:"rule"`
	Function   string `json:"function"`
	DurationMS int64  `json:"durationMs"`
	Error      string `json:"error,omitempty"`
}

// ScheduleRules lists the schedule rules, as "<FunctionLogicalId>.<EventName>".
func (s *Stack) ScheduleRules() []string {
	var out []string
	for _, sc := range s.schedules {
		out = append(out, sc.Rule)
	}
	sort.Strings(out)
	return out
}

// FireSchedules invokes the functions of the schedule rule named rule
// ("<FunctionLogicalId>.<EventName>", or just the function's logical id for all of its rules),
// or of every enabled rule when rule is "". It waits for the invocations and reports them;
// a function error is reported in Fired.Error, not as the returned error.
func (s *Stack) FireSchedules(ctx context.Context, rule string) ([]Fired, error) {
	var picked []*scheduleSpec
	for _, sc := range s.schedules {
		switch {
		case rule == "" && sc.Enabled, rule == sc.Rule, rule == sc.Function.LogicalID:
			picked = append(picked, sc)
		}
	}
	if rule != "" && len(picked) == 0 {
		return nil, fmt.Errorf("no schedule rule %q (rules: %s)", rule, strings.Join(s.ScheduleRules(), ", "))
	}
	out := make([]Fired, len(picked))
	var wg sync.WaitGroup
	for i, sc := range picked {
		wg.Go(func() { out[i] = s.fire(ctx, sc, time.Now()) })
	}
	wg.Wait()
	return out, nil
}

func (s *Stack) fire(ctx context.Context, sc *scheduleSpec, at time.Time) Fired {
	began := time.Now()
	payload := []byte(sc.Input)
	if sc.Input == "" {
		payload, _ = json.Marshal(map[string]any{
			"version":     "0",
			"id":          newID(),
			"detail-type": "Scheduled Event",
			"source":      "aws.events",
			"account":     AccountID,
			"time":        at.UTC().Format(time.RFC3339),
			"region":      Region,
			"resources":   []string{"arn:aws:events:" + Region + ":" + AccountID + ":rule/" + strings.ReplaceAll(sc.Rule, ".", "-")},
			"detail":      map[string]any{},
		})
	}
	_, err := s.runners[sc.Function.LogicalID].invoke(ctx, payload)
	f := Fired{Rule: sc.Rule, Function: sc.Function.LogicalID, DurationMS: time.Since(began).Milliseconds()}
	outcome := "ok"
	if err != nil {
		f.Error = err.Error()
		outcome = "error: " + err.Error()
	}
	s.logInvocation(sc.Function.LogicalID, "schedule "+sc.Rule, began, outcome)
	return f
}

func (s *Stack) runSchedule(sc *scheduleSpec) {
	for {
		now := time.Now().In(sc.Location)
		next := sc.sched.next(now)
		if next.IsZero() {
			return
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// Scheduled invocations are asynchronous on AWS: do not let a slow one delay the next.
		s.wg.Go(func() { s.fire(s.ctx, sc, next) })
	}
}

// Close stops the pollers, schedules, HTTP API, function processes and the emulators Start
// started, and waits for them. Safe to call more than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.cancel()
		s.faultMu.Lock()
		if s.sqsPaused {
			// A frozen emulator would hold every poll and delete until its SIGKILL.
			_ = syscall.Kill(-s.sqsProc.PID(), syscall.SIGCONT)
			s.sqsPaused = false
		}
		s.faultMu.Unlock()
		var errs []error
		if s.server != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := s.server.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				_ = s.server.Close()
			}
			cancel()
		}
		var wg sync.WaitGroup
		for _, f := range s.runners {
			wg.Go(f.close)
		}
		wg.Wait()
		s.wg.Wait()
		if s.sqsProxy != nil {
			s.sqsProxy.close()
		}
		var mu sync.Mutex
		s.faultMu.Lock() // not while a drill restarts DynamoDB Local
		defer s.faultMu.Unlock()
		for _, p := range s.emus {
			wg.Go(func() {
				if err := p.Stop(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, c := range s.logs {
			_ = c.Close()
		}
		if s.binDir != "" {
			_ = os.RemoveAll(s.binDir)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Routes lists the HTTP API routes as "<routeKey> -> <Function>".
func (s *Stack) Routes() []string {
	h, _ := s.server.Handler.(*httpAPI)
	if h == nil {
		return nil
	}
	return sortedRouteKeys(h.routes)
}
