package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's walkthrough, run as written: the commands are read out of
// README.md's "The simulated lab" section, so the test breaks when the
// README drifts from what the bench does. `go run ./bench` (and a built
// `bin/bench`) is the bench binary TestMain built; the working folder is a
// fresh one standing for the repo root, where the README's relative paths
// (sim-lab/...) land.

// readmeSection returns the indented command lines of a README section
// (## TITLE up to the next ## heading), comments removed.
func readmeSection(t *testing.T, title string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "## ") {
			in = strings.HasPrefix(l, "## "+title)
			continue
		}
		if !in || !strings.HasPrefix(l, "    ") {
			continue
		}
		cmd := strings.TrimSpace(l)
		if i := strings.Index(cmd, " #"); i >= 0 {
			cmd = strings.TrimSpace(cmd[:i])
		}
		lines = append(lines, cmd)
	}
	if len(lines) == 0 {
		t.Fatalf("README.md has no section %q with commands", title)
	}
	return lines
}

// readmeCommand finds the one command line in lines that starts with
// prefix (after the bench's own name) and returns the bench's arguments.
func readmeCommand(t *testing.T, lines []string, prefix string) []string {
	t.Helper()
	var found []string
	for _, l := range lines {
		args, ok := benchArgs(l)
		if ok && strings.HasPrefix(strings.Join(args, " "), prefix) {
			if found != nil {
				t.Fatalf("README: two commands start with bench %s", prefix)
			}
			found = args
		}
	}
	if found == nil {
		t.Fatalf("README: no command bench %s... in %q", prefix, lines)
	}
	return found
}

// benchArgs splits a command line that runs the bench into its arguments.
func benchArgs(line string) ([]string, bool) {
	for _, p := range []string{"go run ./bench ", "bin/bench ", "bench "} {
		if rest, ok := strings.CutPrefix(line, p); ok {
			return strings.Fields(rest), true
		}
	}
	return nil, false
}

// proc is a bench process of the walkthrough, its output watched.
type proc struct {
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
	err  error
}

func startProc(t *testing.T, dir string, env []string, stdin io.Reader, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(benchBin, args...), done: make(chan struct{})}
	p.cmd.Dir, p.cmd.Env, p.cmd.Stdin = dir, env, stdin
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(syscall.SIGTERM)
			<-p.done
		}
	})
	return p
}

// waitFor waits until the process printed want, or fails the test when it
// ends first. The context only keeps a hung process from hanging the test.
func (p *proc) waitFor(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	for !strings.Contains(p.out.String(), want) {
		select {
		case <-p.done:
			if strings.Contains(p.out.String(), want) {
				return
			}
			t.Fatalf("bench %v ended (%v) before printing %q:\n%s", p.cmd.Args[1:], p.err, want, p.out.String())
		case <-ctx.Done():
			t.Fatalf("bench %v never printed %q:\n%s", p.cmd.Args[1:], want, p.out.String())
		case <-p.out.wake():
		}
	}
}

func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	<-p.done
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if p.err != nil {
		t.Fatalf("bench %v: %v", p.cmd.Args[1:], p.err)
	}
	return 0
}

// expandEnv turns the README's `export NAME=VALUE` into NAME=VALUE with
// $PWD as dir.
func readmeExport(t *testing.T, lines []string, dir string) string {
	t.Helper()
	for _, l := range lines {
		if kv, ok := strings.CutPrefix(l, "export "); ok {
			return os.Expand(kv, func(k string) string {
				if k == "PWD" {
					return dir
				}
				t.Fatalf("README export uses $%s", k)
				return ""
			})
		}
	}
	t.Fatal("README: no export line in the walkthrough")
	return ""
}

func TestReadmeWalkthroughAsWritten(t *testing.T) {
	skipOnNonLinux(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lines := readmeSection(t, "The simulated lab")
	root := t.TempDir()
	env := os.Environ()

	lab := startProc(t, root, env, nil, readmeCommand(t, lines, "sim --units")...)
	lab.waitFor(t, ctx, "Ctrl-C stops the lab")
	env = append(env, readmeExport(t, lines, root))

	// The hints the lab prints name a bench command that exists.
	for _, l := range strings.Split(lab.out.String(), "\n") {
		if strings.Contains(l, " -c ") && strings.Contains(l, "bench") {
			if strings.Contains(l, "bench demo") || strings.Contains(l, "bench run") {
				t.Errorf("the lab's hint names a command that does not exist yet: %q", l)
			}
		}
	}

	code, out, errs := runBinIn(t, root, env, readmeCommand(t, lines, "check")...)
	if code != 0 {
		t.Fatalf("README's bench check: exit %d\n%s%s", code, out, errs)
	}

	keys, userKeys, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	defer userKeys.Close()
	con := startProc(t, root, env, keys, readmeCommand(t, lines, "console")...)
	con.waitFor(t, ctx, "connected to")
	code, out, errs = runBinIn(t, root, env, readmeCommand(t, lines, "power on")...)
	if code != 0 {
		t.Fatalf("README's bench power on: exit %d\n%s%s", code, out, errs)
	}
	con.waitFor(t, ctx, "login:")
	userKeys.Write([]byte{0x1d, 'q'}) // "Ctrl-] q quits", as the README says
	if code := con.exitCode(t); code != 0 {
		t.Fatalf("console: exit %d\n%s", code, con.out.String())
	}
	tr, _ := filepath.Glob(filepath.Join(root, "console-cam-1-*.jsonl"))
	if len(tr) != 1 {
		t.Fatalf("README says the transcript is console-FIXTURE-TIME.jsonl in the current folder; found %q", tr)
	}
	b, err := os.ReadFile(tr[0])
	if err != nil || !strings.Contains(string(b), "login:") {
		t.Fatalf("transcript %s: %v\n%s", tr[0], err, b)
	}
	if fi, err := os.Stat(tr[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("transcript %s: mode %v, %v; the README says 0600", tr[0], fi.Mode().Perm(), err)
	}
}

// runBinIn runs the bench binary in dir with env.
func runBinIn(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	p := startProc(t, dir, env, nil, args...)
	code := p.exitCode(t)
	return code, p.out.String(), ""
}

// transcriptEvents reads a transcript's event records.
func transcriptEvents(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Dir, Event, Detail string
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v: %q", path, err, sc.Text())
		}
		if r.Dir == "event" {
			evs = append(evs, fmt.Sprintf("%s %s", r.Event, r.Detail))
		}
	}
	return evs
}

