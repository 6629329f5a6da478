package busybox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console/consoletest"
	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Program is the busybox the target runs: Debian's busybox-static. It must
// be static, since the device's root holds nothing else.
const Program = "/bin/busybox"

// FailDelay is how long busybox login pauses after a failed attempt
// before printing "Login incorrect": LOGIN_FAIL_DELAY, fixed at build time
// (libbb/bb_do_delay.c). It cannot be changed from outside.
const FailDelay = 3 * time.Second

// User is an account on the device.
type User struct {
	Name     string
	Password string // "" leaves the password field empty: login asks none
	UID      int    // 0 for root
	Home     string // default /root for UID 0, /home/NAME otherwise
}

// The accounts Options.Users defaults to.
var (
	Root  = User{Name: "root", Password: "toor-4711", UID: 0}
	Admin = User{Name: "admin", Password: "admin-0815", UID: 1000}
)

// Options describe the device. The zero value is a unit with Root and
// Admin, hostname "gw", the prompt `\u@\h:\w\$ ` and an 80-column console,
// behind an adapter that stays, powered on.
type Options struct {
	Users    []User // default Root and Admin
	Hostname string // default "gw"; getty prints "gw login: "
	// PS1 of every login shell (set in /etc/profile), default `\u@\h:\w\$ `,
	// which ash shows as "root@gw:~# ".
	PS1 string
	// Issue is /etc/issue, which getty prints before its prompt (it
	// expands \n to the hostname and so on); default "\nBusyBox target \\n\n\n".
	Issue string
	// Boot is printed on the console at each power-on before getty
	// starts, as a kernel's and init's lines would be (\n is sent as
	// \r\n, as a UART shows it).
	Boot string
	// Columns and Rows are the size the device believes its terminal has
	// (default 80×24): busybox ash's line editing wraps a command line
	// longer than Columns.
	Columns, Rows int
	// LoginTimeout is how long busybox login waits for a password before
	// it prints "Login timed out after N seconds" and exits, whereupon
	// init starts the next getty (LOGIN_TIMEOUT; whole seconds, at least
	// 1, default 60 s like the real device). getty's own prompt does not
	// time out.
	LoginTimeout time.Duration
	// Replug makes the console an adapter powered by the device: at each
	// power-on a new pty is made and Path is linked to it, at power-off
	// the pty is hung up and Path removed, as /dev/serial/by-id links
	// come and go with a USB-UART the device powers. Without Replug,
	// Path is an adapter that stays: one pty, open across power cycles.
	Replug bool
	// Off starts the unit powered off.
	Off bool
}

// Target is a running busybox device and the adapter its console is
// reached through.
type Target struct {
	// Path is what the bench opens: a symlink to the adapter's pty (for
	// an adapter that stays, the same pty for the target's life).
	Path string
	// Root is the device's root file system: bin/busybox, etc/passwd,
	// etc/shadow, etc/group, etc/profile, ...
	Root string
	// Users are the device's accounts.
	Users []User

	t     testing.TB
	opts  Options
	jail  jail
	homes []string // UID:GID:PATH of each user's home, chowned at boot

	power   sync.Mutex // held while switching
	mu      sync.Mutex
	adapter *adapter // nil when a Replug adapter is off
	dev     *device  // nil when off
	wg      sync.WaitGroup
	closed  bool
	tap     *consoletest.Far // the last power-on's
}

// adapter is the bench's side of the link: a pty whose slave the bench
// opens (through Path) and whose master the bridge reads and writes.
type adapter struct {
	master *os.File // non-blocking, so Close interrupts a Read
	slave  *os.File // held open, so the pty outlives the bench's opens
	wmu    sync.Mutex
}

// send writes p to the bench, and to the tap of dev if it is on.
func (a *adapter) send(dev *device, p []byte) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	_, err := a.master.Write(p)
	if dev != nil {
		dev.tapw.Write(p)
	}
	return err
}

// tapLine is the tap's link: it reads what went to the bench and types
// what is written.
type tapLine struct {
	*io.PipeReader
	d *Target
}

func (l tapLine) Write(p []byte) (int, error) {
	l.d.mu.Lock()
	dev := l.d.dev
	l.d.mu.Unlock()
	if dev == nil {
		return 0, errors.New("the unit is off")
	}
	return dev.master.Write(p)
}

