package localrun

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/referral-engine/referral-engine/internal/emulator"
)

// Faults the failure drills inject. None of them is on unless a test asks: the runner behaves
// like AWS by default.

// Duplicates makes the SQS event sources deliver every batch twice, each delivery after its own
// random delay, so the copies can run before, after or beside each other: SQS's at-least-once
// delivery at its worst.
type Duplicates struct {
	MaxDelay time.Duration // each delivery waits a random time in [0, MaxDelay)
	Seed     uint64        // the delays' random source; same seed, same delays per poll order
}

type dupSource struct {
	cfg     Duplicates
	mu      sync.Mutex
	rnd     *rand.Rand
	pending atomic.Int64 // copies waiting for their delay or running
	count   atomic.Int64
}

func newDupSource(d *Duplicates) *dupSource {
	if d == nil {
		return nil
	}
	return &dupSource{cfg: *d, rnd: rand.New(rand.NewPCG(d.Seed, d.Seed^0x9e3779b97f4a7c15))}
}

func (d *dupSource) delay() time.Duration {
	if d.cfg.MaxDelay <= 0 {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return time.Duration(d.rnd.Int64N(int64(d.cfg.MaxDelay)))
}

// deliverCopy invokes the function a second time with the batch a poller just received, after
// a random delay, without waiting. Its result is only logged: the original delivery owns the
// messages (deletes them or leaves them for redelivery).
func (p *poller) deliverCopy(ctx context.Context, payload []byte, n int) {
	d := p.s.dups
	wait := d.delay()
	d.count.Add(1)
	d.pending.Add(1)
	p.s.wg.Go(func() {
		defer d.pending.Add(-1)
		sleep(ctx, wait)
		if ctx.Err() != nil {
			return
		}
		began := time.Now()
		_, err := p.fn.invoke(ctx, payload)
		outcome := "ok"
		if err != nil {
			outcome = "error: " + err.Error()
		}
		p.s.logInvocation(p.src.Function.LogicalID, fmt.Sprintf("sqs %s (%d msgs, duplicate)", p.src.QueueName, n), began, outcome)
	})
}

// DuplicatesDelivered is how many batches were delivered a second time (Config.Duplicates).
func (s *Stack) DuplicatesDelivered() int64 {
	if s.dups == nil {
		return 0
	}
	return s.dups.count.Load()
}

// InFlight is the number of invocations running now, of every function, plus the duplicate
// deliveries still waiting for their delay: zero, with empty queues, means the stack is idle.
func (s *Stack) InFlight() int {
	n := 0
	for _, f := range s.runners {
		n += len(f.sem)
	}
	if s.dups != nil {
		n += int(s.dups.pending.Load())
	}
	return n
}

// ErrInMemory is returned by StopDynamoDB when DynamoDB Local keeps its data in memory: a stop
// would lose it, which is not an outage AWS has.
var ErrInMemory = errors.New("DynamoDB Local runs in memory: set Config.DynamoDBPath to stop and restart it")

// StopDynamoDB stops the stack's DynamoDB Local (SIGTERM, then SIGKILL), as an outage would:
// every call fails with a refused connection until RestartDynamoDB. Its data is on disk
// (Config.DynamoDBPath) and survives, as DynamoDB's does.
func (s *Stack) StopDynamoDB() error {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.ddb == nil {
		return errors.New("the stack did not start DynamoDB Local")
	}
	if s.cfg.DynamoDBPath == "" {
		return ErrInMemory
	}
	return s.ddb.Stop()
}

// RestartDynamoDB starts DynamoDB Local again on the same port and data directory.
func (s *Stack) RestartDynamoDB(ctx context.Context) error {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.ddb == nil {
		return errors.New("the stack did not start DynamoDB Local")
	}
	old := s.ddb
	p, err := emulator.StartDynamoDB(ctx, emulator.DynamoDBOptions{
		Options: emulator.Options{RepoDir: s.repo, Port: old.Port, PortEnv: "DYNAMODB_PORT"},
		DBPath:  s.cfg.DynamoDBPath,
	})
	if err != nil {
		return fmt.Errorf("restart DynamoDB Local: %w", err)
	}
	s.ddb = p
	for i, e := range s.emus {
		if e == old {
			s.emus[i] = p
		}
	}
	return nil
}

// StopSQS makes SQS unreachable, as a stopped service is: connections are refused and the open
// ones dropped, until StartSQS. It needs Config.FaultProxies: the proxy is what stops, because
// fauxqs keeps its messages only in memory and a real stop would lose them (SQS never does).
func (s *Stack) StopSQS() error {
	if s.sqsProxy == nil {
		return errNoProxy
	}
	s.sqsProxy.cut()
	return nil
}

// StartSQS makes SQS reachable again after StopSQS.
func (s *Stack) StartSQS() error {
	if s.sqsProxy == nil {
		return errNoProxy
	}
	return s.sqsProxy.restore()
}

// PauseSQS freezes the SQS emulator (SIGSTOP on its process group): connections are accepted by
// the kernel and never answered, so every SQS call hangs until its timeout, as in a brownout.
// fauxqs keeps its queues only in memory, so a real stop would lose messages SQS never loses;
// a freeze is the outage SQS can have. ResumeSQS ends it.
func (s *Stack) PauseSQS() error { return s.signalSQS(syscall.SIGSTOP, true) }

// ResumeSQS lets the SQS emulator run again (SIGCONT).
func (s *Stack) ResumeSQS() error { return s.signalSQS(syscall.SIGCONT, false) }

func (s *Stack) signalSQS(sig syscall.Signal, paused bool) error {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.sqsProc == nil {
		return errors.New("the stack did not start the SQS emulator")
	}
	if err := syscall.Kill(-s.sqsProc.PID(), sig); err != nil {
		return fmt.Errorf("signal the SQS emulator: %w", err)
	}
	s.sqsPaused = paused
	return nil
}

// Busy lists the functions with an invocation running now, by logical id.
func (s *Stack) Busy() []string {
	var out []string
	for id, f := range s.runners {
		if len(f.sem) > 0 {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
