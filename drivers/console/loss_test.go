package console_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
)

// expectInFlight starts an Expect that will not match and returns its
// result channel once the wait is registered.
func expectInFlight(t *testing.T, c *console.Console) <-chan error {
	t.Helper()
	registered := inFlight(c)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Expect(ctx, guard, console.Literal("never printed"))
		errc <- err
	}()
	await(t, registered, "the expect starting")
	return errc
}

func checkLost(t *testing.T, err error) {
	t.Helper()
	var lost *console.LostError
	if !errors.Is(err, console.ErrLost) || !errors.As(err, &lost) || lost.Console != "dut" {
		t.Fatalf("want ErrLost naming the console, got %v", err)
	}
	if errors.Is(err, console.ErrTimeout) {
		t.Fatal("a lost console is not a timeout")
	}
}

func TestSerialServerRestartIsLostThenReopened(t *testing.T) {
	l := openTCP(t, console.Config{})
	l.far().Write("before\r\n")
	if _, err := l.c.Expect(ctx, guard, console.Literal("before")); err != nil {
		t.Fatal(err)
	}
	errc := expectInFlight(t, l.c)
	l.srv.Restart() // same port, as ser2net restarting
	checkLost(t, <-errc)
	if err := l.c.Send(ctx, "x"); err != nil && !errors.Is(err, console.ErrLost) {
		t.Fatalf("send while lost: %v", err)
	}

	far := l.srv.Far() // the console reconnects by itself
	l.tr.waitFor(t, "lost then reopen", hasEvents("open", "lost", "reopen"))
	far.Write("after\r\n")
	if _, err := l.c.Expect(ctx, guard, console.Literal("after")); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if err := l.c.SendLine(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	far.Expect("hello\n")
	checkGap(t, l, "read tcp "+l.srv.Addr)
}

func TestPTYFarSideClosedIsLostThenReopened(t *testing.T) {
	l := openPTY(t, console.Config{})
	l.far().Write("before\r\n")
	if _, err := l.c.Expect(ctx, guard, console.Literal("before")); err != nil {
		t.Fatal(err)
	}
	errc := expectInFlight(t, l.c)
	l.pty.Hangup() // the USB adapter lost power with the device
	checkLost(t, <-errc)
	l.tr.waitFor(t, "lost", hasEvents("open", "lost"))

	// A wait started during the gap waits for the port to return.
	done := make(chan error, 1)
	registered := inFlight(l.c)
	go func() {
		m, err := l.c.Expect(ctx, guard, console.MustRegexp(`back (?P<n>\d+)`))
		if err == nil && m.Groups["n"] != "2" {
			err = errors.New("wrong capture " + m.Groups["n"])
		}
		done <- err
	}()
	await(t, registered, "the expect starting")
	far := l.pty.Replace() // the device powers up again
	l.tr.waitFor(t, "reopen", hasEvents("open", "lost", "reopen"))
	far.Write("back 2\r\n")
	if err := <-done; err != nil {
		t.Fatalf("expect across the gap: %v", err)
	}
	checkGap(t, l, "hung up")
}

// checkGap checks the transcript marks the gap between the rx before and
// the rx after, the loss saying why.
func checkGap(t *testing.T, l *link, why string) {
	t.Helper()
	rs := l.tr.records(t)
	var order []string
	for _, r := range rs {
		switch {
		case r.Dir == "rx" && strings.Contains(r.Text, "before"):
			order = append(order, "before")
		case r.Dir == "rx" && (strings.Contains(r.Text, "after") || strings.Contains(r.Text, "back")):
			order = append(order, "after")
		case r.Event == "lost" || r.Event == "reopen":
			if r.Detail == "" {
				t.Errorf("%s event without detail", r.Event)
			}
			if r.Event == "lost" && !strings.Contains(r.Detail, why) {
				t.Errorf("lost event %q should say %q", r.Detail, why)
			}
			if r.Event == "reopen" && !strings.Contains(r.Detail, "gap of") {
				t.Errorf("reopen should say how long the gap was: %q", r.Detail)
			}
			order = append(order, r.Event)
		}
	}
	if got := strings.Join(order, ","); got != "before,lost,reopen,after" {
		t.Fatalf("transcript order %s; want before,lost,reopen,after", got)
	}
}

func TestDeviceNodeVanishingWhileIdleIsLost(t *testing.T) {
	// udev removes a /dev/serial/by-id link when the adapter goes, even
	// if reads just time out; a silent port is not taken for a live one.
	l := openPTY(t, console.Config{})
	if err := os.Remove(l.pty.Path); err != nil {
		t.Fatal(err)
	}
	rs := l.tr.waitFor(t, "lost", hasEvents("open", "lost"))
	if d := rs[len(rs)-1].Detail; !strings.Contains(d, "disappeared") {
		t.Fatalf("lost detail %q should say the device node disappeared", d)
	}
	far := l.pty.Replace()
	l.tr.waitFor(t, "reopen", hasEvents("open", "lost", "reopen"))
	far.Write("hi\r\n")
	if _, err := l.c.Expect(ctx, guard, console.Literal("hi")); err != nil {
		t.Fatal(err)
	}
}

// An expect-not window the port was lost for proves nothing: Absent and
// Watch.Err report the loss (ERROR), never nil (a PASS).
func TestAbsentAcrossLossIsLost(t *testing.T) {
	t.Run("lost during the window", func(t *testing.T) {
		l := openTCP(t, console.Config{})
		l.far()
		errc := make(chan error, 1)
		go func() { errc <- l.c.Absent(ctx, guard, console.Literal("Kernel panic")) }()
		l.srv.Stop() // the serial server goes for good (before or during the window: both are gaps)
		checkLost(t, <-errc)
	})
	t.Run("lost for the whole window", func(t *testing.T) {
		l := openPTY(t, console.Config{})
		l.pty.Hangup()
		l.tr.waitFor(t, "lost", hasEvents("open", "lost"))
		checkLost(t, l.c.Absent(ctx, 20*time.Millisecond, console.Literal("Kernel panic")))
	})
	t.Run("back within the window", func(t *testing.T) {
		l := openTCP(t, console.Config{})
		l.far()
		w := l.c.Watch(console.Literal("Kernel panic"))
		l.srv.Restart()
		far := l.srv.Far()
		l.tr.waitFor(t, "lost then reopen", hasEvents("open", "lost", "reopen"))
		far.Write("all quiet\r\n")
		if _, err := l.c.Expect(ctx, guard, console.Literal("all quiet")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.Broken():
		default:
			t.Fatal("Broken should be closed after a gap")
		}
		if m := w.Stop(); m != nil {
			t.Fatalf("nothing matched, got %+v", m)
		}
		checkLost(t, w.Err())
	})
	t.Run("output seen before the loss still counts", func(t *testing.T) {
		l := openTCP(t, console.Config{})
		w := l.c.Watch(console.Literal("Kernel panic"))
		l.far().Write("Kernel panic - not syncing\r\n")
		await(t, w.Fired(), "the watch firing")
		l.srv.Stop()
		l.tr.waitFor(t, "lost", hasEvents("open", "lost"))
		if err := w.Err(); !errors.Is(err, console.ErrUnwanted) {
			t.Fatalf("a panic seen is evidence whatever came after: want ErrUnwanted, got %v", err)
		}
	})
}

func TestAbsentAndWatchAcrossCloseAreClosed(t *testing.T) {
	l := openTCP(t, console.Config{})
	w := l.c.Watch(console.Literal("Kernel panic"))
	errc := make(chan error, 1)
	go func() { errc <- l.c.Absent(ctx, guard, console.Literal("Kernel panic")) }()
	if err := l.c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, console.ErrClosed) {
		t.Fatalf("Absent across Close: want ErrClosed, got %v", err)
	}
	if err := w.Err(); !errors.Is(err, console.ErrClosed) {
		t.Fatalf("Watch across Close: want ErrClosed, got %v", err)
	}
	if err := l.c.Absent(ctx, 20*time.Millisecond, console.Literal("Kernel panic")); !errors.Is(err, console.ErrClosed) {
		t.Fatalf("Absent after Close: want ErrClosed, got %v", err)
	}
}

