package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbench/certbench/drivers/power/powertest"
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
