package power

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Patterns that read a status command's output when none are configured: a
// line that says just on, or off, in any case, spaces around allowed.
var (
	DefaultStatusOn  = regexp.MustCompile(`(?im)^\s*on\s*$`)
	DefaultStatusOff = regexp.MustCompile(`(?im)^\s*off\s*$`)
)

// statusPoll is the pause between reads of the state while a switch is not
// yet confirmed.
const statusPoll = 500 * time.Millisecond

// DefaultCommandTimeout bounds each command of a Command switch unless
// configured.
const DefaultCommandTimeout = 30 * time.Second

// CommandConfig describes a switch worked by external programs: a PDU's
// command-line client, a pdudaemon client, uhubctl. Each command is an argv
// run without a shell.
type CommandConfig struct {
	// Name names the switch in errors, e.g. `fixture "cam-2"`, which then
	// read "power on fixture "cam-2": command [...]: exit status 3: ...";
	// "" leaves it out ("power on: command [...]: ..."), since the command
	// names itself. Events name the switch "command", as the power-event
	// format says, with the argv run as their detail.
	Name string
	// On and Off are required. Cycle is optional: without it, Cycle is Off,
	// the minimum off-time, On.
	On, Off, Cycle []string
	// Status, optional, reads the state back (uhubctl without -a, a vendor
	// script's "status"). It runs like the others, and must exit 0 with a
	// standard output that matches exactly one of StatusOn and StatusOff;
	// anything else is a failed read (a bench fault), never a guess. With
	// it, a switch whose state is unknown (a new process) reads it first:
	// already as wanted, nothing is switched and On does not wait the
	// minimum off-time; and after each switch it reads the state back until
	// it agrees, for at most Timeout (a PDU daemon may queue the request).
	// A command that fails (exit status > 0) while the state reads as
	// wanted ("already on", exit 1) is taken as done, noted in the event.
	Status []string
	// StatusOn and StatusOff are matched against the status command's
	// standard output; nil means DefaultStatusOn and DefaultStatusOff.
	StatusOn, StatusOff *regexp.Regexp
	// Timeout bounds each command; 0 means DefaultCommandTimeout.
	Timeout time.Duration
	// MinOff is the shortest time power stays off before it comes back.
	MinOff time.Duration
	// SafeOn makes "on" the safe state; normally false.
	SafeOn bool
	// Log receives the switch's events; nil keeps them in a Log of the
	// switch's own (see Command.Log).
	Log *Log
}

// Command is a switch worked by external commands.
type Command struct {
	c       *core
	on, off []string
	cycle   []string
	status  []string
	isOn    *regexp.Regexp
	isOff   *regexp.Regexp
	timeout time.Duration
}

var _ Switch = (*Command)(nil)

// NewCommand checks cfg (the commands must be found on $PATH or by path) and
// returns the switch. It runs nothing.
func NewCommand(cfg CommandConfig) (*Command, error) {
	name := cfg.Name
	for _, a := range []struct {
		field    string
		argv     []string
		optional bool
	}{{"on", cfg.On, false}, {"off", cfg.Off, false}, {"cycle", cfg.Cycle, true}, {"status", cfg.Status, true}} {
		if len(a.argv) == 0 {
			if a.optional {
				continue
			}
			return nil, configError(name, "no %s command configured", a.field)
		}
		if _, err := exec.LookPath(a.argv[0]); err != nil {
			return nil, configError(name, "%s command: %w", a.field, err)
		}
	}
	if cfg.Timeout < 0 || cfg.MinOff < 0 {
		return nil, configError(name, "negative timeout %s or minimum off-time %s", cfg.Timeout, cfg.MinOff)
	}
	if len(cfg.Status) == 0 && (cfg.StatusOn != nil || cfg.StatusOff != nil) {
		return nil, configError(name, "status patterns without a status command")
	}
	s := &Command{on: cfg.On, off: cfg.Off, cycle: cfg.Cycle, status: cfg.Status, timeout: cfg.Timeout,
		isOn: cmp.Or(cfg.StatusOn, DefaultStatusOn), isOff: cmp.Or(cfg.StatusOff, DefaultStatusOff)}
	if s.timeout == 0 {
		s.timeout = DefaultCommandTimeout
	}
	s.c = newCore(name, "command", cfg.MinOff, cfg.SafeOn, cfg.Log)
	s.c.set = s.set
	if len(s.status) > 0 {
		s.c.read = s.read
	}
	return s, nil
}

