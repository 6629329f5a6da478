package console_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/console/consoletest"
	"golang.org/x/sys/unix"
)

func TestOpenRecordsWhatThePortLeadsTo(t *testing.T) {
	l := openPTY(t, console.Config{})
	id := l.c.Identity()
	node, err := filepath.EvalSymlinks(l.pty.Path)
	if err != nil {
		t.Fatal(err)
	}
	if id.Kind != "pty" || id.Node != node || id.Port != l.pty.Path || id.Made.IsZero() || id.Major < 136 {
		t.Fatalf("identity %+v; want the pty %s behind %s", id, node, l.pty.Path)
	}
	rs := l.tr.records(t)
	if rs[0].Event != "open" || !strings.Contains(rs[0].Detail, node) || !strings.Contains(rs[0].Detail, fmt.Sprintf("%d:%d", id.Major, id.Minor)) {
		t.Fatalf("open event %+v should name the node and its number", rs[0])
	}
}

// A link left pointing at a /dev/pts number the kernel has given to
// another program is refused: none of that program's bytes reach the
// console, none of the console's reach it, the wait fails as lost, and
// the transcript says what was refused. The device's own return (its
// bridge re-making the link) is taken.
func TestReopenRefusesAnotherPty(t *testing.T) {
	l := openPTY(t, console.Config{})
	before := l.c.Identity()
	errc := expectInFlight(t, l.c)
	tty := l.pty.Vanish()
	checkLost(t, <-errc)
	stranger := consoletest.Stranger(t, tty, before.Made)
	stranger.Write("stranger's shell $ ")
	rs := l.tr.waitFor(t, "refused", hasEvents("open", "lost", "refused"))
	d := rs[len(rs)-1].Detail
	if !strings.Contains(d, tty) || !strings.Contains(d, "not re-made") {
		t.Errorf("refused event %q should name %s and why", d, tty)
	}
	if err := l.c.Send(ctx, "root\n"); !errors.Is(err, console.ErrLost) {
		t.Fatalf("send while the port leads elsewhere: want ErrLost, got %v", err)
	}
	_, err := l.c.Expect(ctx, 50*1e6, console.Literal("$ "))
	checkLost(t, err)
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("the lost error should say a port was refused: %v", err)
	}

	far := l.pty.Replace() // the device's bridge makes a new link
	rs = l.tr.waitFor(t, "reopen", hasEvents("open", "lost", "refused", "reopen"))
	after := l.c.Identity()
	if after.Made.Equal(before.Made) && after.Minor == before.Minor {
		t.Fatalf("identity not updated on reopen: %v", after)
	}
	if d := rs[len(rs)-1].Detail; !strings.Contains(d, after.Node) {
		t.Errorf("reopen event %q should name the new node %s", d, after.Node)
	}
	far.Write("back\r\n")
	if _, err := l.c.Expect(ctx, guard, console.Literal("back")); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stream(t, l.tr.records(t), "rx")), "stranger") {
		t.Fatal("the stranger's output reached the transcript")
	}
	if got := stranger.Received(); got != "" {
		t.Fatalf("the stranger received %q from the console", got)
	}
}

// Opened by its /dev/pts path directly, a pty lost is refused when the
// number comes back as someone else's.
func TestReopenRefusesAReusedPtyNumber(t *testing.T) {
	p := consoletest.NewPTY(t)
	node, err := filepath.EvalSymlinks(p.Path)
	if err != nil {
		t.Fatal(err)
	}
	l := open(t, console.Config{Port: console.Serial{Path: node}})
	p.Vanish()
	l.tr.waitFor(t, "lost", hasEvents("open", "lost"))
	consoletest.Stranger(t, node, l.c.Identity().Made).Write("intruder\r\n")
	rs := l.tr.waitFor(t, "refused", hasEvents("open", "lost", "refused"))
	if d := rs[len(rs)-1].Detail; !strings.Contains(d, "same number") {
		t.Errorf("refused event %q should say the number was reused", d)
	}
}

