package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/drivers/power/powertest"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/results"
	"github.com/creack/pty"
	"periph.io/x/conn/v3/gpio"
)

// startSimLab runs `bench sim` in its own process, as a user would in a
// second terminal, and returns its folder once its units are up. Its GPIO
// socket is exported for the commands the test runs next.
func startSimLab(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	sim := exec.Command(benchBin, append([]string{"sim", "--out", dir}, args...)...)
	stdout, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sim.Stderr = os.Stderr
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Signal(syscall.SIGINT); sim.Wait() })
	up := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Ctrl-C stops the lab") {
				up <- true
			}
		}
		up <- false
	}()
	select {
	case ok := <-up:
		if !ok {
			t.Fatal("bench sim ended before its units were up")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bench sim printed no unit table")
	}
	t.Setenv("CERTBENCH_SIM_GPIO", filepath.Join(dir, "gpio.sock"))
	if code, o, e := runBin(t, nil, "keygen", "--key", filepath.Join(dir, "bench.key")); code != 0 {
		t.Fatalf("keygen: %d\n%s%s", code, o, e)
	}
	return dir
}

func TestRunThroughTheBinary(t *testing.T) {
	dir := startSimLab(t, "--units", "3", "--flaw", "cam-2:uart-root-shell", "--flaw", "cam-3:open-bootloader", "--scale", "0.05")
	benchFile := filepath.Join(dir, "bench.yaml")
	code, out, errOut := runBin(t, nil, "run", "-c", benchFile)
	if code != exitFail {
		t.Fatalf("bench run: exit %d, want 1 (two flawed units)\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"cam-1\tPASS", "cam-2\tFAIL", "cam-3\tFAIL"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"cam-2: debug-interfaces/uart-shell-needs-auth FAIL: the UART gave a shell prompt", "cam-3: debug-interfaces/uart-shell-needs-auth FAIL: the bootloader"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("progress lacks %q:\n%s", want, errOut)
		}
	}
	if code, o, e := runBin(t, nil, "verify", "--key", filepath.Join(dir, "bench.pub"), filepath.Join(dir, "archive")); code != 0 {
		t.Fatalf("the run's archive does not verify: %d\n%s%s", code, o, e)
	}
	// A record made on the simulated lab says so, down to the GPIO driver.
	recs, _ := filepath.Glob(filepath.Join(dir, "archive", "runs", "*", "record.json"))
	if len(recs) != 3 {
		t.Fatalf("records: %v", recs)
	}
	for _, p := range recs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rec results.Record
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		if !rec.Fixture.Simulated || rec.Fixture.Parts[1].Driver != "github.com/certbench/certbench/fixtures/sim/gpiosock" {
			t.Errorf("%s: %+v", p, rec.Fixture)
		}
	}
	// A second run on one fixture, good unit only: exit 0.
	if code, o, e := runBin(t, nil, "run", "-c", benchFile, "-f", "cam-1", "-s", "debug-interfaces"); code != 0 {
		t.Fatalf("good unit alone: exit %d\n%s%s", code, o, e)
	}
	if code, _, e := runBin(t, nil, "run", "-c", benchFile, "-s", "no-such-suite"); code != exitUsage || !strings.Contains(e, "debug-interfaces") {
		t.Fatalf("unknown suite: exit %d: %s", code, e)
	}
}