// Tap is a probe on the line to the bench: it sees everything the device
// printed (and Print injected) since its last power-on, whether or not
// the bench reads it, and does not take it from the bench. What is
// written to it is typed, as with Type. It lets a test wait until the
// device has reached a state (Tap().Expect("login: ") after Power(true)
// is this boot's prompt) without opening the console. While the unit is
// off it is the last power-on's, closed; before the first power-on Tap
// fails the test.
func (d *Target) Tap() *consoletest.Far {
	d.t.Helper()
	d.mu.Lock()
	tap := d.tap
	d.mu.Unlock()
	if tap == nil {
		d.t.Fatal("busybox target: tap: the unit has not been powered on yet")
	}
	return tap
}

// device is one power-on of the unit: its pty and its process.
type device struct {
	master *os.File
	slave  *os.File // held until the unit is cut off, to read its termios
	cmd    *exec.Cmd
	init   int // host PID of the namespace's PID 1
	pidfd  int // of init
	exited chan struct{}
	tapw   *io.PipeWriter // feeds the power-on's Tap
}

// Start builds a device root in a temporary folder and powers the unit
// (unless o.Off). Everything is torn down at the end of the test. It
// skips the test when this host cannot run the target (no busybox-static;
// not root and no user namespace with a subuid range), naming what is
// missing, except under CI, where it fails.
func Start(t testing.TB, o Options) *Target {
	t.Helper()
	if o.Users == nil {
		o.Users = []User{Root, Admin}
	}
	if o.Hostname == "" {
		o.Hostname = "gw"
	}
	if o.PS1 == "" {
		o.PS1 = `\u@\h:\w\$ `
	}
	if o.Issue == "" {
		o.Issue = "\nBusyBox target \\n\n\n"
	}
	if o.Columns == 0 {
		o.Columns = 80
	}
	if o.Rows == 0 {
		o.Rows = 24
	}
	if o.LoginTimeout == 0 {
		o.LoginTimeout = 60 * time.Second
	}
	if o.LoginTimeout < time.Second || o.LoginTimeout%time.Second != 0 {
		t.Fatalf("busybox target: LoginTimeout %v: busybox login counts whole seconds, at least 1 (0 means the default, 60 s)", o.LoginTimeout)
	}
	j, err := newJail()
	if err != nil {
		unavailable(t, err)
	}
	dir := t.TempDir()
	d := &Target{
		Path:  filepath.Join(dir, "ttyUSB0"),
		Root:  filepath.Join(dir, "root"),
		Users: o.Users,
		t:     t,
		opts:  o,
		jail:  j,
	}
	if err := d.build(); err != nil {
		t.Fatalf("busybox target: build root: %v", err)
	}
	if err := j.check(d.Root); err != nil {
		unavailable(t, err)
	}
	t.Cleanup(d.close)
	if !o.Replug {
		if err := d.plug(); err != nil {
			t.Fatalf("busybox target: %v", err)
		}
	}
	if !o.Off {
		d.Power(true)
	}
	return d
}

// unavailable skips the test with the reason, or fails it under CI, where
// a skip would hide a target that never ran.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("busybox target: %v (CI must provide it: .ci/run installs it)", err)
	}
	t.Skipf("busybox target: %v", err)
}

