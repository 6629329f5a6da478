package fleet

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/certbench/certbench/bench/lease"
	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Agent is a bench on the fleet: it takes signed jobs for its fixtures
// from the broker, runs them through the runner as `bench run` would (the
// same leases), streams their progress and delivers every sealed record.
type Agent struct {
	Bench  *fixtures.Bench
	Broker Broker
	Prefix string // "": DefaultPrefix
	// Key signs the records (the bench key); Trusted are the controller
	// keys whose jobs the bench runs.
	Key     crypto.Signer
	Trusted []crypto.PublicKey
	// Software and Revision go in the records and the status.
	Software, Revision string
	TimeScale          float64
	// Dir holds the agent's state: the outbox, the jobs under way, the job
	// ids taken. "": .fleet beside the bench file.
	Dir string
	// Logf reports what the agent does; nil: nothing.
	Logf func(format string, args ...any)
	// Ready, when set, is called once the agent is connected and subscribed.
	Ready func()

	// queued and sent, in tests, hear of each run put in the outbox and of
	// each entry the broker has all of.
	queued func(run string)
	sent   func(e entry)

	topics Topics
	s      *session
	out    *outbox
	seen   *seen
	jobs   chan []byte
	events chan Event

	mu       sync.Mutex
	state    map[string]*FixtureStatus
	free     *sync.Cond
	statusCh chan struct{}
	keyID    string
	wg       sync.WaitGroup
	lock     *os.File // flock'd while the agent runs
}

// Run connects and serves jobs until ctx ends. Jobs under way are then
// stopped as `bench run` is on a signal (fixtures safe, records sealed as
// interrupted) and queued for delivery.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.init(); err != nil {
		return err
	}
	defer a.lock.Close()
	if err := a.recover(); err != nil {
		return err
	}
	offline := marshal(a.status(StateOffline))
	s, err := dial(ctx, a.Broker, a.Bench.ID, false, &will{topic: a.topics.Status(), payload: offline}, a.logf)
	if err != nil {
		return err
	}
	a.s = s
	defer s.close()
	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Go(func() { a.publishStatus(pubCtx) })
	bg.Go(func() { a.publishEvents(pubCtx) })
	bg.Go(func() { a.drain(pubCtx) })
	a.statusChanged()
	if err := s.subscribe(ctx, a.topics.Job(), func(_ mqtt.Client, m mqtt.Message) {
		// On paho's router: copy and hand over, never wait.
		b := slices.Clone(m.Payload())
		select {
		case a.jobs <- b:
		default:
			go a.refuse(&JobError{Kind: RefusedBusy, Err: errors.New("the agent has too many jobs waiting to be read")})
		}
	}); err != nil {
		stopPub()
		bg.Wait()
		return fmt.Errorf("subscribe %s: %w", a.topics.Job(), err)
	}
	a.logf("agent %s: connected to %s, jobs on %s", a.Bench.ID, a.Broker.URL, a.topics.Job())
	if a.Ready != nil {
		a.Ready()
	}
	for {
		select {
		case msg := <-a.jobs:
			a.take(ctx, msg)
			continue
		case <-ctx.Done():
		}
		break
	}
	a.wg.Wait() // jobs under way seal their records and queue them
	// A short grace to send what is queued; the rest goes at the next start.
	grace, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	a.flush(grace)
	cancel()
	stopPub()
	bg.Wait()
	t := s.client.Publish(a.topics.Status(), 1, true, offline)
	t.WaitTimeout(2 * time.Second)
	return nil
}

