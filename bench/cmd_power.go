package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures"
	"github.com/spf13/cobra"
)

func init() {
	var cfg, events string
	cmd := &cobra.Command{
		Use:   "power on|off|cycle FIXTURE",
		Short: "Switch a fixture's power by hand",
		Long: `Switch a fixture's power on, off, or off and on again (honouring its minimum
off-time). On success the fixture stays as switched; on an error, or on a
signal (Ctrl-C, the terminal closing, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, ...),
it goes to its declared safe level.

Each step is printed as it starts and as it ends (a PDU command may take a
while), and recorded in an event file: JSON Lines in the power-event format,
beside the bench file unless --events names one; an existing file is never
overwritten.

With a status command (power.command.status) the state is read first: a
fixture already as asked is not switched, and on does not wait min_off; each
switch is read back. Without one, a command that exits 0 is assumed to have
switched, and a new process does not know how long the fixture has been off,
so on waits the whole min_off.`,
		Example:   "  bench power cycle -c bench.yaml cam-1\n  bench power on -c bench.yaml cam-1 --events /tmp/cam-1-power.jsonl",
		Args:      cobra.ExactArgs(2),
		ValidArgs: []string{"on", "off", "cycle"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return powerCommand(cmd.Context(), cmd.OutOrStdout(), cfg, args[0], args[1], events)
		},
	}
	configFlag(cmd, &cfg)
	cmd.Flags().StringVar(&events, "events", "", "event file (default power-FIXTURE-TIME.jsonl in the bench file's folder)")
	root.AddCommand(cmd)
}

func powerCommand(ctx context.Context, out io.Writer, cfgPath, action, name, events string) (err error) {
	var do func(power.Switch, context.Context) error
	switch action {
	case "on":
		do = power.Switch.On
	case "off":
		do = power.Switch.Off
	case "cycle":
		do = power.Switch.Cycle
	default:
		return usageError(fmt.Errorf("unknown action %q: write on, off or cycle", action))
	}
	b, f, err := loadFixture(cfgPath, name)
	if err != nil {
		return err
	}
	l, err := runner.Leases(b).Share(ctx, f.Name, "bench power "+action)
	if err != nil {
		return &exitError{code: exitIncomplete, err: err}
	}
	defer l.Release()
	if events == "" {
		// Milliseconds: `bench power off; bench power on` in one second
		// must not collide.
		events = filepath.Join(filepath.Dir(b.Path), fmt.Sprintf("power-%s-%s.jsonl", f.Name, time.Now().UTC().Format("20060102T150405.000Z")))
	}
	// O_EXCL: an earlier session's events are evidence; never overwrite them.
	ef, err := os.OpenFile(events, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return usageError(fmt.Errorf("create event file: %w (name another file with --events)", err))
	}
	log := power.NewLog(ef, time.Now())
	sw, err := newSwitch(f, log)
	if err != nil {
		// Nothing was switched: leave no empty file behind to collide
		// with the next try's --events.
		ef.Close()
		os.Remove(events)
		return &exitError{code: exitIncomplete, err: err}
	}
	steps := newStepPrinter(out)
	log.Watch(steps.watch)
	defer func() {
		steps.close()
		if cerr := ef.Sync(); cerr != nil && err == nil {
			err = &exitError{code: exitIncomplete, err: fmt.Errorf("save event file %s: %w", events, cerr)}
		}
		ef.Close()
		if werr := log.Err(); werr != nil && err == nil {
			err = &exitError{code: exitIncomplete, err: fmt.Errorf("%s: %w", events, werr)}
		}
		abs, _ := filepath.Abs(events)
		fmt.Fprintf(out, "events: %s\n", abs)
	}()

	// Success leaves the fixture as the user asked; anything else leaves it safe.
	var safety power.Safety
	safety.Register(fmt.Sprintf("fixture %q power", f.Name), sw)
	ctx, stop := safety.NotifyContext(ctx) // power.Signals
	doErr := func() error {
		defer func() {
			if r := recover(); r != nil {
				safety.SafeAll()
				panic(r)
			}
		}()
		return do(sw, ctx)
	}()
	// A signal's handler has driven the fixture safe already; stop waits
	// for it.
	sigSafeErr := stop()
	var sig *power.SignalError
	if errors.As(context.Cause(ctx), &sig) {
		return interrupted(action, f, sig, sigSafeErr)
	}
	if doErr != nil {
		// Names the action, fixture and switch already.
		return &exitError{code: exitIncomplete, err: errors.Join(doErr, safety.SafeAll())}
	}
	return nil
}