// build writes the device's root file system.
func (d *Target) build() error {
	r := d.Root
	for _, dir := range []string{"bin", "etc", "root", "home", "tmp", "dev", "proc", "var/run", "var/log"} {
		if err := os.MkdirAll(filepath.Join(r, dir), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(r, "tmp"), 0o1777); err != nil {
		return err
	}
	// Mount points for the host's /dev/null and the device's pty.
	for _, f := range []string{"dev/null", "dev/ttyS0"} {
		if err := os.WriteFile(filepath.Join(r, f), nil, 0o600); err != nil {
			return err
		}
	}
	if err := install(Program, filepath.Join(r, "bin/busybox")); err != nil {
		return err
	}
	applets, err := listApplets()
	if err != nil {
		return err
	}
	for _, applet := range applets {
		if err := os.Symlink("busybox", filepath.Join(r, "bin", applet)); err != nil {
			return err
		}
	}
	var passwd, shadow, group strings.Builder
	group.WriteString("root:x:0:\n")
	for _, u := range d.Users {
		if u.Home == "" {
			u.Home = "/home/" + u.Name
			if u.UID == 0 {
				u.Home = "/root"
			}
		}
		hash := ""
		if u.Password != "" {
			out, err := exec.Command(Program, "mkpasswd", "-m", "sha512", u.Password).Output()
			if err != nil {
				return fmt.Errorf("hash %s's password with %s mkpasswd: %w", u.Name, Program, err)
			}
			hash = strings.TrimSpace(string(out))
		}
		gid := u.UID
		fmt.Fprintf(&passwd, "%s:x:%d:%d:%s:%s:/bin/sh\n", u.Name, u.UID, gid, u.Name, u.Home)
		fmt.Fprintf(&shadow, "%s:%s:19000:0:99999:7:::\n", u.Name, hash)
		if u.UID != 0 {
			fmt.Fprintf(&group, "%s:x:%d:\n", u.Name, gid)
		}
		if err := os.MkdirAll(filepath.Join(r, u.Home), 0o700); err != nil {
			return err
		}
		d.homes = append(d.homes, fmt.Sprintf("%d:%d:%s", u.UID, gid, u.Home))
	}
	profile := fmt.Sprintf("export PS1='%s'\nexport PATH=/bin\nexport COLUMNS=%d LINES=%d\n",
		strings.ReplaceAll(d.opts.PS1, "'", `'\''`), d.opts.Columns, d.opts.Rows)
	inittab := fmt.Sprintf("::sysinit:/bin/hostname -F /etc/hostname\nttyS0::respawn:/bin/env LOGIN_TIMEOUT=%d /bin/getty -L 115200 ttyS0 vt100\n",
		int(d.opts.LoginTimeout/time.Second))
	for name, body := range map[string]string{
		"etc/passwd":   passwd.String(),
		"etc/shadow":   shadow.String(),
		"etc/group":    group.String(),
		"etc/hostname": d.opts.Hostname + "\n",
		"etc/issue":    d.opts.Issue,
		"etc/profile":  profile,
		"etc/inittab":  inittab,
	} {
		mode := os.FileMode(0o644)
		if name == "etc/shadow" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(r, name), []byte(body), mode); err != nil {
			return err
		}
	}
	return nil
}

// listApplets is what busybox --list prints: every applet gets a link in
// bin, as on a device.
var listApplets = sync.OnceValues(func() ([]string, error) {
	out, err := exec.Command(Program, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", Program, err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && !strings.ContainsAny(a, "/.") {
			applets = append(applets, a)
		}
	}
	return applets, nil
})

// install puts the program in the root: a hard link where it can, a copy
// otherwise.
func install(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// plug makes the adapter and links Path to it.
func (d *Target) plug() error {
	m, s, err := openPTY()
	if err != nil {
		return fmt.Errorf("adapter pty: %w", err)
	}
	if err := raw(s); err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("adapter pty %s: %w", s.Name(), err)
	}
	tmp := d.Path + ".new"
	os.Remove(tmp)
	err = os.Symlink(s.Name(), tmp)
	if err == nil {
		err = os.Rename(tmp, d.Path)
	}
	if err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("link %s to the adapter: %w", d.Path, err)
	}
	a := &adapter{master: m, slave: s}
	d.mu.Lock()
	d.adapter = a
	d.mu.Unlock()
	d.wg.Add(1)
	go d.fromBench(a)
	return nil
}

// unplug hangs the adapter up and removes Path, as unplugging a USB
// adapter removes its by-id link.
func (d *Target) unplug() {
	d.mu.Lock()
	a := d.adapter
	d.adapter = nil
	d.mu.Unlock()
	os.Remove(d.Path)
	if a != nil {
		a.master.Close()
		a.slave.Close()
	}
}

// fromBench carries what the bench sends to the device, while it is on;
// a UART drops what reaches an unpowered device.
func (d *Target) fromBench(a *adapter) {
	defer d.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := a.master.Read(buf)
		if n > 0 {
			d.mu.Lock()
			dev := d.dev
			d.mu.Unlock()
			if dev != nil {
				dev.master.Write(buf[:n])
			}
		}
		if err != nil {
			return
		}
	}
}

// toBench carries what the device prints to the adapter, until the
// device's pty goes with its power.
func (d *Target) toBench(dev *device) {
	defer d.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, err := dev.master.Read(buf)
		if n > 0 {
			d.mu.Lock()
			a := d.adapter
			d.mu.Unlock()
			if a != nil {
				a.send(dev, buf[:n])
			}
		}
		if err != nil {
			return
		}
	}
}

