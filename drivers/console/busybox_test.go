package console_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/console/consoletest/busybox"
)

// The real target: Debian's busybox getty, login and ash (see package
// busybox), on an 80-column console.
var bbPrompts = console.Prompts{
	Login:    console.MustRegexp(`login: $`),
	Password: console.MustRegexp(`Password: $`),
	Shell:    console.MustRegexp(`[#$] $`),
	Failed:   console.Literal("Login incorrect"),
}

func bbOpen(t *testing.T, d *busybox.Target, cfg console.Config) *link {
	t.Helper()
	cfg.Port = console.Serial{Path: d.Path}
	cfg.Prompts = bbPrompts
	cfg.Newline = "\r" // as a terminal's Enter: getty takes "\n" for an LF-only terminal
	return open(t, cfg)
}

// powerOff cuts the unit's power as the bench's wiring does: the event and
// a mark in the console's timeline.
func powerOff(t *testing.T, l *link, d *busybox.Target) {
	t.Helper()
	d.Power(false)
	if err := l.c.Event(console.EventPower, "off"); err != nil {
		t.Fatal(err)
	}
	l.c.Mark("power off")
}

func bbLogin(t *testing.T, l *link) {
	t.Helper()
	if err := l.c.Login(ctx, "root", busybox.Root.Password, guard); err != nil {
		t.Fatalf("login: %v", err)
	}
}

// Commands of every length from 1 to 300 characters, their echo wrapped
// by ash at 80 columns: not one returns a piece of the echo.
func TestBusyboxRunEveryLength(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	l := bbOpen(t, d, console.Config{})
	bbLogin(t, l)
	bad := 0
	for n := 1; n <= 300; n++ {
		cmd, want := lengthy(n)
		res, err := l.c.Run(ctx, cmd, guard)
		if err != nil {
			t.Fatalf("length %d: %v", n, err)
		}
		if res.Output != want || res.Status != 0 {
			bad++
			t.Errorf("length %d: output %q status %d; want %q", n, res.Output, res.Status, want)
		}
	}
	if bad > 0 {
		t.Fatalf("%d of 300 lengths wrong", bad)
	}
	res, err := l.c.Run(ctx, "ls /nope", guard)
	if err != nil || res.Status == 0 || !strings.Contains(res.Output, "/nope") {
		t.Fatalf("ls /nope: %+v, %v", res, err)
	}
}

// A stray line at the login prompt is taken by getty as the user name:
// Login does not send root's password to user x, and logs in as root.
func TestBusyboxStrayLineAtLogin(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	l := bbOpen(t, d, console.Config{})
	d.Tap().Expect("gw login: ")
	d.Type("x\r")
	d.Tap().Expect("Password: ")
	bbLogin(t, l)
	res, err := l.c.Run(ctx, "id -un", guard)
	if err != nil || res.Output != "root" {
		t.Fatalf("logged in as %q, %v; want root", res.Output, err)
	}
	// The password went out once, to root, as a secret: the transcript has
	// one redaction of its length and never its text.
	recs := l.tr.records(t)
	secrets := 0
	for _, r := range recs {
		if r.Redacted && r.Detail == fmt.Sprintf("secret: %d bytes", len(busybox.Root.Password)) {
			secrets++
		}
	}
	if secrets != 1 {
		t.Fatalf("root's password was sent %d times", secrets)
	}
	if strings.Contains(string(stream(t, recs, "tx")), busybox.Root.Password) {
		t.Fatal("the transcript holds the password the bench sent")
	}
}

