package runner

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/certbench/certbench/bench/lease"
	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/fixtures/procedure"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites/suite"
)

// Config is one run of selected suites on selected fixtures of a bench.
type Config struct {
	Bench *fixtures.Bench
	// Fixtures names the fixtures to run on; empty: all of them.
	Fixtures []string
	// Suites are the suites to run, in order; Cases, when not empty, keeps
	// only the cases whose full id ("SUITE/ID") it lists.
	Suites []*suite.Suite
	Cases  []string
	// Archive is the folder records go to; empty: the bench file's.
	Archive string
	// Key signs the records.
	Key crypto.Signer
	// Software and Revision are the bench's version and VCS revision
	// (bench/buildinfo), for the records.
	Software, Revision string
	// TimeScale scales the device's time in procedures (fixtures/procedure):
	// 1 (or 0) on real hardware; a simulated lab's own scale otherwise.
	TimeScale float64
	// Leases is where fixtures are leased; nil: Leases(Bench), which every
	// user of the bench shares.
	Leases *lease.Dir
	// Progress receives the run's events as they happen; nil drops them.
	// It is called from the fixtures' goroutines, one event at a time.
	Progress func(Event)
}

// Outcome is what happened on one fixture.
type Outcome struct {
	Fixture string
	RunID   string          // "" when no run was begun (the fixture was not touched)
	Record  *results.Record // the sealed record; nil when none was sealed
	Err     error           // why the fixture's run could not complete or be sealed
}

// Verdict is the fixture's run verdict: the record's, or ERROR without one.
func (o Outcome) Verdict() results.Verdict {
	if o.Record == nil {
		return results.Error
	}
	return o.Record.Verdict
}

// ExitCode folds outcomes into `bench run`'s exit code (README): 1 if any
// case failed, else 3 if anything is not PASS or NOT_APPLICABLE or a record
// is missing, else 0.
func ExitCode(outs []Outcome) int {
	code := 0
	for _, o := range outs {
		switch c := results.ExitCode(o.Verdict()); {
		case c == 1:
			return 1
		case c > code:
			code = c
		}
		if o.Err != nil && code < 3 {
			code = 3
		}
	}
	return code
}

// Run runs the suites on every selected fixture, in parallel, each fixture's
// cases in order, and seals one record per fixture in the archive. It
// returns when every fixture is done and left at its safe level. A
// cancelled ctx (a signal) ends the cases in flight as NOT_RUN; the records
// say the run was interrupted and are sealed all the same.
func Run(ctx context.Context, cfg Config) ([]Outcome, error) {
	fs, err := selectFixtures(cfg.Bench, cfg.Fixtures)
	if err != nil {
		return nil, err
	}
	for _, st := range cfg.Suites {
		if err := st.Validate(); err != nil {
			return nil, fmt.Errorf("suite %s: %w", st.Name, err)
		}
	}
	if err := checkCases(cfg.Suites, cfg.Cases); err != nil {
		return nil, err
	}
	if cfg.Key == nil {
		return nil, errors.New("no signing key: records cannot be sealed")
	}
	dir := cfg.Archive
	if dir == "" {
		dir = cfg.Bench.Archive
	}
	a, err := results.OpenArchive(dir)
	if err != nil {
		return nil, fmt.Errorf("open archive %s: %w", dir, err)
	}
	if cfg.Leases == nil {
		cfg.Leases = Leases(cfg.Bench)
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1
	}
	var mu sync.Mutex
	emit := func(e Event) {
		if cfg.Progress == nil {
			return
		}
		e.Time = time.Now()
		mu.Lock()
		defer mu.Unlock()
		cfg.Progress(e)
	}
	outs := make([]Outcome, len(fs))
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Go(func() {
			fr := &fixtureRun{cfg: &cfg, archive: a, f: f, emit: emit}
			outs[i] = fr.run(ctx)
		})
	}
	wg.Wait()
	return outs, nil
}

// Leases is the bench's lease folder: .leases beside the bench file, so
// everyone who drives this bench (a run, bench power, bench console, an
// agent) meets in one place whatever archive they write to.
func Leases(b *fixtures.Bench) *lease.Dir {
	return &lease.Dir{Path: filepath.Join(filepath.Dir(b.Path), ".leases")}
}

