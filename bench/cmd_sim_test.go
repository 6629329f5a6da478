package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certbench/certbench/fixtures/sim/image"
)

// TestSimRunsALabOtherCommandsUse runs `bench sim` as a user would in one
// terminal, and bench check and bench power in another: the second process
// finds the lab's GPIO lines through the socket it names.
func TestSimRunsALabOtherCommandsUse(t *testing.T) {
	dir := t.TempDir()
	sim := exec.Command(benchBin, "sim", "--units", "2", "--flaw", "cam-2:no-lockout", "--out", dir, "--scale", "0.01")
	stdout, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sim.Stderr = os.Stderr
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	table := make(chan string, 1) // what it printed up to the end of its table
	go func(table chan<- string) {
		var printed strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if table != nil {
				printed.WriteString(sc.Text() + "\n")
				if strings.HasPrefix(sc.Text(), "Ctrl-C stops the lab") {
					table <- printed.String()
					table = nil
				}
			}
		}
		if table != nil {
			table <- printed.String()
		}
		done <- sim.Wait()
	}(table)
	t.Cleanup(func() { sim.Process.Kill() })
	var out string
	select {
	case out = <-table:
		if !strings.Contains(out, "Ctrl-C stops the lab") {
			t.Fatalf("bench sim ended early: %v\n%s", <-done, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bench sim printed no unit table")
	}
	for _, want := range []string{"cam-1", "cam-2", filepath.Join(dir, "units", "cam-1", "tty"), "SIM_CAM_1_RELAY", "no-lockout", "CERTBENCH_SIM_GPIO=" + filepath.Join(dir, "gpio.sock")} {
		if !strings.Contains(out, want) {
			t.Errorf("bench sim's table lacks %q:\n%s", want, out)
		}
	}
	benchFile := filepath.Join(dir, "bench.yaml")
	t.Setenv("CERTBENCH_SIM_GPIO", filepath.Join(dir, "gpio.sock"))
	if code, o, e := runBin(t, nil, "check", "-c", benchFile); code != 0 {
		t.Fatalf("bench check on the sim's bench file: exit %d\n%s%s", code, o, e)
	}
	if code, o, e := runBin(t, nil, "power", "on", "cam-1", "-c", benchFile); code != 0 {
		t.Fatalf("bench power on: exit %d\n%s%s", code, o, e)
	}
	consoleFromAnotherProcess(t, benchFile, "cam-1")
	sim.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bench sim after Ctrl-C: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bench sim did not stop on SIGINT")
	}
}

func TestSimImageMakeAndInspect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "newer.img"), filepath.Join(dir, "tampered.img")
	for _, c := range [][]string{{"newer", good}, {"tampered-payload", bad}} {
		if code, o, e := runBin(t, nil, "sim", "image", "make", c[0], "--out", c[1]); code != 0 {
			t.Fatalf("make %s: exit %d\n%s%s", c[0], code, o, e)
		}
	}
	code, o, _ := runBin(t, nil, "sim", "image", "inspect", good)
	if code != 0 || !strings.Contains(o, "version 1.4.3") {
		t.Errorf("inspect newer: exit %d\n%s", code, o)
	}
	code, o, _ = runBin(t, nil, "sim", "image", "inspect", bad)
	if code != exitFail || !strings.Contains(o, "digest") || !strings.Contains(o, "FAIL") {
		t.Errorf("inspect tampered: exit %d\n%s", code, o)
	}
	if code, _, _ := runBin(t, nil, "sim", "image", "make", "no-such-variant", "--out", bad); code != exitUsage {
		t.Errorf("unknown variant: exit %d, want %d", code, exitUsage)
	}
	code, o, _ = runBin(t, nil, "sim", "image", "make", "unsigned", "--base64")
	if code != 0 || len(strings.Split(strings.TrimSpace(o), "\n")[0]) != 76 {
		t.Errorf("--base64: exit %d\n%s", code, o)
	}
	if code, _, _ := runBin(t, nil, "sim", "--flaw", "cam-9:no-lockout", "--units", "2"); code != exitUsage {
		t.Errorf("flaw on a unit that does not exist: exit %d, want %d", code, exitUsage)
	}
}

// consoleFromAnotherProcess runs `bench console` on a powered unit of a lab
// that another process runs, waits for the unit's login prompt on its
// screen, and quits with Ctrl-] q. The transcript must hold the boot.
func consoleFromAnotherProcess(t *testing.T, benchFile, unit string) {
	t.Helper()
	transcript := filepath.Join(t.TempDir(), "console.jsonl")
	c := exec.Command(benchBin, "console", "-c", benchFile, "--transcript", transcript, unit)
	keys, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	screen, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill() })
	prompt := make(chan bool, 1)
	go func() {
		var seen strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := screen.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "login: ") {
				prompt <- true
				io.Copy(io.Discard, screen)
				return
			}
			if err != nil {
				prompt <- false
				return
			}
		}
	}()
	// The unit was switched on before the console opened, and the console
	// discards what the port held before it opened (a stale prompt is not
	// current): press Enter, as a person would, until a fresh prompt shows.
	enter := time.NewTicker(500 * time.Millisecond)
	defer enter.Stop()
	deadline := time.After(30 * time.Second)
