package busybox_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console/consoletest"
	"github.com/certbench/certbench/drivers/console/consoletest/busybox"
)

// login logs u in through c from a fresh getty prompt and waits for the
// shell's prompt.
func login(t *testing.T, c *consoletest.Far, u busybox.User) {
	t.Helper()
	c.Expect("gw login: ")
	c.Write(u.Name + "\r")
	c.Expect("Password: ")
	c.Write(u.Password + "\r")
	c.Expect(prompt(u))
}

func prompt(u busybox.User) string {
	if u.UID == 0 {
		return u.Name + "@gw:~# "
	}
	return u.Name + "@gw:~$ "
}

// Both accounts log in with their passwords, get ash with the configured
// prompt and run as themselves.
func TestLogin(t *testing.T) {
	t.Parallel()
	for _, u := range []busybox.User{busybox.Root, busybox.Admin} {
		t.Run(u.Name, func(t *testing.T) {
			t.Parallel()
			d := busybox.Start(t, busybox.Options{})
			c := d.Open()
			login(t, c, u)
			c.Write("id -un; hostname\r")
			out := c.Expect(prompt(u))
			if want := u.Name + "\r\ngw\r\n"; !strings.HasSuffix(out, want) {
				t.Errorf("id -un; hostname printed %q, want it to end in %q", out, want)
			}
		})
	}
}

// A wrong password is refused after busybox's fail delay, and login asks
// again itself ("gw login: " from login, not getty).
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	c := d.Open()
	c.Expect("gw login: ")
	c.Write("root\r")
	c.Expect("Password: ")
	c.Write(busybox.Admin.Password + "\r")
	c.Expect("Login incorrect")
	login(t, c, busybox.Root)
}

// A stray line at getty's prompt is taken as the user name: the password
// that follows goes to user "x", and the right password is "incorrect".
func TestStrayLineIsUserName(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	c := d.Open()
	c.Expect("gw login: ")
	d.Type("x\r")
	if got := c.Expect("Password: "); !strings.HasPrefix(got, "x") {
		t.Errorf("before Password: the bench saw %q, want the stray user name x echoed", got)
	}
	c.Write(busybox.Root.Password + "\r")
	c.Expect("Login incorrect")
	login(t, c, busybox.Root)
}

// login flushes its input before printing "Password: ": a password sent
// with the user name, before the prompt, is lost and the empty line that
// follows is the password.
func TestTypeAheadPasswordLost(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	c := d.Open()
	c.Expect("gw login: ")
	c.Write("root\r" + busybox.Root.Password + "\r")
	c.Expect("Password: ")
	c.Write("\r")
	c.Expect("Login incorrect")
}

// busybox ash asks the terminal for the cursor position after each
// prompt (ESC [6n): patterns anchored at a prompt's end see it.
func TestCursorQueryAfterPrompt(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	c := d.Open()
	login(t, c, busybox.Root)
	c.Write("true\r")
	if got := c.Expect(prompt(busybox.Root)); !strings.HasPrefix(got, "\x1b[6n") {
		t.Errorf("after the prompt came %q, want ESC [6n first", got)
	}
}

// ash wraps the echo of a command line at the device's column count: the
// echo is broken by "\r\r\n" where the line reaches the last column.
func TestLongLineWraps(t *testing.T) {
	t.Parallel()
	for _, cols := range []int{80, 40} {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			d := busybox.Start(t, busybox.Options{Columns: cols})
			c := d.Open()
			login(t, c, busybox.Root)
			arg := strings.Repeat("x", 100)
			c.Write("echo " + arg + "\r")
			out := c.Expect(prompt(busybox.Root))
			first := cols - len(prompt(busybox.Root)) // what fits after the prompt
			want := "\x1b[6n" + ("echo " + arg)[:first] + "\r\r\n"
			if !strings.HasPrefix(out, want) {
				t.Errorf("%d columns: echo was %q, want it to start %q", cols, out, want)
			}
			if !strings.HasSuffix(out, "\r\n"+arg+"\r\n") {
				t.Errorf("%d columns: output %q does not end in the argument", cols, out)
			}
		})
	}
}

// A prompt printed before a power cut stays in the adapter that stays,
// ahead of the next boot's: a console that opens afterwards reads both.
func TestPromptSurvivesPowerCut(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{Boot: "boot 1\n"})
	d.Tap().Expect("gw login: ")
	d.Print("stale\r\n")
	d.Power(false)
	if d.On() {
		t.Fatal("On after Power(false)")
	}
	d.Power(true)
	// The tap is this power-on's: it has not seen the line before the cut.
	if got := d.Tap().Expect("gw login: "); strings.Contains(got, "stale") {
		t.Errorf("the tap after power-on saw %q, from before the cut", got)
	}
	c := d.Open()
	first := c.Expect("gw login: ")
	second := c.Expect("gw login: ")
	if !strings.Contains(first, "boot 1") || !strings.HasPrefix(second, "stale\r\n") || !strings.Contains(second, "boot 1") {
		t.Errorf("the bench read %q then %q, want a boot and its prompt, the stale line, and again", first, second)
	}
}