// fakeUSB makes sysfs say the pty behind path is a USB adapter.
func fakeUSB(t *testing.T, root, path, vid, pid, serial, port string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(root, "devices", "usb1", port)
	tty := filepath.Join(dev, port+":1.0", "ttyUSB0", "tty", "ttyUSB0")
	must(t, os.MkdirAll(tty, 0o755))
	for f, v := range map[string]string{"idVendor": vid, "idProduct": pid, "serial": serial} {
		if v != "" {
			must(t, os.WriteFile(filepath.Join(dev, f), []byte(v+"\n"), 0o644))
		}
	}
	link := filepath.Join(root, "dev", "char", fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	must(t, os.MkdirAll(filepath.Dir(link), 0o755))
	os.Remove(link)
	must(t, os.Symlink(tty, link))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A USB adapter replugged comes back on another node (ttyUSB0 becomes
// ttyUSB1 behind the same by-id link): the same adapter (serial number) is
// taken, another one refused.
func TestReopenTakesTheSameUSBAdapterOnly(t *testing.T) {
	root := t.TempDir()
	console.Sysfs(t, root)
	p := consoletest.NewPTY(t)
	fakeUSB(t, root, p.Path, "0403", "6001", "A10K", "1-1.2")
	l := open(t, console.Config{Port: console.Serial{Path: p.Path}})
	if id := l.c.Identity(); id.Kind != "usb" || id.VID != "0403" || id.Serial != "A10K" || id.USBPort != "1-1.2" {
		t.Fatalf("identity %+v; want the FTDI adapter A10K", id)
	}

	// Replugged: another adapter of the same model answers at the link first.
	p.Vanish()
	l.tr.waitFor(t, "lost", hasEvents("open", "lost"))
	far := p.Replace()
	fakeUSB(t, root, p.Path, "0403", "6001", "B77Q", "1-1.3")
	l.tr.waitFor(t, "the other adapter refused", func(rs []console.Record) bool {
		r := rs[len(rs)-1]
		return r.Event == "refused" && strings.Contains(r.Detail, "another USB adapter") && strings.Contains(r.Detail, "B77Q")
	})
	// The right one, on another port and node.
	fakeUSB(t, root, p.Path, "0403", "6001", "A10K", "1-1.4")
	l.tr.waitFor(t, "reopen", hasEvents("open", "lost", "refused", "reopen"))
	far.Write("same adapter\r\n")
	if _, err := l.c.Expect(ctx, guard, console.Literal("same adapter")); err != nil {
		t.Fatal(err)
	}
	if id := l.c.Identity(); id.Serial != "A10K" || id.USBPort != "1-1.4" {
		t.Fatalf("identity after replug %+v", id)
	}
}

func TestSameDevice(t *testing.T) {
	usb := console.Identity{Kind: "usb", Node: "/dev/ttyUSB0", VID: "0403", PID: "6001", Serial: "A1", USBPort: "1-1"}
	moved := usb
	moved.Node, moved.USBPort, moved.Minor = "/dev/ttyUSB1", "1-2", 1
	other := usb
	other.Serial = "B2"
	noSerial, noSerialMoved := usb, moved
	noSerial.Serial, noSerialMoved.Serial = "", ""
	onboard := console.Identity{Kind: "tty", Node: "/dev/ttyS0", Major: 4, Minor: 64}
	for _, c := range []struct {
		name    string
		a, b    console.Identity
		same    bool
		because string
	}{
		{"replugged adapter on another node", usb, moved, true, ""},
		{"another adapter", usb, other, false, "another USB adapter"},
		{"no serial, other port", noSerial, noSerialMoved, false, "cannot be told"},
		{"no serial, same port", noSerial, noSerial, true, ""},
		{"usb then onboard", usb, onboard, false, "tty"},
		{"onboard", onboard, onboard, true, ""},
	} {
		same, why := console.SameDevice(c.a, c.b)
		if same != c.same || !strings.Contains(why, c.because) {
			t.Errorf("%s: SameDevice = %v, %q; want %v, %q", c.name, same, why, c.same, c.because)
		}
	}
}

// Output the port received before the console opened (a login prompt
// from an earlier boot) is recorded as discarded and never matched.
func TestOpenDiscardsWhatWasBufferedBefore(t *testing.T) {
	p := consoletest.NewPTY(t)
	p.Far().Write("Welcome\r\ncam-1 login: ")
	tr := newTranscript()
	c, err := console.Open(ctx, console.Config{Name: "dut", Port: console.Serial{Path: p.Path}, Transcript: tr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Expect(ctx, -1, console.Literal("login: ")); !errors.Is(err, console.ErrTimeout) {
		t.Fatalf("a stale prompt matched: %v", err)
	}
	rs := tr.records(t)
	if len(rs) < 2 || rs[1].Event != "discard" || rs[1].Text != "Welcome\r\ncam-1 login: " {
		t.Fatalf("want a discard event with the stale bytes after open, got %+v", rs)
	}
	p.Far().Write("cam-1 login: ")
	if _, err := c.Expect(ctx, guard, console.Literal("login: ")); err != nil {
		t.Fatal(err)
	}
}

// A second console on a port in use is refused, naming who holds it,
// even where the serial driver's exclusive flag would not (root).
func TestSecondOpenIsRefusedNamingTheHolder(t *testing.T) {
	l := openPTY(t, console.Config{})
	_, err := console.Open(ctx, console.Config{Name: "again", Port: console.Serial{Path: l.pty.Path}})
	var busy *console.BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("second open: want a *BusyError, got %v", err)
	}
	if want := fmt.Sprintf("pid %d (", os.Getpid()); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "console.test") {
		t.Fatalf("%v: should name the holder, %s...console.test)", err, want)
	}
}
