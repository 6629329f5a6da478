package runner_test

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/certbench/certbench/bench/lease"
	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/drivers/console/consoletest"
	"github.com/certbench/certbench/drivers/power/powertest"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites/debug"
	"github.com/certbench/certbench/suites/suite"
	"periph.io/x/conn/v3/gpio"
)

// scale runs the lab fast, but slow enough that the case's one key lands
// inside a 3 s autoboot window (150 ms here) on a loaded machine.
const scale = 0.05

type lab struct {
	bench *fixtures.Bench
	key   crypto.Signer
	dir   string
}

func startLab(t *testing.T, units ...sim.UnitConfig) *lab {
	t.Helper()
	dir := t.TempDir()
	l, err := sim.Start(t.Context(), sim.Config{Dir: filepath.Join(dir, "units"), TimeScale: scale, Units: units})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	path := filepath.Join(dir, "lab", "bench.yaml")
	if err := l.WriteBenchFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := fixtures.LoadBench(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := results.GenerateKey(results.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	return &lab{bench: b, key: key, dir: dir}
}

func (l *lab) config(suites ...*suite.Suite) runner.Config {
	return runner.Config{
		Bench:     l.bench,
		Suites:    suites,
		Archive:   filepath.Join(l.dir, "archive"),
		Key:       l.key,
		Software:  "test",
		TimeScale: scale,
		Leases:    &lease.Dir{Path: filepath.Join(l.dir, "leases")},
	}
}

func verdicts(outs []runner.Outcome) map[string]results.Case {
	m := map[string]results.Case{}
	for _, o := range outs {
		if o.Record == nil {
			continue
		}
		for _, c := range o.Record.Cases {
			m[o.Fixture+" "+c.ID] = c
		}
	}
	return m
}

func TestUARTShellCaseAgainstTheLab(t *testing.T) {
	l := startLab(t,
		sim.UnitConfig{Name: "rt-good"},
		sim.UnitConfig{Name: "rt-root", Flaws: []sim.Flaw{sim.UARTRootShell}},
		sim.UnitConfig{Name: "rt-boot", Flaws: []sim.Flaw{sim.OpenBootloader}},
		sim.UnitConfig{Name: "rt-other", Flaws: []sim.Flaw{sim.DefaultPassword, sim.NoLockout}},
	)
	var mu sync.Mutex
	var events []runner.Event
	cfg := l.config(debug.Suite)
	cfg.Progress = func(e runner.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
	outs, err := runner.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if o.Err != nil {
			t.Fatalf("%s: %v", o.Fixture, o.Err)
		}
	}
	want := map[string]results.Verdict{
		"rt-good":  results.Pass,
		"rt-root":  results.Fail,
		"rt-boot":  results.Fail,
		"rt-other": results.Pass, // its flaws are not this case's
	}
	got := verdicts(outs)
	for fx, v := range want {
		c := got[fx+" debug-interfaces/uart-shell-needs-auth"]
		if c.Verdict != v {
			t.Errorf("%s: %s (%s), want %s", fx, c.Verdict, c.Reason, v)
		}
	}
	if r := got["rt-root debug-interfaces/uart-shell-needs-auth"].Reason; !strings.Contains(r, "shell prompt") {
		t.Errorf("root shell reason: %q", r)
	}
	if r := got["rt-boot debug-interfaces/uart-shell-needs-auth"].Reason; !strings.Contains(r, "bootloader") {
		t.Errorf("open bootloader reason: %q", r)
	}
	for _, o := range outs {
		fx := o.Record.Fixture
		if !fx.Simulated || len(fx.Parts) != 3 || fx.Parts[1].Driver != "github.com/certbench/certbench/fixtures/sim" {
			t.Errorf("%s: a record of the simulated lab does not say so: %+v", o.Fixture, fx)
		}
		if con := fx.Parts[0]; con.Role != "console" || con.Identity["kind"] != "pty" || !strings.HasPrefix(con.Identity["node"], "/dev/pts/") {
			t.Errorf("%s: the console's identity is not recorded: %+v", o.Fixture, con)
		}
	}
	if code := runner.ExitCode(outs); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	vr, err := results.Verify(filepath.Join(l.dir, "archive"), results.VerifyOptions{Keys: []crypto.PublicKey{l.key.Public()}})
	if err != nil || !vr.OK() {
		t.Fatalf("archive does not verify: %v %+v", err, vr)
	}
	// The console's timeline holds the power events, and a mark at each cut.
	logs, _ := filepath.Glob(filepath.Join(l.dir, "archive", "runs", "*", "evidence", "console-rt-good.jsonl"))
	if len(logs) != 1 {
		t.Fatalf("transcripts: %v", logs)
	}
	f, err := os.Open(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := results.ReadTranscript(f)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ln := range lines {
		seen[ln.Event] = true
	}
	if !seen["power"] || !seen["mark"] || !seen["open"] {
		t.Errorf("the transcript's events: %v, want open, power and mark among them", seen)
	}
	kinds := map[string]int{}
	for _, e := range events {
		kinds[e.Kind]++
	}
	if kinds[runner.EventRunStart] != 4 || kinds[runner.EventCaseEnd] != 4 || kinds[runner.EventRunEnd] != 4 {
		t.Errorf("progress events: %v", kinds)
	}
}

func TestLeasedFixtureIsRefused(t *testing.T) {
	l := startLab(t, sim.UnitConfig{Name: "rt-lease"})
	cfg := l.config(debug.Suite)
	held, err := cfg.Leases.Acquire(t.Context(), "rt-lease", "bench console")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	outs, err := runner.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Err == nil || !strings.Contains(outs[0].Err.Error(), "in use by bench console") || outs[0].RunID != "" {
		t.Fatalf("a leased fixture: %+v", outs[0])
	}
	if runner.ExitCode(outs) != 3 {
		t.Fatalf("exit code %d, want 3", runner.ExitCode(outs))
	}
}

func TestCancelledRunIsSealedAsInterrupted(t *testing.T) {
	l := startLab(t, sim.UnitConfig{Name: "rt-cancel"})
	ctx, cancel := context.WithCancel(t.Context())
	cfg := l.config(debug.Suite)
	cfg.Progress = func(e runner.Event) {
		if e.Kind == runner.EventCaseStart {
			cancel() // as a SIGTERM would, once the case is under way
		}
	}
	outs, err := runner.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := outs[0]
	if o.Err != nil || o.Record == nil {
		t.Fatalf("no record for a cancelled run: %v", o.Err)
	}
	if o.Record.Verdict != results.NotRun || !strings.Contains(o.Record.Reason, "interrupted") {
		t.Fatalf("cancelled run: verdict %s, reason %q", o.Record.Verdict, o.Record.Reason)
	}
	vr, err := results.Verify(filepath.Join(l.dir, "archive"), results.VerifyOptions{Keys: []crypto.PublicKey{l.key.Public()}})
	if err != nil || !vr.OK() {
		t.Fatalf("archive does not verify: %v %+v", err, vr)
	}
}

// relabel rewrites the serial on the lab's bench file's labels, as a label
// that does not belong to the unit on the fixture.
func (l *lab) relabel(t *testing.T, serial string) {
	t.Helper()
	bench := filepath.Join(l.dir, "lab", "bench.yaml")
	bf, err := os.ReadFile(bench)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`serial: [A-Z0-9]+`)
	if err := os.WriteFile(bench, re.ReplaceAll(bf, []byte("serial: "+serial)), 0o644); err != nil {
		t.Fatal(err)
	}
	if l.bench, err = fixtures.LoadBench(bench); err != nil {
		t.Fatal(err)
	}
}

func TestIdentityIsReadFromTheUnit(t *testing.T) {
	l := startLab(t, sim.UnitConfig{Name: "rt-id"})
	outs, err := runner.Run(t.Context(), l.config(debug.Suite))
	if err != nil {
		t.Fatal(err)
	}
	o := outs[0]
	if o.Err != nil || o.Record == nil {
		t.Fatal(o.Err)
	}
	d := o.Record.Device
	if d.Model != "SimCam SC-100" || d.Firmware.Version != "1.4.2" || d.Serial != l.bench.Fixtures[0].Label.Serial {
		t.Fatalf("device block %+v", d)
	}
	if o.Record.Verdict != results.Pass {
		t.Fatalf("verdict %s: %+v", o.Record.Verdict, o.Record.Cases)
	}
}

func TestWrongUnitStopsTheRunAsError(t *testing.T) {
	l := startLab(t, sim.UnitConfig{Name: "rt-wrong"})
	l.relabel(t, "SC100-NOTTHISONE")
	outs, err := runner.Run(t.Context(), l.config(debug.Suite))
	if err != nil {
		t.Fatal(err)
	}
	rec := outs[0].Record
	if rec == nil {
		t.Fatal(outs[0].Err)
	}
	if rec.Verdict != results.Error || !strings.Contains(rec.Reason, "the label says SC100-NOTTHISONE") {
		t.Fatalf("a unit that is not the label's: %s %q", rec.Verdict, rec.Reason)
	}
	for _, c := range rec.Cases {
		if c.Verdict != results.Error || !strings.Contains(c.Reason, "wrong unit") {
			t.Fatalf("case %s: %s %q", c.ID, c.Verdict, c.Reason)
		}
	}
}

// TestIdentityOfAUnitWithoutALogin (the example profile's identify
// procedure reads the boot banner): a unit that drops straight into a root
// shell still says who it is, and its case runs (and fails) rather than
// the identity waiting for a login prompt that never comes.
func TestIdentityOfAUnitWithoutALogin(t *testing.T) {
	l := startLab(t, sim.UnitConfig{Name: "rt-idroot", Flaws: []sim.Flaw{sim.UARTRootShell}})
	outs, err := runner.Run(t.Context(), l.config(debug.Suite))
	if err != nil {
		t.Fatal(err)
	}
	rec := outs[0].Record
	if rec == nil || rec.Verdict != results.Fail || rec.Device.Firmware.Version != "1.4.2" {
		t.Fatalf("%v %+v", outs[0].Err, rec)
	}
}

// TestLostConsoleIsTheBenchsErrorAndTheOthersFinish: a fixture whose serial
// server goes away mid-run ends in ERROR naming the lost console, never in
// a device verdict, while the fixture beside it runs to its PASS.
func TestLostConsoleIsTheBenchsErrorAndTheOthersFinish(t *testing.T) {
	l := startLab(t, sim.UnitConfig{Name: "rt-ok"})
	powertest.Register(t, "CBTEST_LOST_RELAY", gpio.Low)
	srv := consoletest.NewServer(t)
	bench := filepath.Join(l.dir, "lab", "bench.yaml")
	f, err := os.OpenFile(bench, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, `  - name: rt-lost
    power: {line: CBTEST_LOST_RELAY, safe: off, min_off: 1ms}
    console: {tcp: "%s"}
    label: {serial: SC100-LOST}
    profile: profiles/simcam-sc100.yaml
    declarations: declarations/simcam-sc100.yaml
`, srv.Addr)
	f.Close()
	if l.bench, err = fixtures.LoadBench(bench); err != nil {
		t.Fatal(err)
	}
	go func() {
		srv.Far() // the bench has connected: the server goes down
		srv.Stop()
	}()
	cfg := l.config(debug.Suite)
	cfg.TimeScale = 0.01 // the lost console's wait gives up after 3 s, not 15
	outs, err := runner.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*results.Record{}
	for _, o := range outs {
		got[o.Fixture] = o.Record
	}
	if r := got["rt-ok"]; r == nil || r.Verdict != results.Pass {
		t.Fatalf("the fixture beside the lost one: %+v", r)
	}
	r := got["rt-lost"]
	if r == nil || r.Verdict != results.Error || !strings.Contains(r.Reason, `console "rt-lost" lost`) {
		t.Fatalf("the fixture whose console was lost: %+v", r)
	}
}
