package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/suites"
	"github.com/certbench/certbench/suites/expect"
)

// TestDemoThroughTheBinary runs `bench demo` as the README's first command
// does: every flaw on some unit, the table says got and want per unit,
// the flaws no case tests yet are named so, the reports are written, the
// archive verifies with the public key beside it, and the lab's folder is
// gone.
func TestDemoThroughTheBinary(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	code, stdout, stderr := runBin(t, nil, "demo", "--out", out)
	if code != exitOK {
		t.Fatalf("bench demo: exit %d, want 0\n%s%s", code, stdout, stderr)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], "cam-") {
			rows[f[0]] = l
		}
	}
	if len(rows) != expect.DefaultUnits() {
		t.Fatalf("%d unit rows, want %d:\n%s", len(rows), expect.DefaultUnits(), stdout)
	}
	// One "got / want" column per suite: debug-interfaces first, then
	// whatever suites follow it.
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`cam-1 +none \(good unit\) +PASS / PASS +(?:PASS / PASS +)*ok`),
		regexp.MustCompile(`uart-root-shell +FAIL / FAIL +(?:\S+ / \S+ +)*ok`),
		regexp.MustCompile(`open-bootloader +FAIL / FAIL +(?:\S+ / \S+ +)*ok`),
		regexp.MustCompile(`default-password \(no case yet\) +PASS / PASS +(?:\S+ / \S+ +)*ok`),
		regexp.MustCompile(`(?m)^  default-password +\(suite to come: default credentials\)`),
		regexp.MustCompile(fmt.Sprintf(`Self-check passed: all %d units`, expect.DefaultUnits())),
		regexp.MustCompile(fmt.Sprintf(`The archive verifies with the demo's key \(%d runs\)`, expect.DefaultUnits())),
	} {
		if !want.MatchString(stdout) {
			t.Errorf("summary lacks %s:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"report.html", "junit.xml", "demo.pub", "archive/index.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("demo output: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "lab")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lab's folder was kept without --keep: %v", err)
	}
	if code, o, e := runBin(t, nil, "verify", "--key", filepath.Join(out, "demo.pub"), filepath.Join(out, "archive")); code != 0 {
		t.Fatalf("the demo's archive does not verify with its public key: %d\n%s%s", code, o, e)
	}
	b, err := os.ReadFile(filepath.Join(out, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var ju struct {
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
	}
	if err := xml.Unmarshal(b, &ju); err != nil || ju.Failures != mustFail() || ju.Errors != 0 {
		t.Errorf("junit: %+v %v, want %d failures (the cases expect.Table calls FAIL on the demo's units), no errors", ju, err, mustFail())
	}
	// Plain progress off a terminal: a line per finished case, no redraw.
	if strings.Contains(stderr, "\x1b[") || !strings.Contains(stderr, "debug-interfaces/uart-shell-needs-auth FAIL (as expected)") {
		t.Errorf("progress off a terminal:\n%q", stderr)
	}
}

func TestDemoKeepAndFewUnits(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	code, stdout, stderr := runBin(t, nil, "demo", "--out", out, "--units", "4", "--keep")
	if code != exitOK {
		t.Fatalf("bench demo --units 4: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "lab", "bench.yaml")); err != nil {
		t.Errorf("--keep: %v", err)
	}
	if !strings.Contains(stdout, "Self-check passed: all 4 units") {
		t.Errorf("summary:\n%s", stdout)
	}
	// The folder is not empty now: a second demo there is refused.
	code, _, stderr = runBin(t, nil, "demo", "--out", out)
	if code != exitUsage || !strings.Contains(stderr, "not empty") {
		t.Errorf("demo into a used folder: exit %d: %s", code, stderr)
	}
	code, _, stderr = runBin(t, nil, "demo", "--units", "3")
	if code != exitUsage || !strings.Contains(stderr, "at least 4") {
		t.Errorf("--units 3: exit %d: %s", code, stderr)
	}
}

// TestDemoCatchesAWrongVerdict: when the bench's verdict is not what a
// flaw calls for, the demo says which unit and case, and exits 1. The
// table is changed to claim uart-root-shell passes the debug case, as a
// broken case would make it.
func TestDemoCatchesAWrongVerdict(t *testing.T) {
	saved := expect.Table
	t.Cleanup(func() { expect.Table = saved })
	expect.Table = slices.Clone(saved)
	for i, r := range expect.Table {
		if r.Flaw == sim.UARTRootShell {
			expect.Table[i] = expect.Row{Flaw: r.Flaw, Pending: "a test"}
		}
	}
	var stdout, stderr bytes.Buffer
	// One flaw per unit: on a shared unit another flaw could make the same case FAIL.
	n := expect.DefaultUnits()
	err := runDemo(context.Background(), &stdout, &stderr, demoOptions{out: filepath.Join(t.TempDir(), "demo"), units: n, scale: demoScale})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitFail {
		t.Fatalf("demo with a wrong expectation: %v, want exit 1\n%s%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"WRONG", "(uart-root-shell): debug-interfaces/uart-shell-needs-auth: got FAIL, want PASS or NOT_APPLICABLE", fmt.Sprintf("Self-check FAILED: 1 of %d units", n)} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestDemoLiveViewOnATerminal: with stderr on a terminal the progress is
// one line per unit, redrawn in place, each unit ticked once sealed.
func TestDemoLiveViewOnATerminal(t *testing.T) {
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	defer m.Close()
	cmd := exec.Command(benchBin, "demo", "--out", filepath.Join(t.TempDir(), "demo"), "--units", "4")
	cmd.Stderr = s
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var view bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&view, m); close(done) }() // ends with EIO once the demo exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo: %v\n%s%s", err, stdout.String(), view.String())
	}
	<-done
	v := view.String()
	if !strings.Contains(v, "\x1b[4A") {
		t.Fatalf("no redraw of the 4 unit lines:\n%q", v)
	}
	last := v[strings.LastIndex(v, "\x1b[4A"):]
	for _, u := range []string{"cam-1", "cam-2", "cam-3", "cam-4"} {
		if !regexp.MustCompile(fmt.Sprintf(`✓ %s .*%d/%d  record sealed`, u, cases(), cases())).MatchString(last) {
			t.Errorf("last view lacks %s sealed:\n%q", u, last)
		}
	}
}

// glance runs in the demo's report page in Chromium (its CSP taken out for
// the test only) and writes into <body data-glance> what the first screen
// shows: the archive table's header and each unit's row, with whether it
// is on the first screen without scrolling.
const glance = `<script>
(function(){
  var rows = [];
  document.querySelectorAll('table.runs tr').forEach(function(tr){
    var r = tr.getBoundingClientRect();
    rows.push({text: tr.innerText.replace(/\s+/g,' ').trim(), seen: r.top >= 0 && r.bottom <= window.innerHeight});
  });
  document.body.setAttribute('data-glance', JSON.stringify(rows));
})();
</script>`

var reGlance = regexp.MustCompile(`data-glance="([^"]*)"`)

// TestDemoReportAtAGlance opens the demo's HTML report in headless
// Chromium at a laptop's screen (1280×900) and reads what is on the first
// screen: the table must show, without scrolling, each failing unit's row
// saying in plain words which check it failed, and every other unit's row
// saying None: readable by someone who has never heard of EN 303 645.
func TestDemoReportAtAGlance(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not on PATH (CI installs it in .ci/run)")
		}
		t.Skip("chromium is not on PATH (Debian: apt-get install chromium)")
	}
	out := filepath.Join(t.TempDir(), "demo")
	if code, o, e := runBin(t, nil, "demo", "--out", out); code != exitOK {
		t.Fatalf("bench demo: exit %d\n%s%s", code, o, e)
	}
	page, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	p := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`).ReplaceAllString(string(page), "")
	p = strings.Replace(p, "</body>", glance+"</body>", 1)
	work := t.TempDir()
	file := filepath.Join(work, "report.html")
	if err := os.WriteFile(file, []byte(p), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hung browser only
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(work, "profile"), "--window-size=1280,900", "--dump-dom", "file://"+file)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	m := reGlance.FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the page did not report what it shows:\n%.2000s", dom)
	}
	var rows []struct {
		Text string
		Seen bool
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != expect.DefaultUnits()+1 || !rows[0].Seen || !strings.Contains(rows[0].Text, "Problems found") {
		t.Fatalf("want a header with Problems found on the first screen and a row per unit: %+v", rows)
	}
	units, _ := expect.Units(expect.DefaultUnits())
	seenBad := false
	for _, u := range units {
		i := slices.IndexFunc(rows, func(r struct {
			Text string
			Seen bool
		}) bool {
			return slices.Contains(strings.Fields(r.Text), u.Name)
		})
		if i < 0 {
			t.Errorf("no row for %s", u.Name)
			continue
		}
		r := rows[i]
		// The titles of the cases the unit's flaws must fail: its row
		// names each.
		var failed []string
		for _, st := range suites.All() {
			for _, c := range st.Cases {
				if expect.MustFail(u.Flaws, st.FullID(c)) {
					failed = append(failed, "Failed: "+c.Title)
				}
			}
		}
		bad := len(failed) > 0
		seenBad = seenBad || bad && r.Seen
		for _, f := range failed {
			if !strings.Contains(r.Text, f) || !strings.HasPrefix(r.Text, "FAIL") {
				t.Errorf("%s (%v): its row must start FAIL and say %q: %+v", u.Name, u.Flaws, f, r)
			}
		}
		if !bad && (!strings.Contains(r.Text, "None") || strings.Contains(r.Text, "Failed")) {
			t.Errorf("%s (%v): its row must say None: %+v", u.Name, u.Flaws, r)
		}
	}
	if !seenBad {
		t.Errorf("no failed unit's row is on the first screen: %+v", rows)
	}
}

// TestReadmeDemo runs the README's first command as written, in a fresh
// folder standing for the repo root: it exits 0 and leaves its report in
// demo-out/TIME/, where the README says to open it.
func TestReadmeDemo(t *testing.T) {
	lines := readmeSection(t, "On a fresh machine")
	if lines[0] != "go run ./bench demo" || !slices.Contains(lines, "go test ./...") {
		t.Fatalf("README's first commands are %q, want go run ./bench demo and go test ./...", lines)
	}
	root := t.TempDir()
	if code, out, _ := runBinIn(t, root, os.Environ(), readmeCommand(t, lines, "demo")...); code != 0 {
		t.Fatalf("README's bench demo: exit %d\n%s", code, out)
	}
	if reps, _ := filepath.Glob(filepath.Join(root, "demo-out", "*", "report.html")); len(reps) != 1 {
		t.Fatalf("README says the report is demo-out/*/report.html; found %q", reps)
	}
}

// TestDemoSignal: SIGTERM while the units boot (in real time) stops the
// demo with exit 3; the summary says the self-check did not finish rather
// than that the bench is wrong, and the records are sealed and verify.
func TestDemoSignal(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(benchBin, "demo", "--out", out, "--units", "4", "--scale", "1")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var seen []string
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), " begun") {
			cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitIncomplete {
		t.Fatalf("interrupted demo: %v, want exit 3\n%s\n%s", err, stdout.String(), strings.Join(seen, "\n"))
	}
	if !strings.Contains(stdout.String(), "Self-check not finished") || strings.Contains(stdout.String(), "WRONG") {
		t.Errorf("summary of an interrupted demo:\n%s", stdout.String())
	}
	if code, o, e := runBin(t, nil, "verify", "--key", filepath.Join(out, "demo.pub"), filepath.Join(out, "archive")); code != 0 {
		t.Fatalf("the interrupted demo's archive does not verify: %d\n%s%s", code, o, e)
	}
	if _, err := os.Stat(filepath.Join(out, "lab")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the lab's folder was kept: %v", err)
	}
}

// cases is how many cases the demo runs on each unit: every case of every
// suite.
func cases() int {
	n := 0
	for _, st := range suites.All() {
		n += len(st.Cases)
	}
	return n
}

// mustFail is how many (unit, case) pairs of the demo's default lab
// expect.Table calls FAIL.
func mustFail() int {
	units, _ := expect.Units(expect.DefaultUnits())
	n := 0
	for _, u := range units {
		for _, st := range suites.All() {
			for _, c := range st.Cases {
				if expect.MustFail(u.Flaws, st.FullID(c)) {
					n++
				}
			}
		}
	}
	return n
}