wait:
	for {
		select {
		case ok := <-prompt:
			if !ok {
				t.Fatalf("bench console ended before the unit's login prompt")
			}
			break wait
		case <-enter.C:
			keys.Write([]byte("\r"))
		case <-deadline:
			t.Fatal("no login prompt on bench console's screen")
		}
	}
	keys.Write([]byte{0x1d, 'q'})
	if err := c.Wait(); err != nil {
		t.Fatalf("bench console after Ctrl-] q: %v", err)
	}
	rec, err := os.ReadFile(transcript)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec), "login: ") || !strings.Contains(string(rec), `"dir":"rx"`) {
		t.Fatalf("transcript lacks the unit's output:\n%.2000s", rec)
	}
}

// TestSimImageMakeFromABase builds a tampered image on a confirmed newer one
// (--from) and on a given version and counter: once a unit's rollback floor
// is 3, a tampered variant of the factory image (counter 2) would be refused
// as too old and hide whether the unit checks the payload at all.
func TestSimImageMakeFromABase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	newer, tampered := filepath.Join(dir, "newer.img"), filepath.Join(dir, "tampered.img")
	if code, o, e := runBin(t, nil, "sim", "image", "make", "newer", "--out", newer); code != 0 {
		t.Fatalf("make newer: exit %d\n%s%s", code, o, e)
	}
	code, o, e := runBin(t, nil, "sim", "image", "make", "tampered-payload", "--from", newer, "--out", tampered)
	if code != 0 || !strings.Contains(e, "1.4.3 counter 3") {
		t.Fatalf("make tampered-payload --from newer: exit %d\n%s%s", code, o, e)
	}
	raw, err := os.ReadFile(tampered)
	if err != nil {
		t.Fatal(err)
	}
	im, err := image.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if im.Version().String() != "1.4.3" || im.Counter() != 3 {
		t.Fatalf("tampered --from newer: %s counter %d, want 1.4.3 counter 3", im.Version(), im.Counter())
	}
	if err := im.CheckRollback(3); err != nil {
		t.Fatalf("tampered --from newer is refused by a floor of 3: %v", err)
	}
	if err := im.VerifyDigest(); !errors.Is(err, image.ErrDigest) {
		t.Fatalf("tampered --from newer: digest check %v, want %v", err, image.ErrDigest)
	}

	// --version and --counter, with a valid image a unit would take.
	valid := filepath.Join(dir, "valid.img")
	if code, o, e := runBin(t, nil, "sim", "image", "make", "valid", "--version", "2.0.0", "--counter", "7", "--out", valid); code != 0 {
		t.Fatalf("make valid --version 2.0.0 --counter 7: exit %d\n%s%s", code, o, e)
	}
	code, o, _ = runBin(t, nil, "sim", "image", "inspect", valid)
	if code != 0 || !strings.Contains(o, "version 2.0.0, security counter 7") {
		t.Errorf("inspect valid 2.0.0/7: exit %d\n%s", code, o)
	}
	// --counter overrides what --from read.
	older := filepath.Join(dir, "older.img")
	if code, o, e := runBin(t, nil, "sim", "image", "make", "older", "--from", valid, "--counter", "5", "--out", older); code != 0 {
		t.Fatalf("make older --from valid --counter 5: exit %d\n%s%s", code, o, e)
	}
	if raw, _ := os.ReadFile(older); func() bool { im, err := image.Parse(raw); return err != nil || im.Counter() != 4 }() {
		t.Errorf("older --from 2.0.0/7 --counter 5: want counter 4")
	}

	for _, bad := range [][]string{
		{"--version", "not-a-version"},
		{"--from", filepath.Join(dir, "missing.img")},
		{"--from", filepath.Join(dir, "tampered.img"), "--counter", "0"}, // no image older than counter 0
	} {
		args := append([]string{"sim", "image", "make", "older", "--out", filepath.Join(dir, "x.img")}, bad...)
		if code, o, e := runBin(t, nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s%s", bad, code, exitUsage, o, e)
		}
	}
	if code, o, _ := runBin(t, nil, "sim", "image", "make", "--help"); code != 0 || !strings.Contains(o, "--from IMAGE") || !strings.Contains(o, "--counter") {
		t.Errorf("make --help does not document --from and --counter: exit %d\n%s", code, o)
	}
}

// TestSimImageMakeNamesTheNewVersion: make newer says the version the
// image has, not its base's.
func TestSimImageMakeNamesTheNewVersion(t *testing.T) {
	out := filepath.Join(t.TempDir(), "newer.img")
	code, _, e := runBin(t, nil, "sim", "image", "make", "newer", "--out", out)
	if code != 0 || !strings.Contains(e, "header says simcam-sc100 1.4.3 counter 3") || !strings.Contains(e, "made from simcam-sc100 1.4.2 counter 2") {
		t.Fatalf("exit %d: %q", code, e)
	}
}