func (s *Command) set(ctx context.Context, on bool, ev *Event, begin func()) error {
	argv := s.off
	if on {
		argv = s.on
	}
	ev.Detail = fmt.Sprintf("%q", argv)
	begin()
	out, err := run(ctx, argv, s.timeout)
	ev.Output = out
	return s.confirm(ctx, on, ev, err)
}

func stateName(on bool) string {
	if on {
		return StateOn
	}
	return StateOff
}

// confirm reads the state back after a command ran (cmdErr is its result),
// when there is a status command; without one it notes what is assumed.
func (s *Command) confirm(ctx context.Context, on bool, ev *Event, cmdErr error) error {
	want := stateName(on)
	if len(s.status) == 0 {
		if cmdErr == nil {
			ev.Detail = join(ev.Detail, "no status command: assumed "+want+" because the command exited 0")
		}
		return cmdErr
	}
	var ce *CommandError
	if cmdErr != nil {
		if !errors.As(cmdErr, &ce) || ce.ExitCode <= 0 {
			return cmdErr // timed out, interrupted or did not start: the state is unknown
		}
		// It may have refused because there was nothing to do ("already
		// on", exit 1): what counts is the state.
		got, out, err := s.read(ctx)
		ev.StatusOutput = out
		if err != nil || got != on {
			return cmdErr
		}
		ev.Detail = join(ev.Detail, fmt.Sprintf("the command failed (exit status %d) but the status command says %s: taken as switched", ce.ExitCode, want))
		return nil
	}
	deadline := s.c.clk.Now().Add(s.timeout)
	for {
		got, out, err := s.read(ctx)
		ev.StatusOutput = out
		if errors.As(err, &ce) && ce.Interrupted {
			return err
		}
		if err != nil {
			return fmt.Errorf("the command exited 0, but reading the state back failed: %w", err)
		}
		if got == on {
			ev.Detail = join(ev.Detail, "the status command confirms "+want)
			return nil
		}
		if !s.c.clk.Now().Before(deadline) {
			return fmt.Errorf("the command exited 0, but the status command %q still says %s after %s", s.status, stateName(got), s.timeout)
		}
		if err := sleep(ctx, s.c.clk, statusPoll, nil); err != nil {
			return &CommandError{Argv: s.status, ExitCode: -1, Interrupted: true, Err: err}
		}
	}
}

// read runs the status command and reads its standard output: on or off.
func (s *Command) read(ctx context.Context) (on bool, stdout string, err error) {
	out, all, err := runStdout(ctx, s.status, s.timeout)
	if err != nil {
		return false, out, err
	}
	isOn, isOff := s.isOn.MatchString(out), s.isOff.MatchString(out)
	if isOn == isOff {
		which := "neither"
		if isOn {
			which = "both"
		}
		return false, out, &CommandError{Argv: s.status, ExitCode: 0, Output: tail(all),
			Err: fmt.Errorf("its standard output matches %s of the on pattern %q and the off pattern %q", which, s.isOn, s.isOff)}
	}
	return isOn, out, nil
}

// Name returns the switch's configured name ("" if none).
func (s *Command) Name() string { return s.c.name }

// Log returns the log the switch records to.
func (s *Command) Log() *Log { return s.c.log }

// On runs the on command, first waiting what remains of the minimum off-time
// since the last Off (all of it while the state is unknown: a new switch, or
// one whose last command failed).
func (s *Command) On(ctx context.Context) error { return s.c.on(ctx) }

// Off runs the off command.
func (s *Command) Off(ctx context.Context) error { return s.c.off(ctx) }

