package main

import (
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/certbench/certbench/bench/buildinfo"
	"github.com/certbench/certbench/results"
)

// benchBin is the real bench binary, built once for the tests that run it
// the way a user does.
var benchBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bench-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	benchBin = filepath.Join(dir, "bench")
	build := exec.Command("go", "build", "-o", benchBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build bench:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runBin runs the bench binary and returns its exit code, stdout and stderr.
func runBin(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(benchBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run bench %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// runIn runs the bench command in this process (so it sees GPIO lines the
// test registered) and returns its exit code and output.
func runIn(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	defer root.SetOut(nil)
	defer root.SetErr(nil)
	code := execute(args)
	return code, out.String()
}

// writeBench writes a bench file holding fixtures (YAML list items) beside
// copies of the test profile and declarations.
func writeBench(t *testing.T, fixtures string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"profile.yaml", "declarations.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "bench.yaml")
	text := "bench: test-bench\nfixtures:\n" + fixtures
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHelpOnEverySubcommand(t *testing.T) {
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "completion" || c.Name() == "help" {
			continue
		}
		code, out, errs := runBin(t, nil, c.Name(), "--help")
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("bench %s --help: exit %d, stdout %q, stderr %q", c.Name(), code, out, errs)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runBin(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "bench ") || !strings.Contains(out, "module github.com/certbench/certbench\n") || !strings.Contains(out, " go1.") {
		t.Fatalf("bench version: exit %d, %q", code, out)
	}
	// What bench version prints is what a record carries.
	code, out, _ = runBin(t, nil, "version", "-o", "json")
	var in buildinfo.Info
	if err := json.Unmarshal([]byte(out), &in); code != 0 || err != nil || in.Module != "github.com/certbench/certbench" || in.Version == "" {
		t.Fatalf("bench version -o json: exit %d, %v, %q", code, err, out)
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	code, _, errs := runBin(t, nil, "frobnicate")
	if code != exitUsage || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestBadBenchFileExits2WithPosition(t *testing.T) {
	path := writeBench(t, `  - name: cam-1
    power: {line: GPIO17, activ: low}
    console: {tcp: "127.0.0.1:1"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	code, _, errs := runBin(t, nil, "check", "-c", path)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitUsage, errs)
	}
	// The unknown key is named with its line and column.
	if !strings.Contains(errs, "bench.yaml:4:") || !strings.Contains(errs, "activ") {
		t.Fatalf("stderr does not position the unknown key: %q", errs)
	}
}

func skipOnNonLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ptys and GPIO fakes as used here are Linux-only")
	}
}

// sealRun writes one run of fixture into the archive at dir: a transcript
// holding text (one rx line) and the cases, signed with key.
func sealRun(t *testing.T, dir string, key crypto.Signer, fixture, text string, cases ...results.Case) *results.Run {
	t.Helper()
	a, err := results.OpenArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Begin(results.Meta{Bench: "test-bench", Fixture: fixture})
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf(`{"mono_ns":1000,"wall":"2026-11-24T23:50:01Z","dir":"rx","text":%q}`+"\n", text)
	if err := run.AddEvidence("console-"+fixture+".jsonl", results.KindTranscript, []byte(line)); err != nil {
		t.Fatal(err)
	}
	rec := &results.Record{
		Device:       results.Device{Model: "TestDev", Serial: "T-1", Firmware: results.Firmware{Version: "1.2.3"}},
		Declarations: results.Declarations{Name: "declarations.yaml", SHA256: strings.Repeat("ab", 32)},
		Cases:        cases,
	}
	if err := run.Seal(rec, key); err != nil {
		t.Fatal(err)
	}
	return run
}
