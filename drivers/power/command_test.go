//go:build unix

package power

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pdu is a fake PDU client: scripts in a temporary folder that append what
// they did to a state file, as a real client would change an outlet.
type pdu struct {
	dir, state string
}

func newPDU(t *testing.T) *pdu {
	t.Helper()
	p := &pdu{dir: t.TempDir()}
	p.state = filepath.Join(p.dir, "outlet")
	p.script(t, "pdu", `echo "$1" >> "`+p.state+`"; echo "outlet 3 $1 ok"`)
	p.script(t, "fail", `echo "connecting"; echo "pdu: authentication failed" >&2; exit 3`)
	// hang leaves a child of its own and records its pid, to show that a
	// timeout kills the whole process group, not just the shell.
	p.script(t, "hang", `echo "waiting for PDU"; sleep 60 & echo $! > "`+p.dir+`/child"; wait`)
	// hang-fifo tells through a named pipe that it runs: the write blocks
	// until the test reads.
	if err := syscall.Mkfifo(p.path("running"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.script(t, "hang-fifo", `echo running > "`+p.dir+`/running"; exec sleep 60`)
	return p
}

func (p *pdu) script(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// What a command switch without a status command notes in its events.
const (
	assumedOn  = "; no status command: assumed on because the command exited 0"
	assumedOff = "; no status command: assumed off because the command exited 0"
)

// quote renders argv as events' detail does.
func quote(argv ...string) string { return fmt.Sprintf("%q", argv) }

func (p *pdu) path(name string) string { return filepath.Join(p.dir, name) }

// outlet returns what the PDU was told, in order.
func (p *pdu) outlet(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.state)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

func (g *rig) command(t *testing.T, cfg CommandConfig) *Command {
	t.Helper()
	cfg.Log = g.log
	s, err := NewCommand(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.c.clk = g.clk
	return s
}

func TestCommandOnOffKeepsOutput(t *testing.T) {
	p := newPDU(t)
	g := newRig()
	s := g.command(t, CommandConfig{On: []string{p.path("pdu"), "on"}, Off: []string{p.path("pdu"), "off"}})
	ctx := context.Background()
	if err := s.On(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Off(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.SafeState(); err != nil {
		t.Fatal(err)
	}
	if got := p.outlet(t); got != "on off off" {
		t.Errorf("PDU was told %q, want on off off", got)
	}
	evs := g.log.Events()
	on, off := quote(p.path("pdu"), "on")+assumedOn, quote(p.path("pdu"), "off")+assumedOff
	wantEvents(t, g.log, "command on "+on, "command off "+off, "command safe "+off)
	if evs[0].Output != "outlet 3 on ok\n" || evs[2].Output != "outlet 3 off ok\n" {
		t.Errorf("outputs %q, %q", evs[0].Output, evs[2].Output)
	}
}

func TestCommandFailureNamesCommandStatusAndOutput(t *testing.T) {
	p := newPDU(t)
	g := newRig()
	s := g.command(t, CommandConfig{Name: "pdu-a", On: []string{p.path("fail"), "--outlet", "3"}, Off: []string{p.path("pdu"), "off"}})
	err := s.On(context.Background())
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode != 3 || ce.TimedOut {
		t.Fatalf("On = %v, want a *CommandError with exit status 3", err)
	}
	for _, want := range []string{"power on pdu-a", p.path("fail"), "--outlet", "exit status 3", "authentication failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	evs := g.log.Events()
	if len(evs) != 1 || evs[0].Err == "" || !strings.Contains(evs[0].Output, "connecting\npdu: authentication failed") {
		t.Errorf("events %+v, want one failed on event with the combined output", evs)
	}
}

func TestCommandTimeoutKillsProcessGroup(t *testing.T) {
	p := newPDU(t)
	g := newRig()
	// The timeout leaves the script ample time to record its child's pid.
	s := g.command(t, CommandConfig{On: []string{p.path("hang")}, Off: []string{p.path("pdu"), "off"}, Timeout: time.Second})
	err := s.On(context.Background())
	var ce *CommandError
	if !errors.As(err, &ce) || !ce.TimedOut || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("On = %v, want a timed-out *CommandError", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("a timeout reads as a cancellation")
	}
	for _, want := range []string{p.path("hang"), "timed out after 1s", "waiting for PDU"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	b, rerr := os.ReadFile(p.path("child"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitGone(t, pid)
}

// waitGone waits until process pid has exited (gone, or a zombie nobody
// reaped: in a container, PID 1 may not reap orphans).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		// The state follows the parenthesised command name.
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d (the command's child) still running after the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCommandCancelledIsNotATimeout(t *testing.T) {
	p := newPDU(t)
	g := newRig()
	s := g.command(t, CommandConfig{On: []string{p.path("hang-fifo")}, Off: []string{p.path("pdu"), "off"}, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.On(ctx) }()
	// Cancel once the command surely runs.
	running := make(chan error, 1)
	go func() {
		b, err := os.ReadFile(p.path("running"))
		if err == nil && string(b) != "running\n" {
			err = errors.New("read " + strconv.Quote(string(b)))
		}
		running <- err
	}()
	select {
	case err := <-running:
		if err != nil {
			t.Fatalf("reading the script's fifo: %v", err)
		}
	case err := <-done:
		t.Fatalf("On returned before the command ran: %v", err)
	}
	cancel()
	err := result(t, done)
	var ce *CommandError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ce) || ce.TimedOut {
		t.Fatalf("On = %v, want a cancelled (not timed-out) *CommandError", err)
	}
}

func TestCommandCycleWithoutCycleCommand(t *testing.T) {
	p := newPDU(t)
	g := newRig()
	s := g.command(t, CommandConfig{On: []string{p.path("pdu"), "on"}, Off: []string{p.path("pdu"), "off"}, MinOff: 2 * time.Second})
	done := cycleAsync(context.Background(), s)
	if d := g.clk.waitTimer(t); d != 2*time.Second {
		t.Errorf("waited %s, want 2s", d)
	}
	if got := p.outlet(t); got != "off" {
		t.Errorf("during the off-time the PDU was told %q, want off", got)
	}
	g.clk.Advance(2 * time.Second)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if got := p.outlet(t); got != "off on" {
		t.Errorf("PDU was told %q, want off on", got)
	}
	wantEvents(t, g.log, "command cycle minimum off-time 2s", "command off "+quote(p.path("pdu"), "off")+assumedOff, "command wait 2s", "command on "+quote(p.path("pdu"), "on")+assumedOn)
}

func TestCommandCycleCommand(t *testing.T) {
	p := newPDU(t)
	g := newRig()
	s := g.command(t, CommandConfig{On: []string{p.path("pdu"), "on"}, Off: []string{p.path("pdu"), "off"}, Cycle: []string{p.path("pdu"), "reboot"}, MinOff: time.Hour})
	if err := s.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.clk.noTimer(t)
	if got := p.outlet(t); got != "reboot" {
		t.Errorf("PDU was told %q, want reboot", got)
	}
	evs := g.log.Events()
	if len(evs) != 1 || evs[0].Action != ActionCycle || evs[0].Switch != "command" || evs[0].Detail != quote(p.path("pdu"), "reboot")+assumedOn || evs[0].Output != "outlet 3 reboot ok\n" {
		t.Errorf("events %+v, want one cycle event with the output", evs)
	}
}

func TestNewCommandChecksConfig(t *testing.T) {
	p := newPDU(t)
	for _, tc := range []struct {
		name string
		cfg  CommandConfig
		want string
	}{
		{"no on", CommandConfig{Off: []string{p.path("pdu")}}, "no on command"},
		{"no off", CommandConfig{On: []string{p.path("pdu")}}, "no off command"},
		{"missing program", CommandConfig{On: []string{p.path("pdu")}, Off: []string{p.path("pdu")}, Cycle: []string{p.path("nope")}}, "cycle command"},
		{"not on PATH", CommandConfig{On: []string{"certbench-no-such-pdu-client"}, Off: []string{p.path("pdu")}}, "certbench-no-such-pdu-client"},
	} {
		if _, err := NewCommand(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewCommand = %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestTail(t *testing.T) {
	long := strings.Repeat("x", 600) + "\nlast line\n"
	if got := tail(long); got != "…last line" {
		t.Errorf("tail = %q", got)
	}
	f, err := outputFile()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(strings.Repeat("x", maxOutput+2) + "ab")
	if got := readTail(f); !strings.HasPrefix(got, "[4 bytes dropped]\nxx") || !strings.HasSuffix(got, "ab") || len(got) != len("[4 bytes dropped]\n")+maxOutput {
		t.Errorf("readTail kept %d bytes starting %q", len(got), got[:30])
	}
}

func TestCommandDaemonHoldingOutputIsNotAFailure(t *testing.T) {
	p := newPDU(t)
	// Like a client that starts a helper daemon: it exits 0 at once, but the
	// daemon keeps stdout open.
	p.script(t, "daemonize", `echo "outlet on"; sleep 60 & echo $! > "`+p.dir+`/daemon"`)
	g := newRig()
	s := g.command(t, CommandConfig{On: []string{p.path("daemonize")}, Off: []string{p.path("pdu"), "off"}})
	err := s.On(context.Background())
	b, rerr := os.ReadFile(p.path("daemon"))
	if rerr == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("On = %v, want success: the command exited 0", err)
	}
	if evs := g.log.Events(); len(evs) != 1 || !strings.HasPrefix(evs[0].Output, "outlet on\n") {
		t.Errorf("events %+v, want the command's output kept", evs)
	}
}

// TestCommandOnInNewProcessWaitsMinOff reproduces `bench power off` and then
// `bench power on` as two commands: the second process's switch has never
// seen the Off, yet must not switch the PDU on before min_off has passed.
func TestCommandOnInNewProcessWaitsMinOff(t *testing.T) {
	p := newPDU(t)
	g := newRig()
	cfg := CommandConfig{On: []string{p.path("pdu"), "on"}, Off: []string{p.path("pdu"), "off"}, MinOff: 5 * time.Second}
	if err := g.command(t, cfg).Off(context.Background()); err != nil {
		t.Fatal(err)
	}
	second := g.command(t, cfg)
	done := make(chan error, 1)
	go func() { done <- second.On(context.Background()) }()
	if d := g.clk.waitTimer(t); d != 5*time.Second {
		t.Errorf("On in a fresh switch waited %s, want the full 5s", d)
	}
	if got := p.outlet(t); got != "off" {
		t.Errorf("during the off-time the PDU was told %q, want off", got)
	}
	g.clk.Advance(5 * time.Second)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if got := p.outlet(t); got != "off on" {
		t.Errorf("PDU was told %q, want off on", got)
	}
	evs := g.log.Events()
	if len(evs) != 3 || evs[1].Action != ActionWait || !strings.Contains(evs[1].Detail, "state unknown") {
		t.Errorf("events %+v, want off, a wait saying the state is unknown, on", evs)
	}
}

// TestCommandErrorNamesSwitchOnce: given the fixture as its Name, a failed
// command reads as one sentence that says "power" and the fixture once, so
// the bench need not wrap it; without a Name the command names itself.
func TestCommandErrorNamesSwitchOnce(t *testing.T) {
	p := newPDU(t)
	g := newRig()
	const name = `fixture "cam-2"`
	s := g.command(t, CommandConfig{Name: name, On: []string{p.path("fail"), "--outlet", "3"}, Off: []string{p.path("pdu"), "off"}})
	err := s.On(context.Background())
	want := `power on fixture "cam-2": command ["` + p.path("fail") + `" "--outlet" "3"]: exit status 3: output ends "connecting\npdu: authentication failed"`
	if err == nil || err.Error() != want {
		t.Errorf("On = %v\nwant  %s", err, want)
	}

	nameless := g.command(t, CommandConfig{On: []string{p.path("fail")}, Off: []string{p.path("pdu"), "off"}})
	err = nameless.On(context.Background())
	if want := `power on: command ["` + p.path("fail") + `"]: exit status 3`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("nameless On = %v, want it to start %q", err, want)
	}

	_, err = NewCommand(CommandConfig{Name: name, On: []string{"certbench-no-such-pdu-client", "on"}, Off: []string{p.path("pdu")}})
	if err == nil || !strings.HasPrefix(err.Error(), `power switch fixture "cam-2": on command: `) ||
		strings.Count(err.Error(), "power") != 1 || strings.Count(err.Error(), "cam-2") != 1 {
		t.Errorf("NewCommand = %v, want `power switch fixture \"cam-2\": on command: ...` naming power and the fixture once", err)
	}
	_, err = NewCommand(CommandConfig{On: []string{p.path("pdu")}})
	if err == nil || err.Error() != "power switch: no off command configured" {
		t.Errorf("nameless NewCommand = %v, want power switch: no off command configured", err)
	}
}
