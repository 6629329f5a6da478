package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures"
	"github.com/spf13/cobra"
)

func init() { root.AddCommand(checkCommand()) }

// checkOptions are bench check's flags.
type checkOptions struct {
	timeout     time.Duration // each port or network probe
	powerOn     bool          // switch on fixtures whose console the device powers, to check it
	powerOnWait time.Duration // how long such a console may take to appear
}

func checkCommand() *cobra.Command {
	var cfg, format string
	var opt checkOptions
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate a bench file and probe the hardware it describes",
		Long: `Validate the bench file with the profiles and declarations it names, then
probe the hardware without switching power: every GPIO line exists, every
console port opens, no line or port is shared by two fixtures (aliases such as
P1_11 for GPIO17, and two /dev/serial/by-id links to one adapter, included), and
whether each network service answers. Opening a serial port raises its DTR and
RTS lines, which resets some boards wired to them. A label: {file: ...} is read
and checked (absent: a warning, it may be written after the first boot); a
label: {command: [...]} is looked up, not run. Each probe is printed as it ends
(-o json prints one document at the end).

A console with powered_by_device: true (a USB-UART powered from the device, a
pty that exists while the unit runs) that is absent is "not checked", not a
failure: the unit may be off. --power-on checks it: it switches each such
fixture on, one at a time, waits up to --power-on-wait for its console to open,
and returns the fixture to its safe level whatever happens (an error, Ctrl-C,
a closed terminal). Nothing else is switched.

Exit status: 0 all probes passed; 2 the files are invalid; 3 a probe failed
(a line missing, a port that does not open, a power switch that failed) or
--power-on was interrupted by a signal (the fixture is back at its safe
level). A network service that does not answer is only a warning: the device
may be off.`,
		Example: "  bench check -c bench.yaml\n  bench check -c bench.yaml --power-on",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if format != "text" && format != "json" {
				return usageError(fmt.Errorf("-o %q: write -o text or -o json", format))
			}
			b, err := loadBench(cfg)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			var p checkPrinter
			if format == "text" {
				p = &textPrinter{w: w}
			}
			rep, err := probeBench(cmd.Context(), b, opt, p)
			if format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil {
					return errors.Join(err, jerr)
				}
			} else {
				p.summary(rep)
			}
			if err != nil {
				return &exitError{code: exitIncomplete, err: err}
			}
			if n := rep.failures(); n > 0 {
				return &exitError{code: exitIncomplete, err: fmt.Errorf("%d probe(s) failed", n)}
			}
			return nil
		},
	}
	configFlag(cmd, &cfg)
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	cmd.Flags().DurationVar(&opt.timeout, "timeout", 2*time.Second, "how long each port or network probe may take")
	cmd.Flags().BoolVar(&opt.powerOn, "power-on", false, "switch on each fixture whose console is powered_by_device to check it, then back to its safe level")
	cmd.Flags().DurationVar(&opt.powerOnWait, "power-on-wait", 10*time.Second, "with --power-on, how long a console may take to appear after power on")
	return cmd
}

// Probe outcomes.
const (
	probeOK   = "ok"
	probeWarn = "warn" // worth a look, not a failure (a device that is off)
	probeSkip = "skip" // not checked, for a reason the detail gives
	probeFail = "FAIL"
)