// interrupted is the error for a signal that stopped action: once, with
// what the fixture was left at, and the exit status a shell gives a
// process the signal ended (128+n), so a script can tell.
func interrupted(action string, f *fixtures.Fixture, sig *power.SignalError, safeErr error) error {
	code := exitIncomplete
	if n, ok := sig.Signal.(syscall.Signal); ok {
		code = 128 + int(n)
	}
	safe := "off"
	if f.Power.SafeOn {
		safe = "on"
	}
	if safeErr != nil {
		return &exitError{code: code, err: fmt.Errorf("power %s of fixture %q interrupted by signal %s; going to its safe level (%s) failed, it may still be powered: %w", action, f.Name, sig.Signal, safe, safeErr)}
	}
	return &exitError{code: code, err: fmt.Errorf("power %s of fixture %q interrupted by signal %s: fixture left at its safe level (%s)", action, f.Name, sig.Signal, safe)}
}

// stepPrinter prints power steps as they start and end. The Log calls
// watch with its lock held, so watch only queues; a goroutine writes, and
// a stalled terminal never holds up switching or the safe state.
type stepPrinter struct {
	w    io.Writer
	mu   sync.Mutex
	cond *sync.Cond
	q    []string
	shut bool
	done chan struct{}
}

func newStepPrinter(w io.Writer) *stepPrinter {
	p := &stepPrinter{w: w, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go p.run()
	return p
}

func (p *stepPrinter) watch(e power.Event, begun bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.q = append(p.q, formatStep(e, begun))
	p.cond.Signal()
}

func (p *stepPrinter) run() {
	defer close(p.done)
	for {
		p.mu.Lock()
		for len(p.q) == 0 && !p.shut {
			p.cond.Wait()
		}
		q := p.q
		p.q = nil
		shut := p.shut
		p.mu.Unlock()
		for _, s := range q {
			io.WriteString(p.w, s) // a closed terminal is no reason to stop
		}
		if shut && len(q) == 0 {
			return
		}
	}
}

// close prints what is queued and stops.
func (p *stepPrinter) close() {
	p.mu.Lock()
	p.shut = true
	p.cond.Signal()
	p.mu.Unlock()
	<-p.done
}

// formatStep renders one step for a person:
//
//	   0s  command    off     started  ["pdu" "off"]
//	1.204s command    off     done     state=off (took 1.204s) ["pdu" "off"]; ...
//	1.204s command    wait    waiting min_off: 1s (state unknown: ...)
func formatStep(e power.Event, begun bool) string {
	var b strings.Builder
	at := e.Mono
	if begun {
		at = e.Start
	}
	fmt.Fprintf(&b, "%10s  %-10s %-7s", at.Round(time.Millisecond), e.Switch, e.Action)
	switch {
	case begun:
		b.WriteString(" started")
	case e.Action == power.ActionWait:
		b.WriteString(" waiting min_off:")
	case e.Err != "":
		b.WriteString(" failed")
	case e.State == power.StateUnknown:
		b.WriteString(" interrupted")
	case !e.StartWall.IsZero():
		b.WriteString(" done")
	}
	if e.State != "" && !begun {
		fmt.Fprintf(&b, " state=%s", e.State)
	}
	if e.Level != "" {
		fmt.Fprintf(&b, " level=%s", e.Level)
	}
	if !begun && !e.StartWall.IsZero() {
		if d := e.Mono - e.Start; d >= time.Millisecond {
			fmt.Fprintf(&b, " (took %s)", d.Round(time.Millisecond))
		}
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " %s", e.Detail)
	}
	if e.Err != "" {
		fmt.Fprintf(&b, " error: %s", e.Err)
	}
	b.WriteString("\n")
	for _, x := range []struct{ name, text string }{{"output", e.Output}, {"status", e.StatusOutput}} {
		if t := strings.TrimRight(x.text, "\r\n"); t != "" && !begun {
			fmt.Fprintf(&b, "            %s: %s\n", x.name, strings.ReplaceAll(t, "\n", "\n                    "))
		}
	}
	return b.String()
}