// A wait whose time runs out while the port is lost, or that began during
// a gap, ends with ErrLost (ERROR), never ErrTimeout: the device may have
// printed what was waited for while nobody could see it.
func TestWaitTimingOutDuringAGapIsLost(t *testing.T) {
	t.Run("never back", func(t *testing.T) {
		l := openTCP(t, console.Config{})
		l.far()
		l.srv.Stop()
		l.tr.waitFor(t, "lost", hasEvents("open", "lost"))
		_, err := l.c.Expect(ctx, 20*time.Millisecond, console.Literal("# "))
		checkLost(t, err)
	})
	t.Run("back before the time ran out", func(t *testing.T) {
		l := openPTY(t, console.Config{})
		l.pty.Hangup()
		l.tr.waitFor(t, "lost", hasEvents("open", "lost"))
		registered := inFlight(l.c)
		errc := make(chan error, 1)
		go func() {
			_, err := l.c.Expect(ctx, 300*time.Millisecond, console.Literal("never printed"))
			errc <- err
		}()
		await(t, registered, "the expect starting")
		l.pty.Replace() // back, perhaps before the wait ends: lost either way
		checkLost(t, <-errc)
		l.tr.waitFor(t, "reopen", hasEvents("open", "lost", "reopen"))
	})
	t.Run("silence on a live port is a timeout", func(t *testing.T) {
		l := openTCP(t, console.Config{})
		l.far()
		_, err := l.c.Expect(ctx, 20*time.Millisecond, console.Literal("# "))
		if !errors.Is(err, console.ErrTimeout) || errors.Is(err, console.ErrLost) {
			t.Fatalf("want ErrTimeout only, got %v", err)
		}
	})
}