type probe struct {
	What   string `json:"what"`
	Target string `json:"target"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

type fixtureReport struct {
	Name   string  `json:"name"`
	Probes []probe `json:"probes"`
}

type checkReport struct {
	Bench    string          `json:"bench"`
	File     string          `json:"file"`
	Fixtures []fixtureReport `json:"fixtures"`
}

func (r *checkReport) failures() int { return r.count(probeFail) }

func (r *checkReport) count(status string) int {
	n := 0
	for _, f := range r.Fixtures {
		for _, p := range f.Probes {
			if p.Status == status {
				n++
			}
		}
	}
	return n
}

// checkPrinter shows a check as it goes: a PDU command or a port that
// takes its time must not leave the terminal silent. nil prints nothing.
type checkPrinter interface {
	bench(r *checkReport)
	fixture(name string)
	probe(p probe)
	note(format string, args ...any) // a step under way ("switching on ...")
	summary(r *checkReport)
}

type textPrinter struct{ w io.Writer }

func (t *textPrinter) bench(r *checkReport) { fmt.Fprintf(t.w, "bench %s (%s)\n", r.Bench, r.File) }
func (t *textPrinter) fixture(name string)  { fmt.Fprintf(t.w, "\nfixture %s\n", name) }
func (t *textPrinter) probe(p probe) {
	fmt.Fprintf(t.w, "  %-14s %-4s  %s", p.What, p.Status, p.Target)
	if p.Detail != "" {
		fmt.Fprintf(t.w, "  %s", p.Detail)
	}
	fmt.Fprintln(t.w)
}
func (t *textPrinter) note(format string, args ...any) {
	fmt.Fprintf(t.w, "  ... "+format+"\n", args...)
}
func (t *textPrinter) summary(r *checkReport) {
	skipped := ""
	if n := r.count(probeSkip); n > 0 {
		skipped = fmt.Sprintf(" (%d not checked)", n)
	}
	if n := r.failures(); n > 0 {
		fmt.Fprintf(t.w, "\n%d probe(s) failed%s\n", n, skipped)
	} else {
		fmt.Fprintf(t.w, "\nall probes passed%s\n", skipped)
	}
}

// probeBench probes every fixture, showing each probe on p as it ends. It
// switches nothing unless opt.powerOn: a relay line is only looked up,
// never driven, so a device someone powered on stays on. With opt.powerOn
// it switches on, one at a time, each fixture whose console the device
// powers and that is absent, probes the console, and returns the fixture
// to its safe level whatever happens; the error is a safe state that
// failed, or an interruption.
func probeBench(ctx context.Context, b *fixtures.Bench, opt checkOptions, p checkPrinter) (rep *checkReport, err error) {
	if p == nil {
		p = nopPrinter{}
	}
	rep = &checkReport{Bench: b.ID, File: b.Path}
	p.bench(rep)
	initErr := power.Init()
	owners := map[string]string{} // resolved line name → "fixture X power"

	var safety power.Safety
	if opt.powerOn {
		// Every catchable end of a session (Ctrl-C, kill, a closed
		// terminal, Ctrl-\) leaves what was switched at its safe level.
		var stop func() error
		ctx, stop = safety.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
		defer func() { err = errors.Join(err, stop()) }()
		defer func() {
			if r := recover(); r != nil {
				safety.SafeAll()
				panic(r)
			}
			err = errors.Join(err, safety.SafeAll())
		}()
	}

	for _, f := range b.Fixtures {
		p.fixture(f.Name)
		fr := fixtureReport{Name: f.Name}
		add := func(what, target, status, detail string) {
			pr := probe{what, target, status, detail}
			fr.Probes = append(fr.Probes, pr)
			p.probe(pr)
		}
		line := func(what, name string) bool {
			if initErr != nil {
				add(what, name, probeFail, "GPIO drivers did not load: "+initErr.Error())
				return false
			}
			real, err := power.LineName(name)
			if err != nil {
				add(what, name, probeFail, err.Error())
				return false
			}
			use := fmt.Sprintf("fixture %q %s", f.Name, what)
			if other, dup := owners[real]; dup {
				add(what, name, probeFail, fmt.Sprintf("line %s is also %s's: give each its own line", real, other))
				return false
			}
			owners[real] = use
			detail := ""
			if real != name {
				detail = "alias of " + real
			}
			add(what, name, probeOK, detail)
			return true
		}

		powerOK := false
		if f.Power.Command != nil {
			_, err := newSwitch(f, nil) // checks the programs exist; runs nothing
			if err != nil {
				add("power", "command", probeFail, err.Error())
			} else {
				add("power", strings.Join(f.Power.Command.On, " "), probeOK, "commands found")
				powerOK = true
			}
		} else {
			powerOK = line("power", f.Power.Line)
		}
		if f.Button != nil {
			line("button", f.Button.Line)
		}
		if s, ok := consolePort(f).(console.Serial); ok && plugOrderName.MatchString(s.Path) {
			add("console", s.Path, probeWarn, "this name follows plug order and can point at another adapter after a replug or reboot: name the port by its /dev/serial/by-id/ link, or by usb: {vid, pid, serial}")
		}
		target, cerr := probeConsole(ctx, f, opt.timeout, owners)
		switch {
		case cerr == nil:
			add("console", target, probeOK, "opens")
		case errors.Is(cerr, errShared) || !f.Console.PoweredByDevice:
			add("console", target, probeFail, explainMissingPort(f, b.Path, cerr).Error())
		case !opt.powerOn:
			add("console", target, probeSkip, "not checked: powered by the device, and absent while the unit is off; bench check --power-on switches it on to check it ("+cerr.Error()+")")
		case !powerOK:
			add("console", target, probeSkip, "not checked: powered by the device, whose power switch failed its probe")
		case ctx.Err() != nil:
			add("console", target, probeSkip, "not checked: interrupted")
		default:
			p.note("switching fixture %s on to check its console (powered by the device)", f.Name)
			powerOnAndProbe(ctx, f, opt, owners, &safety, add)
		}
		probeLabel(ctx, f, add)
		probeNetwork(f, opt.timeout, add)
		add("profile", f.ProfilePath, probeOK, "model "+f.Profile.Model)
		add("declarations", f.DeclarationsPath, probeOK, "sha256 "+f.Declarations.SHA256[:12])
		rep.Fixtures = append(rep.Fixtures, fr)
	}
	if cause := context.Cause(ctx); cause != nil {
		var sig *power.SignalError
		if errors.As(cause, &sig) {
			return rep, fmt.Errorf("interrupted by %s: every fixture switched on was returned to its safe level", sig.Signal)
		}
	}
	return rep, nil
}

// powerOnAndProbe switches f on, waits up to opt.powerOnWait for its
// console to open, and switches it back to its safe level, whatever
// happened: the safe state runs even when power on failed, since a command
// may have switched before it failed.
func powerOnAndProbe(ctx context.Context, f *fixtures.Fixture, opt checkOptions, owners map[string]string, safety *power.Safety, add func(what, target, status, detail string)) {
	log := power.NewLog(nil, time.Now())
	sw, err := newSwitch(f, log)
	if err != nil {
		add("power on", "", probeFail, err.Error())
		return
	}
	name := f.Power.Line
	if f.Power.Command != nil {
		name = strings.Join(f.Power.Command.On, " ")
	}
	safe := "off"
	if f.Power.SafeOn {
		safe = "on"
	}
	safety.Register(fmt.Sprintf("fixture %q power", f.Name), sw)
	defer func() {
		if err := sw.SafeState(); err != nil {
			add("power safe", name, probeFail, "could not return to its safe level ("+safe+"): "+err.Error())
			return
		}
		add("power safe", name, probeOK, "back at its safe level ("+safe+")")
	}()
	if err := sw.On(ctx); err != nil {
		if ctx.Err() != nil {
			// Said once, at the end, with the signal; not "context canceled".
			err = errors.New("interrupted before it switched on")
		}
		add("power on", name, probeFail, err.Error())
		add("console", consolePort(f).String(), probeSkip, "not checked: the fixture did not switch on")
		return
	}
	add("power on", name, probeOK, "switched on to check the console")

	wctx, cancel := context.WithTimeout(ctx, opt.powerOnWait)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		target, err := probeConsole(wctx, f, opt.timeout, owners)
		if err == nil {
			add("console", target, probeOK, "opens with the fixture on (powered by the device)")
			return
		}
		if errors.Is(err, errShared) {
			add("console", target, probeFail, err.Error())
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-wctx.Done():
			t.Stop()
			why := fmt.Sprintf("did not open within %s of power on", opt.powerOnWait)
			if ctx.Err() != nil {
				why = "interrupted before it opened"
			}
			add("console", target, probeFail, why+": "+err.Error())
			return
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// errShared marks a console whose device node another fixture's console
// also reaches: a wiring fault whether or not the unit is on.
var errShared = errors.New("shared with another fixture")

// probeConsole opens and closes f's console once and says what was opened.
func probeConsole(ctx context.Context, f *fixtures.Fixture, timeout time.Duration, owners map[string]string) (target string, err error) {
	port := consolePort(f)
	target = port.String()
	// Two names for one device node (by-id and by-path links, /dev/ttyUSB0)
	// pass the loader's check; the resolved node does not.
	if s, ok := port.(console.Serial); ok && s.Path != "" {
		if node, err := filepath.EvalSymlinks(s.Path); err == nil {
			use := fmt.Sprintf("fixture %q console", f.Name)
			if other, dup := owners[node]; dup && other != use {
				return target, fmt.Errorf("%w: %s is also %s's: give each fixture its own adapter", errShared, node, other)
			}
			owners[node] = use
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := console.Open(ctx, console.Config{Name: f.Name, Port: port})
	if err != nil {
		return target, err
	}
	if err := c.Close(); err != nil {
		return target, fmt.Errorf("close: %w", err)
	}
	return target, nil
}

type nopPrinter struct{}

func (nopPrinter) bench(*checkReport)   {}
func (nopPrinter) fixture(string)       {}
func (nopPrinter) probe(probe)          {}
func (nopPrinter) note(string, ...any)  {}
func (nopPrinter) summary(*checkReport) {}

// probeLabel checks a label that comes from a file or a command without
// showing its password. A file that is not there yet (a provisioning export
// written after the first boot) is a warning; a command is only looked up,
// never run: a sticker scanner may need someone at the bench.
func probeLabel(ctx context.Context, f *fixtures.Fixture, add func(what, target, status, detail string)) {
	src := f.LabelFrom
	if src == nil {
		return
	}
	if src.File != "" {
		if _, err := os.Stat(src.File); errors.Is(err, fs.ErrNotExist) {
			add("label", src.File, probeWarn, "not there yet: it must exist when a run reads the label")
			return
		}
		l, err := src.Read(ctx)
		if err != nil {
			add("label", src.File, probeFail, err.Error())
			return
		}
		add("label", src.File, probeOK, describeLabel(l))
		return
	}
	if _, err := exec.LookPath(src.Command[0]); err != nil {
		add("label", strings.Join(src.Command, " "), probeFail, "label command: "+err.Error())
		return
	}
	add("label", strings.Join(src.Command, " "), probeOK, "command found; it runs when a run needs the label")
}

// describeLabel says what a label holds, the password only as set or not.
func describeLabel(l fixtures.Label) string {
	var parts []string
	if l.Serial != "" {
		parts = append(parts, "serial "+l.Serial)
	}
	if l.MAC != "" {
		parts = append(parts, "mac "+l.MAC)
	}
	if l.Password != "" {
		parts = append(parts, "password set")
	} else {
		parts = append(parts, "no password")
	}
	return strings.Join(parts, ", ")
}

// plugOrderName matches serial device names the kernel hands out in the
// order adapters appear.
var plugOrderName = regexp.MustCompile(`^/dev/tty(USB|ACM)[0-9]+$`)

func probeNetwork(f *fixtures.Fixture, timeout time.Duration, add func(what, target, status, detail string)) {
	if f.Network == nil {
		return
	}
	services := make([]string, 0, len(f.Network.Ports))
	for s := range f.Network.Ports {
		services = append(services, s)
	}
	slices.Sort(services)
	for _, s := range services {
		addr := f.Network.Addr(s)
		conn, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			add("network "+s, addr, probeWarn, "no answer (is the device on?): "+err.Error())
			continue
		}
		conn.Close()
		add("network "+s, addr, probeOK, "answers")
	}
}