// A login prompt printed before a power cut answers nothing after it: the
// login waits for the next boot's prompt; while the unit stays off it
// times out rather than typing into a dead device's stale prompt.
func TestBusyboxStalePromptBeforePowerCut(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{Boot: "booting\n"})
	l := bbOpen(t, d, console.Config{})
	d.Tap().Expect("gw login: ")
	l.tr.waitFor(t, "the prompt", func(rs []console.Record) bool { return strings.Contains(string(stream(t, rs, "rx")), "gw login: ") })
	powerOff(t, l, d)
	err := l.c.Login(ctx, "root", busybox.Root.Password, 50*time.Millisecond)
	if !errors.Is(err, console.ErrTimeout) {
		t.Fatalf("login on a unit that is off: want a timeout, got %v", err)
	}
	d.Power(true)
	bbLogin(t, l)

	// A shell prompt before the cut is no sign of a shell after it.
	if err := l.c.SendLine(ctx, ""); err != nil {
		t.Fatal(err)
	}
	d.Tap().Expect("# ")
	l.tr.waitFor(t, "the prompt", func(rs []console.Record) bool { return strings.HasSuffix(string(stream(t, rs, "rx")), "# \x1b[6n") })
	powerOff(t, l, d)
	if _, err := l.c.Expect(ctx, -1, bbPrompts.Shell); !errors.Is(err, console.ErrTimeout) {
		t.Fatalf("the shell prompt from before the cut matched: %v", err)
	}
	d.Power(true)
	bbLogin(t, l)
	if res, err := l.c.Run(ctx, "echo up", guard); err != nil || res.Output != "up" {
		t.Fatalf("after the second boot: %+v, %v", res, err)
	}
}

// A console opened at a unit that printed its prompt before: the prompt is
// discarded (it may be an earlier boot's), and Login asks for a fresh one.
func TestBusyboxOpenAfterThePrompt(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	d.Tap().Expect("gw login: ")
	l := bbOpen(t, d, console.Config{PromptQuiet: 10 * time.Millisecond})
	rs := l.tr.records(t)
	if len(rs) < 2 || rs[1].Event != "discard" || !strings.Contains(rs[1].Text, "gw login: ") {
		t.Fatalf("the prompt from before the open should be a discard event: %+v", rs)
	}
	bbLogin(t, l)
}

// An adapter the unit powers: the link goes at the cut and comes back to
// a new pty; the console takes it (the link was re-made) and says so.
func TestBusyboxReplugIdentity(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{Replug: true})
	l := bbOpen(t, d, console.Config{})
	first := l.c.Identity()
	if first.Kind != "pty" || first.Node != d.PTY() {
		t.Fatalf("identity %v; want the adapter pty %s", first, d.PTY())
	}
	powerOff(t, l, d)
	l.tr.waitFor(t, "lost", hasEvents("lost"))
	d.Power(true)
	l.tr.waitFor(t, "reopen", hasEvents("reopen"))
	if id := l.c.Identity(); id.Node != d.PTY() || id.Made.Equal(first.Made) {
		t.Fatalf("identity after replug %v; want the new pty %s", id, d.PTY())
	}
	bbLogin(t, l)
}

// busybox login prints "Password: " before it turns echo off: with
// RequireEchoOff, an answer that came too soon (login held there, as a
// loaded device's scheduler may) is reported as echoed.
func TestBusyboxEchoedPassword(t *testing.T) {
	t.Parallel()
	d := busybox.Start(t, busybox.Options{})
	l := bbOpen(t, d, console.Config{RequireEchoOff: true})
	d.Tap().Expect("gw login: ")
	h := d.Hold("Password: ")
	errc := make(chan error, 1)
	go func() { errc <- l.c.Login(ctx, "root", busybox.Root.Password, guard) }()
	<-h.Held()
	l.tr.waitFor(t, "the echo", func(rs []console.Record) bool {
		_, after, ok := strings.Cut(string(stream(t, rs, "rx")), "Password: ")
		return ok && strings.Contains(after, busybox.Root.Password)
	})
	h.Release()
	err := <-errc
	var echo *console.EchoError
	if !errors.As(err, &echo) || echo.Outcome != nil {
		t.Fatalf("want an EchoError after a successful login, got %v", err)
	}
	if err := h.Err(); err != nil {
		t.Fatal(err)
	}
}

// The round trip of a command on the real target: Run("true").
func BenchmarkBusyboxRun(b *testing.B) {
	d := busybox.Start(b, busybox.Options{})
	c, err := console.Open(ctx, console.Config{Name: "gw", Port: console.Serial{Path: d.Path}, Prompts: bbPrompts, Newline: "\r"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "root", busybox.Root.Password, guard); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := c.Run(ctx, "true", guard); err != nil || res.Status != 0 {
			b.Fatal(res, err)
		}
	}
}