// With Replug the adapter goes with the power: Path disappears at the
// cut, an open console's reads fail, and power-on links Path to a new
// pty.
func TestReplug(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{Replug: true})
	f, err := os.OpenFile(d.Path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d.Tap().Expect("gw login: ")
	d.Power(false)
	if _, err := os.Lstat(d.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after power-off Lstat(%s) = %v, want not exist", d.Path, err)
	}
	buf := make([]byte, 4096)
	for {
		// The prompt may still be queued; after it comes the hang-up.
		if _, err = f.Read(buf); err != nil {
			break
		}
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EIO) {
		t.Errorf("read after power-off: %v, want EOF or EIO (hung up)", err)
	}
	d.Power(true)
	c := d.Open()
	login(t, c, busybox.Root)
}

// processes lists the host PIDs of the processes in PID namespace ns.
func processes(t *testing.T, ns string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); l == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A power cut kills every process of the unit, the shell's background
// jobs too, and the end of the test leaves no process, pty, link, root
// folder or goroutine behind. Not parallel: it counts goroutines.
func TestCleanup(t *testing.T) {
	before := runtime.NumGoroutine()
	var d *busybox.Target
	var ns string
	ok := t.Run("unit", func(t *testing.T) {
		d = busybox.Start(t, busybox.Options{})
		c := d.Open()
		login(t, c, busybox.Root)
		c.Write("sleep 1000 & sleep 1001 & echo started\r")
		c.Expect("started")
		c.Expect(prompt(busybox.Root))
		ns = d.PIDNamespace()
		if ns == "" {
			t.Fatal("no PID namespace for a unit that is on")
		}
		if n := len(processes(t, ns)); n < 3 {
			t.Fatalf("%d processes in the unit's namespace %s, want ash and two sleeps", n, ns)
		}
		d.Power(false)
		if p := processes(t, ns); len(p) != 0 {
			t.Errorf("after the power cut, processes %v are still running", p)
		}
		d.Power(true)
		if ns = d.PIDNamespace(); ns == "" {
			t.Fatal("no PID namespace for a unit that is on")
		}
		d.Tap().Expect("gw login: ")
	})
	if !ok {
		return
	}
	if d == nil {
		t.Skip("the target is not available here")
	}
	if p := processes(t, ns); len(p) != 0 {
		t.Errorf("after the test, processes %v are still running", p)
	}
	for _, path := range []string{d.Path, d.Root} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after the test, Lstat(%s) = %v, want not exist", path, err)
		}
	}
	// The readers of closed files return on their own, soon after.
	for deadline := time.Now().Add(consoletest.Guard); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// BenchmarkRoundTrip is one command's round trip through the adapter,
// the bridge and busybox ash: "true" typed, the next prompt read; the
// floor under any console engine's Run on this target. After each prompt
// ash asks for the cursor position (ESC [6n); unanswered, it sleeps 20 ms
// after reading the next line (libbb/lineedit.c), answered (as a terminal
// does: ESC [row;colR) it does not.
func BenchmarkRoundTrip(b *testing.B) {
	for _, answer := range []bool{false, true} {
		name := "unanswered"
		if answer {
			name = "answered"
		}
		b.Run(name, func(b *testing.B) {
			d := busybox.Start(b, busybox.Options{})
			c := d.Open()
			c.Expect("gw login: ")
			c.Write("root\r")
			c.Expect("Password: ")
			c.Write(busybox.Root.Password + "\r")
			p := prompt(busybox.Root)
			c.Expect(p)
			for b.Loop() {
				if answer {
					c.Expect("\x1b[6n")
					c.Write(fmt.Sprintf("\x1b[1;%dR", len(p)+1))
				}
				c.Write("true\r")
				c.Expect(p)
			}
		})
	}
}

// busybox init respawns getty when the shell exits, as on a device: a
// fresh login prompt follows the logout, and a new login works.
func TestLogoutRespawnsGetty(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	c := d.Open()
	login(t, c, busybox.Root)
	c.Write("exit\r")
	login(t, c, busybox.Admin)
}

// The echo race, held open: login has printed "Password: " but not yet
// turned echo off, so a password sent now comes back in clear; released,
// login turns echo off, reads the password already queued and logs in.
func TestEchoRace(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	c := d.Open()
	c.Expect("gw login: ")
	h := d.Hold("Password: ")
	c.Write("root\r")
	<-h.Held()
	c.Expect("Password: ")
	if !d.Echo() {
		t.Error("Echo() = false right after login printed its prompt, want true")
	}
	c.Write(busybox.Root.Password + "\r")
	if got := c.Expect("\r\n"); got != busybox.Root.Password {
		t.Errorf("after Password: came %q, want the password echoed", got)
	}
	h.Release()
	if err := h.Err(); err != nil {
		t.Fatal(err)
	}
	c.Expect(prompt(busybox.Root))
}

// A hold released before its text came lets the process go untouched.
func TestHoldReleasedEarly(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	c := d.Open()
	c.Expect("gw login: ")
	h := d.Hold("never printed")
	h.Release()
	if h.Err() == nil {
		t.Error("Err() = nil for a hold released before its text")
	}
	c.Write("root\r")
	c.Expect("Password: ")
	c.Write(busybox.Root.Password + "\r")
	c.Expect(prompt(busybox.Root))
}

// LoginTimeout reaches busybox login: unanswered, the password prompt
// gives up, and init starts a new getty.
func TestLoginTimeout(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{LoginTimeout: time.Second})
	c := d.Open()
	c.Expect("gw login: ")
	c.Write("root\r")
	c.Expect("Password: ")
	c.Expect("Login timed out after 1 seconds")
	login(t, c, busybox.Root)
}