// PTY is the adapter pty Path points at now, "" when a Replug adapter is
// off.
func (d *Target) PTY() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.adapter == nil {
		return ""
	}
	return d.adapter.slave.Name()
}

// On says whether the unit is powered.
func (d *Target) On() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dev != nil
}

// Power switches the unit, failing the test on error; see Switch.
func (d *Target) Power(on bool) {
	d.t.Helper()
	if err := d.Switch(on); err != nil {
		d.t.Fatal(err)
	}
}

// Switch switches the unit. On starts busybox init, which starts getty,
// on a fresh pty (and, with Replug, a fresh adapter); off kills every process of the unit at
// once (SIGKILL to its PID namespace), as a power cut does: the tty hangs
// up mid-word and nothing is flushed. What the device printed before the
// cut stays in the adapter's buffer unless the bench has read it.
// Switching to the state the unit is in does nothing. Unlike Power it
// may be called from any goroutine (a fake relay line's handler).
func (d *Target) Switch(on bool) error {
	d.power.Lock()
	defer d.power.Unlock()
	if on == d.On() {
		return nil
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return errors.New("busybox target: power: the test is over")
	}
	if !on {
		d.cut()
		if d.opts.Replug {
			d.unplug()
		}
		return nil
	}
	if d.opts.Replug {
		if err := d.plug(); err != nil {
			return fmt.Errorf("busybox target: power on: %w", err)
		}
	}
	if err := d.boot(); err != nil {
		if d.opts.Replug {
			d.unplug()
		}
		return fmt.Errorf("busybox target: power on: %w", err)
	}
	return nil
}

// Cycle cuts the power and restores it.
func (d *Target) Cycle() {
	d.t.Helper()
	d.Power(false)
	d.Power(true)
}

// boot starts the device: a new pty of the configured size, the boot
// text, then busybox getty on it in a chroot to Root.
func (d *Target) boot() error {
	m, s, err := openPTY()
	if err != nil {
		return fmt.Errorf("device pty: %w", err)
	}
	if err := pty.Setsize(s, &pty.Winsize{Rows: uint16(d.opts.Rows), Cols: uint16(d.opts.Columns)}); err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("device pty %s: set size: %w", s.Name(), err)
	}
	if d.opts.Boot != "" {
		// Through the line discipline, so \n goes out as \r\n.
		if _, err := io.WriteString(s, d.opts.Boot); err != nil {
			m.Close()
			s.Close()
			return fmt.Errorf("device pty %s: boot text: %w", s.Name(), err)
		}
	}
	cmd := d.jail.command(d.Root, s.Name(), "exec /bin/init", d.homes)
	cmd.Env = []string{"PATH=/bin", "HOME=/"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	ready, readyw, err := os.Pipe()
	if err != nil {
		m.Close()
		s.Close()
		return err
	}
	defer ready.Close()
	cmd.ExtraFiles = []*os.File{readyw}
	err = cmd.Start()
	readyw.Close()
	if err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("start %s init in %s: %w", Program, d.Root, err)
	}
	// The setup script says when it runs in the namespace, so its PID 1
	// exists (under unshare, a child made after unshare started).
	init, pidfd, err := func() (int, int, error) {
		if _, err := ready.Read(make([]byte, 1)); err != nil {
			return 0, -1, fmt.Errorf("the unit's setup ended before it ran (its console says why): %w", err)
		}
		init := cmd.Process.Pid
		if d.jail.unshare != "" {
			kids := children(init)
			if len(kids) != 1 {
				return 0, -1, fmt.Errorf("unshare (process %d) has %d children, want 1: the namespace's init", init, len(kids))
			}
			init = kids[0]
		}
		pidfd, err := unix.PidfdOpen(init, 0)
		return init, pidfd, err
	}()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		m.Close()
		s.Close()
		return fmt.Errorf("start %s init in %s: %w", Program, d.Root, err)
	}
	r, w := io.Pipe()
	dev := &device{master: m, slave: s, cmd: cmd, init: init, pidfd: pidfd, exited: make(chan struct{}), tapw: w}
	tap := consoletest.NewFar(d.t, tapLine{r, d})
	d.mu.Lock()
	d.dev, d.tap = dev, tap
	d.mu.Unlock()
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		cmd.Wait()
		close(dev.exited)
	}()
	go d.toBench(dev)
	return nil
}

