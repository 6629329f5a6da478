package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/certbench/certbench/drivers/power/powertest"
	"github.com/certbench/certbench/fixtures/sim/gpiosock"
	"periph.io/x/conn/v3/gpio"
)

func relayFixture(t *testing.T, line string) string {
	serial := listen(t)
	return writeBench(t, `  - name: cam-1
    power: {line: `+line+`, active: low, min_off: 1ms}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
}

func TestPowerOnOffActiveLowRelay(t *testing.T) {
	skipOnNonLinux(t)
	pin := powertest.Register(t, "CBTEST_PWR1", gpio.High)
	path := relayFixture(t, "CBTEST_PWR1")

	code, out := runIn(t, "power", "on", "-c", path, "cam-1")
	if code != 0 {
		t.Fatalf("power on: exit %d:\n%s", code, out)
	}
	// Active low: on is a Low line, and it stays on after the command.
	if got := pin.Read(); got != gpio.Low {
		t.Fatalf("after power on the line is %v, want Low", got)
	}
	if !strings.Contains(out, "on") || !strings.Contains(out, "level=Low") {
		t.Errorf("power on did not print its event:\n%s", out)
	}

	code, out = runIn(t, "power", "cycle", "-c", path, "cam-1")
	if code != 0 {
		t.Fatalf("power cycle: exit %d:\n%s", code, out)
	}
	w := pin.Writes()
	if n := len(w); n < 3 || w[n-2] != gpio.High || w[n-1] != gpio.Low {
		t.Fatalf("cycle wrote %v, want ... High (off) then Low (on)", w)
	}
}

func TestPowerErrorLeavesRelaySafe(t *testing.T) {
	skipOnNonLinux(t)
	pin := powertest.Register(t, "CBTEST_PWR2", gpio.High)
	pin.FailLevel(gpio.Low, os.ErrPermission) // switching on fails
	path := relayFixture(t, "CBTEST_PWR2")

	code, out := runIn(t, "power", "on", "-c", path, "cam-1")
	if code != exitIncomplete {
		t.Fatalf("exit %d, want %d:\n%s", code, exitIncomplete, out)
	}
	w := pin.Writes()
	if len(w) == 0 || w[len(w)-1] != gpio.High {
		t.Fatalf("after a failed on the line's writes are %v, want it left High (safe: off)", w)
	}
}

func TestPowerCommandSwitchRunsPrograms(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "pdu.log")
	script := filepath.Join(dir, "pdu.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$1\" >> "+logf+"\necho switched $1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	serial := listen(t)
	path := writeBench(t, `  - name: plug-1
    power: {command: {on: [`+script+`, on], off: [`+script+`, off]}, min_off: 1ms}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	// The real binary: external commands work across processes.
	code, out, errs := runBin(t, nil, "power", "cycle", "-c", path, "plug-1")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	got, err := os.ReadFile(logf)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "off\non\n" {
		t.Fatalf("PDU saw %q, want off then on", got)
	}
	if !strings.Contains(out, "switched on") {
		t.Errorf("command output not shown:\n%s", out)
	}
}

func TestPowerUnknownFixtureIsUsageError(t *testing.T) {
	serial := listen(t)
	path := writeBench(t, `  - name: plug-1
    power: {command: {on: ["true"], off: ["true"]}}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	code, _, errs := runBin(t, nil, "power", "on", "-c", path, "cam-9")
	if code != exitUsage || !strings.Contains(errs, `no fixture "cam-9"`) || !strings.Contains(errs, "plug-1") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	code, _, errs = runBin(t, nil, "power", "sideways", "-c", path, "plug-1")
	if code != exitUsage || !strings.Contains(errs, "on, off or cycle") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// TestPowerSafeStateFailureIsReported: when switching fails and going safe
// fails too, the user must be told the fixture may still be powered.
func TestPowerSafeStateFailureIsReported(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "pdu.sh")
	// "off" always fails: both the requested off and the safe state.
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = on ] && exit 0\necho relay stuck >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	serial := listen(t)
	path := writeBench(t, `  - name: plug-1
    power: {command: {on: [`+script+`, on], off: [`+script+`, off]}}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	code, _, errs := runBin(t, nil, "power", "off", "-c", path, "plug-1")
	if code != exitIncomplete {
		t.Fatalf("exit %d, want %d: %s", code, exitIncomplete, errs)
	}
	if !strings.Contains(errs, "relay stuck") || strings.Count(errs, "exit status 3") < 2 {
		t.Fatalf("stderr does not report both the failed off and the failed safe state:\n%s", errs)
	}
}

// TestMissingLineSaysWhichDriverFailed: a line missing because its driver
// did not load (here the simulated lab's socket driver pointed at a lab that
// is not running) must say so, not only "not found".
func TestMissingLineSaysWhichDriverFailed(t *testing.T) {
	serial := listen(t)
	path := writeBench(t, `  - name: cam-1
    power: {line: SIM_CAM_1_RELAY}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	t.Setenv("CERTBENCH_SIM_GPIO", filepath.Join(t.TempDir(), "no-lab.sock"))
	code, _, errs := runBin(t, nil, "power", "on", "-c", path, "cam-1")
	if code != exitIncomplete || !strings.Contains(errs, `GPIO line "SIM_CAM_1_RELAY" not found`) || !strings.Contains(errs, "gpiosock failed") || !strings.Contains(errs, "no-lab.sock") {
		t.Fatalf("exit %d, stderr does not name the driver that failed:\n%s", code, errs)
	}
}

// vendorScript is a vendor's power tool that keeps the outlet's state in a
// file and refuses to do what is already done (exit 1).
func vendorScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "drivers", "power", "testdata", "vendor-pwr.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// vendorFixture writes a bench file whose fixture is powered through the
// vendor's tool, its state file named with ${bench_dir}, and sets the
// outlet to initial.
func vendorFixture(t *testing.T, initial string, status bool) (bench, outlet string) {
	t.Helper()
	serial := listen(t)
	tool := vendorScript(t)
	st := ""
	if status {
		st = `
        status: [` + tool + `, "${bench_dir}/outlet", status]`
	}
	bench = writeBench(t, `  - name: plug-1
    power:
      command:
        on: [`+tool+`, "${bench_dir}/outlet", "on"]
        off: [`+tool+`, "${bench_dir}/outlet", "off"]`+st+`
      min_off: 2s
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	outlet = filepath.Join(filepath.Dir(bench), "outlet")
	if err := os.WriteFile(outlet, []byte(initial+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return bench, outlet
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestPowerOnWhenAlreadyOn is issue 13.11: `bench power on` on a unit that
// is on must leave it on, untouched, without waiting min_off. It failed
// before the status command: the new process waited, the vendor's
// on-script refused ("already on", exit 1) and the bench switched the unit
// off (its safe state).
func TestPowerOnWhenAlreadyOn(t *testing.T) {
	bench, outlet := vendorFixture(t, "on", true)
	code, out, errs := runBin(t, nil, "power", "on", "-c", bench, "plug-1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if got := readTrim(t, outlet); got != "on" {
		t.Fatalf("the unit is %s after bench power on", got)
	}
	if log := readTrim(t, outlet+".log"); log != "" {
		t.Errorf("the vendor tool was told %q, want nothing", log)
	}
	if strings.Contains(out, "waiting min_off") || !strings.Contains(out, "already on") {
		t.Errorf("output should say it was already on, and not wait:\n%s", out)
	}
	// Off then on: switched, and each read back.
	for _, a := range []string{"off", "on"} {
		code, out, errs = runBin(t, nil, "power", a, "-c", bench, "plug-1")
		if code != 0 || readTrim(t, outlet) != a || !strings.Contains(out, "the status command confirms "+a) {
			t.Fatalf("power %s: exit %d, unit %s\n%s%s", a, code, readTrim(t, outlet), out, errs)
		}
	}
	if log := readTrim(t, outlet+".log"); log != "off\non" {
		t.Errorf("the vendor tool was told %q, want off then on", log)
	}
}

// TestPowerWithoutStatusSaysWhatItAssumes: with no status command the
// output and the events say the state is assumed from the exit status.
func TestPowerWithoutStatusSaysWhatItAssumes(t *testing.T) {
	bench, outlet := vendorFixture(t, "on", false)
	events := filepath.Join(t.TempDir(), "ev.jsonl")
	code, out, errs := runBin(t, nil, "power", "off", "-c", bench, "plug-1", "--events", events)
	if code != 0 || readTrim(t, outlet) != "off" {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	const note = "no status command: assumed off because the command exited 0"
	if !strings.Contains(out, note) || !strings.Contains(readTrim(t, events), note) {
		t.Errorf("output and events should say %q:\n%s\n%s", note, out, readTrim(t, events))
	}
}

// TestPowerEventsFile is issue 13.12: the events go to a file (JSON Lines,
// each switch stamped at its start and its end), which a second run never
// overwrites.
func TestPowerEventsFile(t *testing.T) {
	bench, _ := vendorFixture(t, "on", true)
	events := filepath.Join(t.TempDir(), "power.jsonl")
	code, out, errs := runBin(t, nil, "power", "off", "-c", bench, "plug-1", "--events", events)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	first, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	var off struct {
		Mono      int64  `json:"mono_ns"`
		Start     *int64 `json:"start_mono_ns"`
		StartWall string `json:"start_wall"`
		Action    string `json:"action"`
		State     string `json:"state"`
		Status    string `json:"status_output"`
	}
	lines := strings.Split(strings.TrimSpace(string(first)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &off); err != nil {
		t.Fatal(err)
	}
	if off.Action != "off" || off.Start == nil || off.StartWall == "" || *off.Start > off.Mono || off.State != "off" || off.Status != "off\n" {
		t.Errorf("last event %+v, want off with its start, state and status output:\n%s", off, first)
	}
	if abs, _ := filepath.Abs(events); !strings.Contains(out, "events: "+abs) {
		t.Errorf("output does not name the event file:\n%s", out)
	}
	code, _, errs = runBin(t, nil, "power", "on", "-c", bench, "plug-1", "--events", events)
	if code != exitUsage || !strings.Contains(errs, "file exists") || !strings.Contains(errs, "--events") {
		t.Errorf("second run onto the same file: exit %d, %s", code, errs)
	}
	if again, _ := os.ReadFile(events); string(again) != string(first) {
		t.Error("the event file was changed by a second run")
	}
	// Without --events: a new file beside the bench file.
	code, out, _ = runBin(t, nil, "power", "on", "-c", bench, "plug-1")
	m, _ := filepath.Glob(filepath.Join(filepath.Dir(bench), "power-plug-1-*.jsonl"))
	if code != 0 || len(m) != 1 || !strings.Contains(out, m[0]) {
		t.Errorf("default event file: exit %d, files %v\n%s", code, m, out)
	}
}

// TestPowerCyclePrintsStepsAsTheyHappen is issue 7.11: each step is on the
// screen when it happens. The on-script, while it runs, looks at what
// bench has printed so far (its stdout is a file) and keeps a copy.
func TestPowerCyclePrintsStepsAsTheyHappen(t *testing.T) {
	dir := t.TempDir()
	screen := filepath.Join(dir, "screen")
	snapshot := filepath.Join(dir, "snapshot")
	script := filepath.Join(dir, "pdu.sh")
	// The loop bounds the wait for a bench that prints nothing until done
	// (it would fail the test, not hang it).
	if err := os.WriteFile(script, []byte(`#!/bin/sh
if [ "$1" = on ]; then
	i=0
	until grep -q "on *started" "`+screen+`" || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done
	cp "`+screen+`" "`+snapshot+`"
fi
echo "outlet $1"
`), 0o755); err != nil {
		t.Fatal(err)
	}
	serial := listen(t)
	bench := writeBench(t, `  - name: plug-1
    power: {command: {on: [`+script+`, "on"], off: [`+script+`, "off"]}, min_off: 1ms}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	f, err := os.Create(screen)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(benchBin, "power", "cycle", "-c", bench, "plug-1")
	cmd.Stdout = f
	var errs strings.Builder
	cmd.Stderr = &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errs.String())
	}
	seen := readTrim(t, snapshot)
	want := []string{"off     started", "off     done", "wait    waiting min_off", "on      started"}
	at := 0
	for _, w := range want {
		i := strings.Index(seen[at:], w)
		if i < 0 {
			t.Fatalf("while the on command ran, the screen did not show %q after what came before; it showed:\n%s", w, seen)
		}
		at += i
	}
	if all := readTrim(t, screen); !strings.Contains(all, "on      done") {
		t.Errorf("the end of the cycle is not shown:\n%s", all)
	}
}

// TestPowerCycleSignalLeavesSafe is issue 7.5 and 7.6: a signal during
// `bench power cycle` (here while it waits min_off, with the relay off) on
// a `safe: on` fixture drives the relay back on, says so once, and exits
// 128+n. The relay is a line the test serves over the sim's GPIO socket,
// so the real bench binary, in its own process, switches it.
func TestPowerCycleSignalLeavesSafe(t *testing.T) {
	skipOnNonLinux(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE, syscall.SIGUSR1, syscall.SIGUSR2} {
		t.Run(sig.String(), func(t *testing.T) {
			pin := powertest.NewPin("CBSIG_RELAY", gpio.High) // on: active high, safe on
			writes := make(chan gpio.Level, 10)
			pin.Follow(func(l gpio.Level) { writes <- l })
			sock := filepath.Join(t.TempDir(), "gpio.sock")
			srv, err := gpiosock.Listen(sock, pin)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			serial := listen(t)
			bench := writeBench(t, `  - name: cam-1
    power: {line: CBSIG_RELAY, safe: on, min_off: 1h}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
			cmd := exec.Command(benchBin, "power", "cycle", "-c", bench, "cam-1")
			cmd.Env = append(os.Environ(), gpiosock.Env+"="+sock)
			var out, errs strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			if l := <-writes; l != gpio.Low {
				t.Fatalf("first write %v, want Low (off)", l)
			}
			// The relay is off and bench waits its hour: the moment a
			// dropped SSH session would leave it off.
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			if code != 128+int(sig) {
				t.Errorf("exit %d (%v), want %d (128+%d)", code, err, 128+int(sig), int(sig))
			}
			if got := pin.Read(); got != gpio.High {
				t.Fatalf("after %s the relay is %v, want High (safe: on)\nstdout:\n%s\nstderr:\n%s", sig, got, out.String(), errs.String())
			}
			want := `bench power: power cycle of fixture "cam-1" interrupted by signal ` + sig.String() + `: fixture left at its safe level (on)`
			if strings.TrimSpace(errs.String()) != want {
				t.Errorf("stderr:\n%s\nwant once:\n%s", errs.String(), want)
			}
			if n := strings.Count(out.String(), "safe    done"); n != 1 || strings.Contains(out.String()+errs.String(), "context canceled") {
				t.Errorf("stdout shows the safe event %d times (want 1), or says context canceled:\n%s", n, out.String())
			}
		})
	}
}

// TestPowerOffInterruptedIsNotAnError is issue 13.12's last part: Ctrl-C
// while an off-script runs, after it cut power, is recorded as what it is
// (state unknown, interrupted after it started), not as a failure; then
// the safe state runs once.
func TestPowerOffInterruptedIsNotAnError(t *testing.T) {
	dir := t.TempDir()
	running := filepath.Join(dir, "running")
	if err := syscall.Mkfifo(running, 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "pdu.sh")
	if err := os.WriteFile(script, []byte(`#!/bin/sh
echo "$1" >> "`+dir+`/log"
# The first off hangs after it cut power; the safe state's off does not.
if [ "$1" = cut ] && [ ! -e "`+dir+`/cut" ]; then touch "`+dir+`/cut"; echo running > "`+running+`"; exec sleep 300; fi
`), 0o755); err != nil {
		t.Fatal(err)
	}
	serial := listen(t)
	bench := writeBench(t, `  - name: plug-1
    power: {command: {on: [`+script+`, "on"], off: [`+script+`, "cut"]}}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	events := filepath.Join(dir, "ev.jsonl")
	cmd := exec.Command(benchBin, "power", "off", "-c", bench, "plug-1", "--events", events)
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if b, err := os.ReadFile(running); err != nil || string(b) != "running\n" {
		t.Fatalf("fifo %q %v", b, err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, errs.String())
	}
	var got []string
	for _, line := range strings.Split(readTrim(t, events), "\n") {
		var e struct{ Action, State, Detail, Error string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Action+" "+e.State)
		if e.Action == "off" && (e.Error != "" || !strings.Contains(e.Detail, "state unknown: off command interrupted after it started")) {
			t.Errorf("off event %+v, want no error and what is known", e)
		}
	}
	if strings.Join(got, ",") != "off unknown,safe off" || strings.Contains(out.String(), "off     failed") {
		t.Errorf("events %v, want off (state unknown) then safe (off); stdout:\n%s", got, out.String())
	}
}

// TestPowerFailedSetupLeavesNoEventFile: a switch that cannot be made
// switched nothing; its empty event file must not block the next try.
func TestPowerFailedSetupLeavesNoEventFile(t *testing.T) {
	serial := listen(t)
	path := writeBench(t, `  - name: plug-1
    power: {command: {on: [certbench-no-such-pdu, "on"], off: [certbench-no-such-pdu, "off"]}}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	events := filepath.Join(t.TempDir(), "ev.jsonl")
	code, _, errs := runBin(t, nil, "power", "on", "-c", path, "plug-1", "--events", events)
	if code != exitIncomplete || !strings.Contains(errs, "certbench-no-such-pdu") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(events); !os.IsNotExist(err) {
		t.Errorf("event file left behind (%v)", err)
	}
}