// TestSimHintsRunAsPrinted: the lab started as bin/bench (the README's
// build) prints hints that run, pasted as printed, from the same folder.
func TestSimHintsRunAsPrinted(t *testing.T) {
	skipOnNonLinux(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(benchBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "bench"), exe, 0o755); err != nil {
		t.Fatal(err)
	}
	lab := &proc{cmd: exec.Command("bin/bench", "sim", "--units", "1", "--scale", "0.01"), done: make(chan struct{})}
	lab.cmd.Dir, lab.cmd.Stdout, lab.cmd.Stderr = root, &lab.out, &lab.out
	if err := lab.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { lab.err = lab.cmd.Wait(); close(lab.done) }()
	defer func() { lab.cmd.Process.Signal(syscall.SIGTERM); <-lab.done }()
	lab.waitFor(t, ctx, "Ctrl-C stops the lab")

	var hints []string
	env := os.Environ()
	for _, l := range strings.Split(lab.out.String(), "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, " #"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		if kv, ok := strings.CutPrefix(l, "export "); ok {
			env = append(env, kv)
		}
		if strings.HasPrefix(l, "bin/bench ") {
			hints = append(hints, l)
		}
	}
	if len(hints) < 3 {
		t.Fatalf("the lab's hints do not name the bench as it was started (bin/bench):\n%s", lab.out.String())
	}
	for _, h := range hints {
		if strings.Contains(h, " console ") {
			continue // interactive: the walkthrough test drives it
		}
		f := strings.Fields(h)
		c := exec.Command(f[0], f[1:]...)
		c.Dir, c.Env = root, env
		if out, err := c.CombinedOutput(); err != nil {
			t.Errorf("hint %q as printed: %v\n%s", h, err, out)
		}
	}
}

// TestReadmeBuildCommandsWork: a `go build -o OUT ./bench` the README
// gives must not name a folder of the repository (go build -o bench
// ./bench writes bench/bench), and must build.
func TestReadmeBuildCommandsWork(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		i := strings.Index(l, "go build -o ")
		if i < 0 {
			continue
		}
		f := strings.Fields(strings.Trim(l[i:], "`"))
		if len(f) < 5 || f[4] != "./bench" && !strings.HasPrefix(f[4], "./bench`") {
			continue
		}
		out := f[3]
		n++
		if fi, err := os.Stat(filepath.Join("..", out)); err == nil && fi.IsDir() {
			t.Errorf("README: %q writes into the folder %s/ of the repository, not a file %s", strings.Join(f[:5], " "), out, out)
		}
	}
	if n == 0 {
		t.Fatal("README gives no go build -o ... ./bench command")
	}
}

// planned are the commands design.md lists that are not there yet.
var planned = []string{"demo", "run", "suites", "agent", "submit"}

// TestNoPromiseOfMissingCommands: wherever the README or bench sim --help
// names a bench command that does not exist yet, the same paragraph says
// it is not there yet.
func TestNoPromiseOfMissingCommands(t *testing.T) {
	have := map[string]bool{}
	for _, c := range root.Commands() {
		have[c.Name()] = true
	}
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, help, _ := runBin(t, nil, "sim", "--help")
	for _, doc := range []struct{ name, text string }{{"README.md", string(b)}, {"bench sim --help", help}} {
		for _, para := range strings.Split(doc.text, "\n\n") {
			for _, p := range planned {
				if have[p] {
					continue
				}
				if !strings.Contains(para, "bench "+p+" ") && !strings.Contains(para, "bench "+p+"`") && !strings.Contains(para, "bench "+p+",") {
					continue
				}
				if !strings.Contains(para, "not there yet") {
					t.Errorf("%s promises bench %s, which does not exist yet, without saying so:\n%s", doc.name, p, para)
				}
			}
		}
	}
}
