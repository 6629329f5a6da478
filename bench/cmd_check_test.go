package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/power/powertest"
	"github.com/creack/pty"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

// openPTY returns a pty whose slave path a fixture's console can name; the
// test holds the master side, as a device would.
func openPTY(t *testing.T) (master interface{ Close() error }, path string) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s.Name()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l
}

func TestCheckPassesAndProbesEveryPart(t *testing.T) {
	skipOnNonLinux(t)
	relay := powertest.Register(t, "CBTEST_RELAY1", gpio.High)
	powertest.Register(t, "CBTEST_BUTTON1", gpio.High)
	_, ptyPath := openPTY(t)
	serial := listen(t) // a serial server, as ser2net would be
	web := listen(t)
	path := writeBench(t, `  - name: cam-1
    power: {line: CBTEST_RELAY1, active: low}
    button: {line: CBTEST_BUTTON1, active: low}
    console: {port: `+ptyPath+`}
    profile: profile.yaml
    declarations: declarations.yaml
  - name: cam-2
    power: {command: {on: ["true"], off: ["true"]}}
    console: {tcp: "`+serial.Addr().String()+`"}
    network: {host: 127.0.0.1, ports: {http: `+portOf(web)+`}}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	code, out := runIn(t, "check", "-c", path)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"fixture cam-1", "CBTEST_RELAY1", "CBTEST_BUTTON1", ptyPath, "fixture cam-2", serial.Addr().String(), "answers", "all probes passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// check looks lines up; it never drives them.
	if w := relay.Writes(); len(w) != 0 {
		t.Errorf("check wrote %v to the relay line", w)
	}
}

func TestCheckFailsOnMissingLineAndClosedPort(t *testing.T) {
	skipOnNonLinux(t)
	powertest.Register(t, "CBTEST_RELAY2", gpio.High)
	dead := listen(t)
	addr := dead.Addr().String()
	dead.Close() // nothing listens there any more
	path := writeBench(t, `  - name: cam-1
    power: {line: CBTEST_NOSUCH}
    console: {tcp: "`+addr+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	code, out := runIn(t, "check", "-c", path, "--timeout", "500ms")
	if code != exitIncomplete {
		t.Fatalf("exit %d, want %d:\n%s", code, exitIncomplete, out)
	}
	// The missing line's error lists the lines that do exist.
	if !strings.Contains(out, "CBTEST_NOSUCH") || !strings.Contains(out, "CBTEST_RELAY2") {
		t.Errorf("missing line not explained with the known lines:\n%s", out)
	}
	if !strings.Contains(out, "2 probe(s) failed") {
		t.Errorf("want 2 failed probes:\n%s", out)
	}
}

func TestCheckFindsLineSharedThroughAlias(t *testing.T) {
	skipOnNonLinux(t)
	powertest.Register(t, "CBTEST_RELAY3", gpio.High)
	if err := gpioreg.RegisterAlias("CBTEST_ALIAS3", "CBTEST_RELAY3"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpioreg.Unregister("CBTEST_ALIAS3") })
	serial := listen(t)
	path := writeBench(t, `  - name: cam-1
    power: {line: CBTEST_RELAY3}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
  - name: cam-2
    power: {line: CBTEST_ALIAS3}
    console: {port: /dev/null}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	code, out := runIn(t, "check", "-c", path)
	if code != exitIncomplete || !strings.Contains(out, `line CBTEST_RELAY3 is also fixture "cam-1" power's`) {
		t.Fatalf("exit %d; shared line through an alias not reported:\n%s", code, out)
	}
}

func portOf(l net.Listener) string {
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func TestCheckFindsPortSharedThroughSymlink(t *testing.T) {
	skipOnNonLinux(t)
	_, ptyPath := openPTY(t)
	link := filepath.Join(t.TempDir(), "usb-FTDI_A12345-if00-port0")
	if err := os.Symlink(ptyPath, link); err != nil {
		t.Fatal(err)
	}
	path := writeBench(t, `  - name: cam-1
    power: {command: {on: ["true"], off: ["true"]}}
    console: {port: `+ptyPath+`}
    profile: profile.yaml
    declarations: declarations.yaml
  - name: cam-2
    power: {command: {on: ["true"], off: ["true"]}}
    console: {port: `+link+`}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	code, out := runIn(t, "check", "-c", path)
	if code != exitIncomplete || !strings.Contains(out, `is also fixture "cam-1" console's`) {
		t.Fatalf("exit %d; a port shared through a symlink not reported:\n%s", code, out)
	}
}

func TestCheckWarnsOfPlugOrderPortNames(t *testing.T) {
	path := writeBench(t, `  - name: cam-1
    power: {command: {on: ["true"], off: ["true"]}}
    console: {port: /dev/ttyUSB7}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	_, out := runIn(t, "check", "-c", path)
	if !strings.Contains(out, "/dev/ttyUSB7") || !strings.Contains(out, "/dev/serial/by-id/") {
		t.Fatalf("no warning about a plug-order port name:\n%s", out)
	}
}

func TestBenchFileProblemsOnePerLine(t *testing.T) {
	path := writeBench(t, `  - name: cam-1
    powr: {line: GPIO17}
    console: {tcp: "127.0.0.1:1"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	code, _, errs := runBin(t, nil, "check", "-c", path)
	if code != exitUsage {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// Every problem line starts with FILE:LINE:COLUMN, for editors and grep.
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "problem(s)") {
		t.Fatalf("want a header then one problem per line:\n%s", errs)
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, path+":") {
			t.Errorf("problem line does not start with the file's position: %q", l)
		}
	}
	code, _, errs = runBin(t, nil, "check") // no -c, no ./bench.yaml here
	if code != exitUsage || !strings.Contains(errs, "-c FILE") {
		t.Fatalf("missing default bench file: exit %d, %q", code, errs)
	}
}

// TestFlagsDoNotLeakBetweenRuns: in one process (an agent, these tests),
// check -o json must not make the next check print JSON.
func TestFlagsDoNotLeakBetweenRuns(t *testing.T) {
	serial := listen(t)
	path := writeBench(t, `  - name: cam-1
    power: {command: {on: ["true"], off: ["true"]}}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	if code, out := runIn(t, "check", "-c", path, "-o", "json"); code != 0 || !strings.HasPrefix(out, "{") {
		t.Fatalf("check -o json: exit %d:\n%s", code, out)
	}
	code, out := runIn(t, "check", "-c", path)
	if code != 0 || strings.HasPrefix(out, "{") || !strings.Contains(out, "all probes passed") {
		t.Fatalf("the next check without -o: exit %d:\n%s", code, out)
	}
}

// A console the device powers: a link to a pty that the fixture's on
// command makes and its off command removes, as a USB-UART powered from
// the device appears and vanishes.
func poweredConsoleBench(t *testing.T, on string) (path, link, offMark string) {
	t.Helper()
	_, ptyPath := openPTY(t)
	dir := t.TempDir()
	link = filepath.Join(dir, "usb-ttl-if00")
	offMark = filepath.Join(dir, "off-ran")
	if on == "" {
		on = `["ln", "-s", "` + ptyPath + `", "` + link + `"]`
	}
	path = writeBench(t, `  - name: cam-1
    power: {command: {on: `+on+`, off: ["sh", "-c", "rm -f `+link+`; touch `+offMark+`"]}}
    console: {port: `+link+`, powered_by_device: true}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	return path, link, offMark
}

func TestCheckPoweredByDeviceConsoleAbsentIsNotAFailure(t *testing.T) {
	skipOnNonLinux(t)
	path, _, offMark := poweredConsoleBench(t, "")
	code, out := runIn(t, "check", "-c", path)
	if code != 0 || !strings.Contains(out, "not checked: powered by the device") || !strings.Contains(out, "--power-on") {
		t.Fatalf("exit %d; an absent console the device powers must be 'not checked', not a failure:\n%s", code, out)
	}
	if _, err := os.Stat(offMark); err == nil {
		t.Fatal("check without --power-on switched the fixture")
	}
}

func TestCheckPowerOnChecksTheConsoleAndGoesSafe(t *testing.T) {
	skipOnNonLinux(t)
	path, link, offMark := poweredConsoleBench(t, "")
	code, out := runIn(t, "check", "-c", path, "--power-on")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	on := strings.Index(out, "power on")
	opened := strings.Index(out, "opens with the fixture on")
	safe := strings.Index(out, "back at its safe level (off)")
	if on < 0 || opened < on || safe < opened {
		t.Fatalf("want power on, then the console opening, then the safe level:\n%s", out)
	}
	if _, err := os.Lstat(link); err == nil {
		t.Error("the fixture was left on: its console is still there")
	}
	if _, err := os.Stat(offMark); err != nil {
		t.Error("the off command did not run")
	}
}

func TestCheckPowerOnConsoleNeverAppearsFailsAndGoesSafe(t *testing.T) {
	skipOnNonLinux(t)
	path, _, offMark := poweredConsoleBench(t, `["true"]`)
	code, out := runIn(t, "check", "-c", path, "--power-on", "--power-on-wait", "200ms")
	if code != exitIncomplete || !strings.Contains(out, "did not open within 200ms of power on") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(offMark); err != nil {
		t.Error("the fixture was not returned to its safe level")
	}
}

// TestCheckPrintsAsItGoesAndGoesSafeOnHangup: the real binary prints each
// probe as it ends, so a power command that takes its time is seen under
// way; a closed terminal (SIGHUP) then leaves the fixture at its safe
// level, said once.
func TestCheckPrintsAsItGoesAndGoesSafeOnHangup(t *testing.T) {
	skipOnNonLinux(t)
	path, _, offMark := poweredConsoleBench(t, `["sleep", "600"]`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := startProc(t, "", os.Environ(), nil, "check", "-c", path, "--power-on")
	p.waitFor(t, ctx, "switching fixture cam-1 on")
	if !strings.Contains(p.out.String(), "commands found") {
		t.Fatalf("the probes before the power step were not printed as they ended:\n%s", p.out.String())
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	if code := p.exitCode(t); code != exitIncomplete {
		t.Fatalf("exit %d:\n%s", code, p.out.String())
	}
	if _, err := os.Stat(offMark); err != nil {
		t.Errorf("the fixture was not returned to its safe level:\n%s", p.out.String())
	}
	if n := strings.Count(p.out.String(), "interrupted by hangup"); n != 1 {
		t.Errorf("the interruption is said %d times:\n%s", n, p.out.String())
	}
}

func TestCheckLabelSources(t *testing.T) {
	dir := t.TempDir()
	later := filepath.Join(dir, "later.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(bad, []byte("serial: S-2\npasword: s3cret-2\n"), 0o600)
	os.WriteFile(good, []byte("serial: S-3\npassword: s3cret-3\n"), 0o600)
	fixture := func(name, label string) string {
		return `  - name: ` + name + `
    power: {command: {on: ["true"], off: ["true"]}}
    console: {tcp: "` + listen(t).Addr().String() + `"}
    label: ` + label + `
    profile: profile.yaml
    declarations: declarations.yaml
`
	}
	path := writeBench(t, fixture("cam-1", "{file: "+later+"}")+fixture("cam-2", "{file: "+bad+"}")+
		fixture("cam-3", "{file: "+good+"}")+fixture("cam-4", "{command: [no-such-label-scanner]}"))
	code, out := runIn(t, "check", "-c", path)
	if code != exitIncomplete {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"not there yet", `unknown key "pasword"`, "serial S-3, password set", "no-such-label-scanner", "2 probe(s) failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("check shows a label's password:\n%s", out)
	}
}

// TestCheckSaysAMissingPortPathDoesNotExist: a console.port that names
// nothing is said to be a path that does not exist, resolved as relative
// paths are, not only an adapter to plug in.
func TestCheckSaysAMissingPortPathDoesNotExist(t *testing.T) {
	path := writeBench(t, `  - name: cam-1
    power: {command: {on: ["true"], off: ["true"]}}
    console: {port: sim-lab/units/cam-1/tty}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	code, out := runIn(t, "check", "-c", path)
	want := filepath.Join(filepath.Dir(path), "sim-lab/units/cam-1/tty") + " does not exist (relative paths in " + path + " resolve against its folder)"
	if code != exitIncomplete || !strings.Contains(out, want) {
		t.Fatalf("exit %d, want %q in:\n%s", code, want, out)
	}
}