// Cycle runs the cycle command if there is one (the device behind it is
// trusted with the off-time), else Off, the minimum off-time, On.
func (s *Command) Cycle(ctx context.Context) error {
	if len(s.cycle) == 0 {
		return s.c.cycle(ctx)
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(ctx, ActionCycle, c.safed); err != nil {
		return err
	}
	return c.apply(ActionCycle, true, func(ev *Event, begin func()) error {
		ev.Detail = fmt.Sprintf("%q", s.cycle)
		begin()
		out, err := run(ctx, s.cycle, s.timeout)
		ev.Output = out
		return s.confirm(ctx, true, ev, err)
	})
}

// SafeState runs the off command (the on command if SafeOn), without a
// context but bounded by the timeout. A command already running finishes
// first, so the two never overlap.
func (s *Command) SafeState() error { return s.c.safeState() }

// CommandError is a command that failed, timed out or could not start.
type CommandError struct {
	Argv     []string
	ExitCode int  // -1 when it did not exit by itself
	TimedOut bool // killed after Timeout
	Timeout  time.Duration
	Output   string // the last lines of its combined output
	// Interrupted says it was killed because the caller's context ended
	// (Ctrl-C, a signal): it may have switched before it was killed.
	Interrupted bool
	Err         error // the underlying error; context.Canceled if the caller cancelled
}

func (e *CommandError) Error() string {
	var what string
	switch {
	case e.TimedOut:
		what = fmt.Sprintf("timed out after %s and was killed", e.Timeout)
	case e.ExitCode > 0:
		what = fmt.Sprintf("exit status %d", e.ExitCode)
	case e.Interrupted:
		what = "interrupted: " + e.Err.Error()
	default:
		what = e.Err.Error()
	}
	msg := fmt.Sprintf("command %q: %s", e.Argv, what)
	if e.Output != "" {
		msg += fmt.Sprintf(": output ends %q", e.Output)
	}
	return msg
}

func (e *CommandError) Unwrap() error { return e.Err }

// Output caps: a command's output kept in its event, and the tail quoted in
// an error message.
const (
	maxOutput = 64 << 10
	maxTail   = 512
)

// run runs argv with a timeout and returns its combined output.
func run(ctx context.Context, argv []string, timeout time.Duration) (string, error) {
	out, err := outputFile()
	if err != nil {
		return "", &CommandError{Argv: argv, ExitCode: -1, Timeout: timeout, Err: err}
	}
	defer out.Close()
	err = runTo(ctx, argv, timeout, out, out)
	return finish(readTail(out), err)
}

// runStdout runs argv with a timeout and returns its standard output, and
// its standard output and standard error for messages.
func runStdout(ctx context.Context, argv []string, timeout time.Duration) (stdout, all string, err error) {
	o, e := outputFile()
	if e != nil {
		return "", "", &CommandError{Argv: argv, ExitCode: -1, Timeout: timeout, Err: e}
	}
	defer o.Close()
	stderr, e := outputFile()
	if e != nil {
		return "", "", &CommandError{Argv: argv, ExitCode: -1, Timeout: timeout, Err: e}
	}
	defer stderr.Close()
	err = runTo(ctx, argv, timeout, o, stderr)
	stdout = readTail(o)
	all = stdout + readTail(stderr)
	all, err = finish(all, err)
	return stdout, all, err
}

// outputFile is where a command writes its output: an unnamed temporary
// file, not a pipe. A helper the command leaves running (a USB-serial
// bridge started with nohup) inherits it and may go on writing: to a pipe
// it would be killed by SIGPIPE once the bench stopped reading, or held
// the command's end until a timeout; a file takes its writes until it
// exits (and is freed then), and the command is done when it exits.
func outputFile() (*os.File, error) {
	f, err := os.CreateTemp("", "certbench-power-*.out")
	if err != nil {
		return nil, fmt.Errorf("file for the command's output: %w", err)
	}
	os.Remove(f.Name()) // open until the last writer closes it
	return f, nil
}

// readTail reads the last maxOutput bytes written to f.
func readTail(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	size := fi.Size()
	from := max(0, size-maxOutput)
	b := make([]byte, size-from)
	n, _ := f.ReadAt(b, from)
	if from > 0 {
		return fmt.Sprintf("[%d bytes dropped]\n%s", from, b[:n])
	}
	return string(b[:n])
}

// runTo runs argv with a timeout, its standard output to stdout and its
// standard error to stderr.
func runTo(ctx context.Context, argv []string, timeout time.Duration, stdout, stderr *os.File) error {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	hangUp(cmd)
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Exited():
		// Exited by itself, even if the deadline has passed since.
		return &CommandError{Argv: argv, ExitCode: ee.ExitCode(), Timeout: timeout, Err: err}
	case ctx.Err() != nil:
		return &CommandError{Argv: argv, ExitCode: -1, Timeout: timeout, Interrupted: true, Err: context.Cause(ctx)}
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		return &CommandError{Argv: argv, ExitCode: -1, Timeout: timeout, TimedOut: true, Err: context.DeadlineExceeded}
	}
	return &CommandError{Argv: argv, ExitCode: -1, Timeout: timeout, Err: err}
}

// finish adds the output's tail to a failed command's error.
func finish(output string, err error) (string, error) {
	var ce *CommandError
	if errors.As(err, &ce) {
		ce.Output = tail(output)
	}
	return output, err
}

// tail returns the last lines of s, at most maxTail bytes.
func tail(s string) string {
	s = strings.TrimRight(s, "\r\n")
	if len(s) <= maxTail {
		return s
	}
	s = s[len(s)-maxTail:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "…" + s
}