// cut kills the device and closes its pty.
func (d *Target) cut() {
	d.mu.Lock()
	dev := d.dev
	d.dev = nil
	d.mu.Unlock()
	if dev == nil {
		return
	}
	// PID 1 of the namespace: its death takes every other process of the
	// unit with it (the kernel kills them all before init is gone, which
	// is when its pidfd turns readable).
	unix.PidfdSendSignal(dev.pidfd, unix.SIGKILL, nil, 0)
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(dev.pidfd), Events: unix.POLLIN}}, -1)
		if err != unix.EINTR {
			break
		}
	}
	unix.Close(dev.pidfd)
	dev.cmd.Process.Kill() // unshare, if any, exits with its child anyway
	<-dev.exited
	dev.slave.Close()
	dev.master.Close()
	dev.tapw.Close()
}

// Print writes s to the bench as if the device had printed it (a stray
// kernel message, line noise, a stale prompt), between the device's own
// writes. On an adapter that is gone (Replug, unit off) it fails the test.
func (d *Target) Print(s string) {
	d.t.Helper()
	d.mu.Lock()
	a, dev := d.adapter, d.dev
	d.mu.Unlock()
	if a == nil {
		d.t.Fatalf("busybox target: print %q: no adapter (the unit is off and its adapter with it)", s)
	}
	if err := a.send(dev, []byte(s)); err != nil {
		d.t.Fatalf("busybox target: print %q: %v", s, err)
	}
}

// Type writes s to the device's console input, as if typed on its UART
// by someone else (or line noise): busybox sees it as the bench's keys.
// Type("x\r") at a login prompt makes "x" the user name. It fails the
// test when the unit is off.
func (d *Target) Type(s string) {
	d.t.Helper()
	d.mu.Lock()
	dev := d.dev
	d.mu.Unlock()
	if dev == nil {
		d.t.Fatalf("busybox target: type %q: the unit is off", s)
	}
	if _, err := io.WriteString(dev.master, s); err != nil {
		d.t.Fatalf("busybox target: type %q: %v", s, err)
	}
}

// Echo says whether the device's tty echoes input now (busybox login
// turns echo off only after it has printed "Password: "). It fails the
// test when the unit is off.
func (d *Target) Echo() bool {
	d.t.Helper()
	d.mu.Lock()
	dev := d.dev
	d.mu.Unlock()
	if dev == nil {
		d.t.Fatalf("busybox target: echo: the unit is off")
	}
	tio, err := unix.IoctlGetTermios(int(dev.slave.Fd()), unix.TCGETS)
	if err != nil {
		d.t.Fatalf("busybox target: echo: %v", err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// Open opens Path as the bench would (raw, like go.bug.st/serial) and
// returns the far end's reader for tests that check the target itself.
// It is closed at the end of the test.
func (d *Target) Open() *consoletest.Far {
	d.t.Helper()
	f, err := os.OpenFile(d.Path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		d.t.Fatalf("busybox target: open %s: %v", d.Path, err)
	}
	if err := raw(f); err != nil {
		f.Close()
		d.t.Fatalf("busybox target: open %s: %v", d.Path, err)
	}
	far := consoletest.NewFar(d.t, f)
	d.t.Cleanup(far.Close)
	return far
}

// close powers the unit off, unplugs the adapter and waits for every
// goroutine.
func (d *Target) close() {
	d.power.Lock()
	defer d.power.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.mu.Unlock()
	d.cut()
	d.unplug()
	d.wg.Wait()
}

// openPTY opens a pty whose master is non-blocking: closing a blocking
// *os.File waits for the Read in progress, so a Close would not hang up.
func openPTY() (master, slave *os.File, err error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	fd, err := unix.Dup(int(m.Fd()))
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	name := m.Name()
	m.Close()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), name), s, nil
}

// raw sets the terminal raw, as a serial library does: no echo, no line
// editing, no translation.
func raw(f *os.File) error {
	fd := int(f.Fd())
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Iflag &^= unix.ICRNL | unix.IXON | unix.INLCR | unix.IGNCR | unix.ISTRIP | unix.BRKINT | unix.PARMRK
	tio.Oflag &^= unix.OPOST
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
}

// errNoBusybox is returned when the static busybox is missing.
var errNoBusybox = errors.New(Program + " is missing (Debian: apt-get install busybox-static)")
