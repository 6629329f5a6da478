package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