// TestRunSignalSealsAnInterruptedRecord: SIGTERM while a case runs leaves
// every relay at its safe level and a record that says it was interrupted
// and verifies; a second signal does not cut the sealing short.
func TestRunSignalSealsAnInterruptedRecord(t *testing.T) {
	dir := startSimLab(t, "--units", "1", "--scale", "1") // real time: the case is still booting when the signal comes
	cmd := exec.Command(benchBin, "run", "-c", filepath.Join(dir, "bench.yaml"), "-o", "json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	events := make(chan runner.Event, 16)
	go func() {
		defer close(events)
		dec := json.NewDecoder(stdout)
		for {
			var e runner.Event
			if dec.Decode(&e) != nil {
				return
			}
			events <- e
		}
	}()
	var end runner.Event
	for e := range events {
		if e.Kind == runner.EventCaseStart {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Process.Signal(syscall.SIGINT)
		}
		if e.Kind == runner.EventRunEnd {
			end = e
		}
	}
	err = cmd.Wait()
	ee, _ := err.(*exec.ExitError)
	if ee == nil || ee.ExitCode() != exitIncomplete {
		t.Fatalf("interrupted run: %v, want exit 3", err)
	}
	if end.Verdict != "NOT_RUN" || !strings.Contains(end.Reason, "interrupted: signal ") {
		t.Fatalf("run end: %+v", end)
	}
	if code, o, e := runBin(t, nil, "verify", "--key", filepath.Join(dir, "bench.pub"), filepath.Join(dir, "archive")); code != 0 {
		t.Fatalf("the interrupted run's archive does not verify: %d\n%s%s", code, o, e)
	}
	// The relay went to its safe level: the power log's last event says so.
	logs, _ := filepath.Glob(filepath.Join(dir, "archive", "runs", "*", "evidence", "power-cam-1.jsonl"))
	if len(logs) != 1 {
		t.Fatalf("power logs: %v", logs)
	}
	f, err := os.Open(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := results.ReadPowerEvents(f)
	if err != nil || len(evs) == 0 {
		t.Fatalf("power events: %v %v", evs, err)
	}
	if last := evs[len(evs)-1]; last.Action != "safe" {
		t.Fatalf("the run's last power event is %+v, want the safe level", last)
	}
}

// TestManualSessionsAndRunsShareTheFixture: bench power beside an open
// bench console works (the README's walkthrough), a run is refused while a
// person holds the fixture, and bench power is refused during a run.
func TestManualSessionsAndRunsShareTheFixture(t *testing.T) {
	skipOnNonLinux(t)
	pin := powertest.Register(t, "CBTEST_LEASE_RELAY", gpio.High)
	benchFile := relayFixture(t, "CBTEST_LEASE_RELAY")
	b, err := fixtures.LoadBench(benchFile)
	if err != nil {
		t.Fatal(err)
	}
	leases := runner.Leases(b)
	con, err := leases.Share(t.Context(), "cam-1", "bench console")
	if err != nil {
		t.Fatal(err)
	}
	if code, out := runIn(t, "power", "on", "-c", benchFile, "cam-1"); code != 0 {
		t.Fatalf("bench power beside a console: exit %d\n%s", code, out)
	}
	if pin.Read() != gpio.Low {
		t.Fatal("bench power on beside a console did not switch the relay")
	}
	con.Release()
	run, err := leases.Acquire(t.Context(), "cam-1", "bench run")
	if err != nil {
		t.Fatal(err)
	}
	defer run.Release()
	code, out := runIn(t, "power", "off", "-c", benchFile, "cam-1")
	if code != exitIncomplete { // the refusal names the holder: bench/lease tests the words
		t.Fatalf("bench power during a run: exit %d\n%s", code, out)
	}
	if pin.Read() != gpio.Low {
		t.Fatal("a refused bench power switched the relay anyway")
	}
}

// TestRunLiveViewOnATerminal: on a terminal, bench run keeps a line per
// fixture and redraws them; its last view says each fixture's end.
func TestRunLiveViewOnATerminal(t *testing.T) {
	dir := startSimLab(t, "--units", "2", "--flaw", "cam-2:uart-root-shell", "--scale", "0.05")
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	defer m.Close()
	cmd := exec.Command(benchBin, "run", "-c", filepath.Join(dir, "bench.yaml"))
	cmd.Stderr = s
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var view bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&view, m); close(done) }() // ends with EIO once bench exits
	cmd.Wait()
	<-done
	v := view.String()
	i := strings.LastIndex(v, "\x1b[2A")
	if i < 0 {
		t.Fatalf("no redraw of the 2 fixture lines:\n%q", v)
	}
	last := v[i:]
	for _, want := range []string{`cam-1 +sealed: PASS  [0-9]+ PASS`, `cam-2 +sealed: FAIL  [0-9]+ FAIL`} {
		if !regexp.MustCompile(want).MatchString(last) {
			t.Errorf("last view lacks %q:\n%q", want, last)
		}
	}
}