func (a *Agent) init() error {
	if a.Bench == nil || a.Key == nil {
		return errors.New("agent: no bench or no key")
	}
	a.topics = Topics{Prefix: cmpOr(a.Prefix, DefaultPrefix), Bench: a.Bench.ID}
	if err := checkPrefix(a.topics.Prefix); err != nil {
		return err
	}
	if a.Dir == "" {
		a.Dir = filepath.Join(filepath.Dir(a.Bench.Path), ".fleet")
	}
	for _, d := range []string{a.Dir, filepath.Join(a.Dir, "jobs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("agent state: %w", err)
		}
	}
	// One agent per bench: a second would share the client id, and the
	// broker would throw each off in turn.
	lock, err := os.OpenFile(filepath.Join(a.Dir, "agent.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("agent state: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(lock.Name())
		lock.Close()
		return fmt.Errorf("another agent serves bench %q (pid %s, %s): stop it first", a.Bench.ID, strings.TrimSpace(string(b)), lock.Name())
	}
	lock.Truncate(0)
	lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	a.lock = lock
	if a.out, err = openOutbox(filepath.Join(a.Dir, "outbox")); err != nil {
		return err
	}
	if a.seen, err = openSeen(filepath.Join(a.Dir, "jobs-taken.jsonl")); err != nil {
		return err
	}
	if a.keyID, err = results.KeyID(a.Key.Public()); err != nil {
		return err
	}
	a.jobs = make(chan []byte, 64)
	a.events = make(chan Event, 1024)
	a.statusCh = make(chan struct{}, 1)
	a.free = sync.NewCond(&a.mu)
	a.state = map[string]*FixtureStatus{}
	for _, f := range a.Bench.Fixtures {
		a.state[f.Name] = &FixtureStatus{Name: f.Name, State: FixtureIdle}
	}
	return nil
}

func (a *Agent) logf(format string, args ...any) {
	if a.Logf != nil {
		a.Logf(format, args...)
	}
}

func (a *Agent) status(state string) Status {
	st := Status{Version: Version, Bench: a.Bench.ID, State: state, Time: time.Now().UTC(), Software: a.Software, KeyID: a.keyID}
	a.mu.Lock()
	for _, f := range a.Bench.Fixtures {
		st.Fixtures = append(st.Fixtures, *a.state[f.Name])
	}
	a.mu.Unlock()
	return st
}

func (a *Agent) statusChanged() {
	select {
	case a.statusCh <- struct{}{}:
	default:
	}
}

// publishStatus publishes the newest status whenever it changed; changes
// that come while one is sent are folded into the next.
func (a *Agent) publishStatus(ctx context.Context) {
	for {
		select {
		case <-a.statusCh:
		case <-ctx.Done():
			return
		}
		if err := a.s.publish(ctx, a.topics.Status(), true, marshal(a.status(StateOnline))); err != nil && ctx.Err() == nil {
			a.logf("status: %v", err)
		}
	}
}

// publishEvents sends progress events. They are for people following a
// job: an event lost with the broker is not a lost result (the record
// says everything); the ones a controller waits for go through the outbox.
func (a *Agent) publishEvents(ctx context.Context) {
	for {
		select {
		case e := <-a.events:
			if err := a.s.publish(ctx, a.topics.Event(), false, marshal(e)); err != nil && ctx.Err() == nil {
				a.logf("event: %v", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

func (a *Agent) event(e Event) {
	e.Version, e.Bench = Version, a.Bench.ID
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	select {
	case a.events <- e:
	default: // a stalled broker must not stall the run
	}
}

// queueEvent sends e through the outbox: it reaches the broker whatever
// happens to the connection or the agent.
func (a *Agent) queueEvent(e Event) error {
	e.Version, e.Bench = Version, a.Bench.ID
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	return a.out.add(entry{Kind: entryMessage, Topic: a.topics.Event(), Payload: marshal(e), Job: e.Job})
}

func (a *Agent) refuse(err error) {
	var je *JobError
	if !errors.As(err, &je) {
		je = &JobError{Kind: RefusedMalformed, Err: err}
	}
	a.logf("agent %s: %v", a.Bench.ID, je)
	if qerr := a.queueEvent(Event{Job: je.ID, Kind: EventRefused, Reason: je.Kind + ": " + je.Err.Error()}); qerr != nil {
		a.logf("agent %s: %v", a.Bench.ID, qerr)
	}
}

// take checks a job message and starts it.
func (a *Agent) take(ctx context.Context, msg []byte) {
	now := time.Now()
	j, err := OpenJob(msg, a.Bench.ID, now, a.Trusted...)
	if err != nil {
		a.refuse(err)
		return
	}
	if err := a.check(j); err != nil {
		a.refuse(&JobError{Kind: RefusedInvalid, ID: j.ID, Err: err})
		return
	}
	// The id is taken (on disk) before anything runs: a copy of this
	// message, now or after a restart, is a replay.
	if fresh, err := a.seen.take(j.ID, j.Expires, now); err != nil {
		a.refuse(&JobError{Kind: RefusedMalformed, ID: j.ID, Err: err})
		return
	} else if !fresh {
		a.refuse(&JobError{Kind: RefusedReplayed, ID: j.ID, Err: errors.New("a job with this id was taken before: send a new job with a new id")})
		return
	}
	names := j.Fixtures
	if len(names) == 0 {
		for _, f := range a.Bench.Fixtures {
			names = append(names, f.Name)
		}
	}
	a.mu.Lock()
	for _, n := range names {
		if st := a.state[n]; st.Job != "" && j.Busy == BusyRefuse {
			a.mu.Unlock()
			a.refuse(&JobError{Kind: RefusedBusy, ID: j.ID, Err: fmt.Errorf("fixture %q runs job %s", n, st.Job)})
			return
		}
	}
	a.mu.Unlock()
	a.event(Event{Job: j.ID, Kind: EventAccepted})
	a.wg.Go(func() { a.run(ctx, j, names) })
}

// check refuses a job naming what the bench does not have.
func (a *Agent) check(j *Job) error {
	for _, n := range j.Fixtures {
		if _, err := a.Bench.Fixture(n); err != nil {
			return err
		}
	}
	_, err := suites.Select(j.Suites)
	return err
}

// journal is a job under way, on disk: at the next start, a journal left
// means the agent stopped during the job.
type journal struct {
	Job      Job               `json:"job"`
	Fixtures []string          `json:"fixtures"`
	Runs     map[string]string `json:"runs"` // fixture → run id begun
	PID      int               `json:"pid"`
}

func (a *Agent) journalPath(id string) string { return filepath.Join(a.Dir, "jobs", id+".json") }

func (a *Agent) writeJournal(jr *journal) error {
	b, _ := json.Marshal(jr)
	p := a.journalPath(jr.Job.ID)
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		return err
	}
	if f, err := os.Open(p + ".tmp"); err == nil {
		f.Sync()
		f.Close()
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

func (a *Agent) run(ctx context.Context, j *Job, names []string) {
	// Jobs of this agent queue for a fixture here; anyone else's hold
	// (a person's bench console, a bench run) shows as a lease.
	if !a.claim(ctx, j, names) {
		return
	}
	defer a.release(names)
	jr := &journal{Job: *j, Fixtures: names, Runs: map[string]string{}, PID: os.Getpid()}
	if err := a.writeJournal(jr); err != nil {
		a.refuse(&JobError{Kind: RefusedMalformed, ID: j.ID, Err: fmt.Errorf("write the job's journal: %w", err)})
		return
	}
	if !a.waitLeases(ctx, j, names) {
		os.Remove(a.journalPath(j.ID))
		return
	}
	sel, _ := suites.Select(j.Suites)
	var jmu sync.Mutex
	cfg := runner.Config{
		Bench: a.Bench, Fixtures: names, Suites: sel, Cases: j.Cases, Key: a.Key,
		Software: a.Software, Revision: a.Revision, TimeScale: a.TimeScale,
		Progress: func(e runner.Event) {
			a.mu.Lock()
			st := a.state[e.Fixture]
			switch e.Kind {
			case runner.EventRunStart:
				st.Run = e.Run
			case runner.EventCaseStart:
				st.Case = e.Case
			case runner.EventCaseEnd:
				st.Case = ""
			}
			a.mu.Unlock()
			a.statusChanged()
			if e.Kind == runner.EventRunStart {
				jmu.Lock()
				jr.Runs[e.Fixture] = e.Run
				if err := a.writeJournal(jr); err != nil {
					a.logf("job %s: journal: %v", j.ID, err)
				}
				jmu.Unlock()
			}
			a.event(Event{Job: j.ID, Time: e.Time.UTC(), Kind: e.Kind, Fixture: e.Fixture, Run: e.Run, Case: e.Case, Verdict: e.Verdict, Reason: e.Reason})
		},
	}
	outs, err := runner.Run(ctx, cfg)
	if err != nil {
		a.refuse(&JobError{Kind: RefusedInvalid, ID: j.ID, Err: err})
		os.Remove(a.journalPath(j.ID))
		return
	}
	var runs []string
	var reasons []string
	for _, o := range outs {
		if o.Err != nil {
			reasons = append(reasons, o.Err.Error())
		}
		if o.RunID == "" || o.Record == nil {
			continue
		}
		runs = append(runs, o.RunID)
		if err := a.out.add(entry{Kind: entryRun, Job: j.ID, Run: o.RunID}); err != nil {
			a.logf("job %s: %v", j.ID, err)
		} else if a.queued != nil {
			a.queued(o.RunID)
		}
	}
	done := Event{Job: j.ID, Kind: EventDone, Runs: runs, Verdict: verdictOf(outs), Reason: strings.Join(reasons, "; ")}
	if err := a.queueEvent(done); err != nil {
		a.logf("job %s: %v", j.ID, err)
	}
	os.Remove(a.journalPath(j.ID))
}

func verdictOf(outs []runner.Outcome) results.Verdict {
	var cases []results.Case
	for _, o := range outs {
		cases = append(cases, results.Case{Verdict: o.Verdict()})
	}
	return results.RunVerdict(cases)
}

// claim marks names as the job's, waiting for jobs of this agent that hold
// them when the job says wait. false: the job ended (refused or expired).
func (a *Agent) claim(ctx context.Context, j *Job, names []string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	waited := false
	stop := context.AfterFunc(ctx, func() { a.mu.Lock(); a.free.Broadcast(); a.mu.Unlock() })
	defer stop()
	timer := time.AfterFunc(time.Until(j.Expires), func() { a.mu.Lock(); a.free.Broadcast(); a.mu.Unlock() })
	defer timer.Stop()
	for {
		var holder string
		for _, n := range names {
			if st := a.state[n]; st.Job != "" {
				holder = fmt.Sprintf("fixture %q runs job %s", n, st.Job)
			}
		}
		if holder == "" {
			break
		}
		if j.Busy == BusyRefuse || ctx.Err() != nil || !time.Now().Before(j.Expires) {
			a.mu.Unlock()
			kind := RefusedBusy
			switch {
			case ctx.Err() != nil:
				holder = "the agent stopped before the fixture was free: " + holder
			case j.Busy == BusyWait:
				kind = RefusedExpired
				holder = "it expired waiting: " + holder
			}
			a.refuse(&JobError{Kind: kind, ID: j.ID, Err: errors.New(holder)})
			a.mu.Lock()
			return false
		}
		if !waited {
			waited = true
			a.event(Event{Job: j.ID, Kind: EventWaiting, Reason: holder})
		}
		a.free.Wait()
	}
	for _, n := range names {
		st := a.state[n]
		st.State, st.Job, st.Run, st.Case = FixtureRunning, j.ID, "", ""
	}
	a.statusChanged()
	return true
}

func (a *Agent) release(names []string) {
	a.mu.Lock()
	for _, n := range names {
		*a.state[n] = FixtureStatus{Name: n, State: FixtureIdle}
	}
	a.free.Broadcast()
	a.mu.Unlock()
	a.statusChanged()
}

// waitLeases waits while someone outside the agent holds a fixture (busy:
// wait), or refuses the job (busy: refuse). The runner takes the leases
// itself; this only looks.
func (a *Agent) waitLeases(ctx context.Context, j *Job, names []string) bool {
	dir := runner.Leases(a.Bench)
	waited := false
	for {
		var held *lease.HeldError
		for _, n := range names {
			l, err := dir.Acquire(ctx, n, "bench agent (looking)")
			if err == nil {
				l.Release()
				continue
			}
			if errors.As(err, &held) {
				break
			}
			a.refuse(&JobError{Kind: RefusedBusy, ID: j.ID, Err: err})
			return false
		}
		if held == nil {
			return true
		}
		if j.Busy == BusyRefuse || !time.Now().Before(j.Expires) {
			a.refuse(&JobError{Kind: RefusedBusy, ID: j.ID, Err: held})
			return false
		}
		if !waited {
			waited = true
			a.mu.Lock()
			for _, n := range names {
				a.state[n].State = FixtureWaiting
			}
			a.mu.Unlock()
			a.statusChanged()
			a.event(Event{Job: j.ID, Kind: EventWaiting, Reason: held.Error()})
		}
		select {
		case <-ctx.Done():
			a.refuse(&JobError{Kind: RefusedBusy, ID: j.ID, Err: fmt.Errorf("the agent stopped before the fixture was free: %w", held)})
			return false
		case <-time.After(time.Second): // a lease file has no way to say it is gone
		}
	}
}

// recover finds the jobs a previous agent left under way: it was killed
// or the machine lost power. Their fixtures go to their safe level, their
// runs are closed as abandoned (results.Archive.CloseAbandoned) and
// delivered, and the job is reported interrupted.
func (a *Agent) recover() error {
	files, _ := filepath.Glob(filepath.Join(a.Dir, "jobs", "*.json"))
	if len(files) == 0 {
		return nil
	}
	arch, err := results.OpenArchive(a.Bench.Archive)
	if err != nil {
		return fmt.Errorf("open archive %s: %w", a.Bench.Archive, err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		var jr journal
		if err == nil {
			err = json.Unmarshal(b, &jr)
		}
		if err != nil {
			a.logf("agent: job journal %s: %v (removed)", p, err)
			os.Remove(p)
			continue
		}
		var notes []string
		for _, n := range jr.Fixtures {
			f, err := a.Bench.Fixture(n)
			if err != nil {
				continue
			}
			sw, err := runner.Switch(f, power.NewLog(io.Discard, time.Now()))
			if err == nil {
				err = sw.SafeState()
			}
			if err != nil {
				notes = append(notes, fmt.Sprintf("fixture %q could not be put at its safe level: %v", n, err))
			} else {
				notes = append(notes, fmt.Sprintf("fixture %q put at its safe level", n))
			}
		}
		reason := fmt.Sprintf("interrupted: the agent (pid %d) stopped during job %s", jr.PID, jr.Job.ID)
		var runs []string
		for _, n := range jr.Fixtures {
			id := jr.Runs[n]
			if id == "" {
				continue
			}
			if _, err := arch.CloseAbandoned(id, a.Key, reason); err != nil && !errors.Is(err, results.ErrNotAbandoned) {
				notes = append(notes, fmt.Sprintf("run %s: %v", id, err))
				continue
			}
			if _, err := results.LoadRecord(filepath.Join(arch.Dir(), "runs", id)); err == nil {
				runs = append(runs, id)
				if err := a.out.add(entry{Kind: entryRun, Job: jr.Job.ID, Run: id}); err != nil {
					return err
				}
			}
		}
		if err := a.queueEvent(Event{Job: jr.Job.ID, Kind: EventInterrupted, Runs: runs, Verdict: results.NotRun, Reason: reason + "; " + strings.Join(notes, "; ")}); err != nil {
			return err
		}
		a.logf("agent: %s", reason)
		os.Remove(p)
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