func selectFixtures(b *fixtures.Bench, names []string) ([]*fixtures.Fixture, error) {
	if len(names) == 0 {
		return b.Fixtures, nil
	}
	var out []*fixtures.Fixture
	for _, n := range names {
		f, err := b.Fixture(n)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

func checkCases(suites []*suite.Suite, ids []string) error {
	for _, id := range ids {
		found := false
		for _, st := range suites {
			for _, c := range st.Cases {
				found = found || st.FullID(c) == id
			}
		}
		if !found {
			return fmt.Errorf("no case %q in the suites selected: `bench suites` lists them as SUITE/CASE", id)
		}
	}
	return nil
}

// fixtureRun is one fixture's part of a run.
type fixtureRun struct {
	cfg     *Config
	archive *results.Archive
	f       *fixtures.Fixture
	emit    func(Event)

	ar      *results.Run // the run in the archive, its evidence folder
	epoch   time.Time
	writers []io.Closer
	safe    []power.Safer
	con     *console.Console
}

func (r *fixtureRun) run(ctx context.Context) (out Outcome) {
	out.Fixture = r.f.Name
	l, err := r.cfg.Leases.Acquire(ctx, r.f.Name, "bench run")
	if err != nil {
		out.Err = err
		r.emit(Event{Fixture: r.f.Name, Kind: EventError, Reason: err.Error()})
		return out
	}
	defer l.Release()
	r.epoch = time.Now()
	r.ar, err = r.archive.Begin(results.Meta{Bench: r.cfg.Bench.ID, Fixture: r.f.Name, Epoch: r.epoch})
	if err != nil {
		out.Err = fmt.Errorf("fixture %q: begin run: %w", r.f.Name, err)
		r.emit(Event{Fixture: r.f.Name, Kind: EventError, Reason: out.Err.Error()})
		return out
	}
	out.RunID = r.ar.ID()
	r.emit(Event{Fixture: r.f.Name, Kind: EventRunStart, Run: out.RunID})

	rec := r.record(l)
	// Whatever happens below (an error, a panic in a case or in the
	// bench), the fixture goes to its safe level and the record is sealed
	// with what is known: a result is never lost.
	defer func() {
		if p := recover(); p != nil {
			rec.Reason = fmt.Sprintf("bench fault: panic: %v", p)
			rec.Cases = notRun(rec.Cases, r.cfg.Suites, r.cfg.Cases, "the bench failed before this case ran: "+rec.Reason)
		}
		if err := r.finish(rec); err != nil {
			out.Err = err
		}
		if out.Err == nil {
			out.Record = rec
		}
		r.emit(Event{Fixture: r.f.Name, Kind: EventRunEnd, Run: out.RunID, Verdict: rec.Verdict, Reason: rec.Reason})
	}()

	sess, strat, err := r.wire(ctx, rec)
	if err == nil {
		err = r.identify(ctx, strat, strat.Procs, rec.Device.Serial, rec)
	}
	if err != nil {
		rec.Reason = err.Error()
		rec.Cases = notRun(rec.Cases, r.cfg.Suites, r.cfg.Cases, "")
		if ctx.Err() == nil {
			rec.Cases = errored(rec.Cases, "the run could not start: "+err.Error())
		} else {
			rec.Reason = "interrupted: " + context.Cause(ctx).Error()
		}
		return out
	}
	for _, st := range r.cfg.Suites {
		for _, c := range st.Cases {
			if len(r.cfg.Cases) > 0 && !slices.Contains(r.cfg.Cases, st.FullID(c)) {
				continue
			}
			rc := r.runCase(ctx, st, c, sess(), strat)
			rec.Cases = append(rec.Cases, rc)
		}
	}
	if ctx.Err() != nil {
		rec.Reason = "interrupted: " + context.Cause(ctx).Error()
	}
	return out
}

func (r *fixtureRun) runCase(ctx context.Context, st *suite.Suite, c *suite.Case, s *suite.Session, strat *Strategy) results.Case {
	id := st.FullID(c)
	r.emit(Event{Fixture: r.f.Name, Kind: EventCaseStart, Case: id})
	var rc results.Case
	if v, reason, decided := suite.Decided(ctx, c, s); decided {
		rc = results.Case{ID: id, Suite: st.Name, Title: c.Title, References: c.References, Verdict: v, Reason: reason}
	} else if err := strat.Reach(ctx, c.Start); err != nil {
		v, reason := results.Error, "the case could not start: "+err.Error()
		if ctx.Err() != nil {
			v, reason = results.NotRun, "cancelled before the case started"
		}
		rc = results.Case{ID: id, Suite: st.Name, Title: c.Title, References: c.References, Verdict: v, Reason: reason}
	} else {
		if r.con != nil {
			r.con.Note("case " + id + " starts")
		}
		rc = suite.Execute(ctx, st, c, s, r.epoch)
		// A case may leave the device anywhere; the next one starts from a
		// state the strategy reaches afresh.
		strat.Forget()
	}
	r.emit(Event{Fixture: r.f.Name, Kind: EventCaseEnd, Case: id, Verdict: rc.Verdict, Reason: rc.Reason})
	return rc
}

// record starts the fixture's record with what is known before anything is
// touched.
func (r *fixtureRun) record(l *lease.Lease) *results.Record {
	host, _ := os.Hostname()
	rec := &results.Record{
		Bench:   results.Bench{Name: r.cfg.Bench.ID, Host: host, Software: r.cfg.Software, Revision: r.cfg.Revision},
		Fixture: results.Fixture{Name: r.f.Name},
		Device:  results.Device{Model: "unknown"},
	}
	if p := r.f.Profile; p != nil {
		rec.Fixture.Profile = filepath.Base(p.Path)
		rec.Device.Model = p.Model
	}
	if d := r.f.Declarations; d != nil {
		rec.Declarations = results.Declarations{Name: filepath.Base(d.Path), SHA256: d.SHA256}
	}
	if l.TookOver != nil {
		rec.Reason = fmt.Sprintf("the fixture's lease was taken over from %s, which did not release it: the device may have been left in any state", l.TookOver)
	}
	return rec
}

// wire opens the fixture's drivers into the run's evidence and returns a
// maker of fresh sessions and the strategy.
func (r *fixtureRun) wire(ctx context.Context, rec *results.Record) (func() *suite.Session, *Strategy, error) {
	f := r.f
	label, err := f.ReadLabel(ctx)
	if err != nil {
		return nil, nil, err
	}
	if label.Serial != "" {
		rec.Device.Serial = label.Serial
	}
	prompts, err := Prompts(f.Profile)
	if err != nil {
		return nil, nil, err
	}
	// The console first, so that every power event from the first switch
	// to the safe level on is in its timeline too, and a power cut marks
	// it (console.PowerTimeline): a prompt printed before the cut never
	// answers a wait after it.
	tw, err := r.ar.Evidence("console-"+f.Name+".jsonl", results.KindTranscript)
	if err != nil {
		return nil, nil, err
	}
	r.writers = append(r.writers, tw)
	r.con, err = console.Open(ctx, console.Config{
		Name:           f.Name,
		Port:           ConsolePort(f),
		Transcript:     tw,
		Epoch:          r.epoch,
		CharDelay:      f.Console.CharDelay,
		Newline:        f.Profile.Newline,
		Prompts:        prompts,
		Settle:         loginSettle(f.Profile),
		RequireEchoOff: f.Profile.RequireEchoOff,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open the console of fixture %q: %w", f.Name, err)
	}
	rec.Fixture.Parts = append(rec.Fixture.Parts, consolePart(f, r.con.Identity()))
	pw, err := r.ar.Evidence("power-"+f.Name+".jsonl", results.KindPower)
	if err != nil {
		return nil, nil, err
	}
	r.writers = append(r.writers, pw)
	plog := power.NewLog(io.MultiWriter(pw, console.PowerTimeline(r.con)), r.epoch)
	// The timeline marks the console when power is cut, but bytes the unit
	// wrote just before the cut can still be on their way (the adapter, the
	// kernel's buffer, a reader behind on a loaded bench) and land after
	// that mark. A unit that is off prints nothing, so whatever came before
	// power comes back is the last boot's: mark again as the relay closes.
	markAtPowerOn(plog, r.con)
	sw, err := Switch(f, plog)
	if err != nil {
		return nil, nil, err
	}
	r.safe = append(r.safe, sw)
	rec.Fixture.Parts = append(rec.Fixture.Parts, powerPart(f, sw))
	var btn suite.Button
	var procBtn procedure.Button
	if b, err := Button(f, plog); err != nil {
		return nil, nil, err
	} else if b != nil {
		r.safe = append(r.safe, b)
		btn, procBtn = b, b
		rec.Fixture.Parts = append(rec.Fixture.Parts, buttonPart(f, b))
	}
	rec.Fixture.Simulated = simulated(rec.Fixture.Parts)
	if err := sw.SafeState(); err != nil { // a known start: the device is at its safe level
		return nil, nil, err
	}
	procs, err := procedure.New(f.Profile, r.con, label, procedure.WithPower(sw), procedure.WithButton(procBtn), procedure.WithTimeScale(r.cfg.TimeScale))
	if err != nil {
		return nil, nil, err
	}
	strat := &Strategy{
		Power:       sw,
		Console:     r.con,
		Procs:       procs,
		Login:       prompts.Login,
		BootTimeout: bootTimeout(f.Profile, procs),
		Credentials: credentials(f, label),
	}
	if !f.Profile.Prompts.Autoboot.IsZero() {
		strat.Autoboot, _ = Pattern(f.Profile.Prompts.Autoboot)
	}
	sess := func() *suite.Session {
		s := &suite.Session{
			Fixture: f, Profile: f.Profile, Declarations: f.Declarations, Label: label,
			Console: r.con, Power: sw, Procedures: procs, Evidence: r.ar,
		}
		if btn != nil {
			s.Button = btn
		}
		return s
	}
	return sess, strat, nil
}

// bootTimeout is the login procedure's first wait (a profile writes there
// how long a boot may take), else the profile's default timeout; scaled as
// procedures scale it.
func bootTimeout(p *fixtures.Profile, procs *procedure.Runner) time.Duration {
	d := p.Timeout
	if p.Login != nil && len(p.Login.Steps) > 0 && p.Login.Steps[0].Kind == fixtures.Expect {
		d = p.Login.Steps[0].Timeout
	}
	return procs.Timeout(d)
}

// markAtPowerOn marks con as each switch on begins (see wire).
func markAtPowerOn(log *power.Log, con marker) {
	log.Watch(func(e power.Event, begun bool) {
		if begun && e.Action == power.ActionOn {
			con.Mark("power on (" + e.Switch + "): what came before is the last boot's")
		}
	})
}

// loginSettle is the settle time of the login procedure's last expect (the
// one that tells a shell from a refusal from a lockout), for the console's
// own Login.
func loginSettle(p *fixtures.Profile) time.Duration {
	if p.Login == nil {
		return 0
	}
	for i := len(p.Login.Steps) - 1; i >= 0; i-- {
		if st := p.Login.Steps[i]; st.Kind == fixtures.Expect {
			return st.Settle
		}
	}
	return 0
}

// credentials are the login procedure's arguments for the shell state: the
// first account of a password mechanism that guards the UART with
// pre-installed unique passwords, and the label's password.
func credentials(f *fixtures.Fixture, label fixtures.Label) map[string]string {
	if f.Profile.Login == nil || label.Password == "" || f.Declarations == nil {
		return nil
	}
	for _, a := range f.Declarations.Auth {
		if (a.Kind == "" || a.Kind == "password") && slices.Contains(a.Interfaces, "uart") && len(a.Users) > 0 {
			return map[string]string{"user": a.Users[0], "password": label.Password}
		}
	}
	return nil
}

// finish leaves the fixture safe, closes the evidence and seals the record.
func (r *fixtureRun) finish(rec *results.Record) error {
	var errs []error
	if r.con != nil {
		if err := r.con.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range r.safe {
		if err := s.SafeState(); err != nil {
			errs = append(errs, fmt.Errorf("fixture %q: leave safe: %w", r.f.Name, err))
		}
	}
	for _, w := range r.writers {
		if err := w.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 && rec.Reason == "" {
		rec.Reason = "bench fault at the end of the run: " + errors.Join(errs...).Error()
	}
	if len(rec.Cases) == 0 {
		rec.Cases = notRun(nil, r.cfg.Suites, r.cfg.Cases, rec.Reason)
	}
	if err := r.ar.Seal(rec, r.cfg.Key); err != nil {
		return fmt.Errorf("fixture %q: seal: %w", r.f.Name, errors.Join(append(errs, err)...))
	}
	return errors.Join(errs...)
}

// notRun adds a NOT_RUN case for every selected case not in cases yet.
func notRun(cases []results.Case, suites []*suite.Suite, only []string, reason string) []results.Case {
	have := map[string]bool{}
	for _, c := range cases {
		have[c.ID] = true
	}
	for _, st := range suites {
		for _, c := range st.Cases {
			id := st.FullID(c)
			if have[id] || len(only) > 0 && !slices.Contains(only, id) {
				continue
			}
			cases = append(cases, results.Case{ID: id, Suite: st.Name, Title: c.Title, References: c.References, Verdict: results.NotRun, Reason: reason})
		}
	}
	return cases
}

// errored makes every NOT_RUN case ERROR with reason: the run could not
// begin for a bench fault, which is what each case must say.
func errored(cases []results.Case, reason string) []results.Case {
	for i := range cases {
		if cases[i].Verdict == results.NotRun {
			cases[i].Verdict, cases[i].Reason = results.Error, reason
		}
	}
	return cases
}
