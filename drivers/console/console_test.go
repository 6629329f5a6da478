package console_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/console/consoletest"
)

var ctx = context.Background()

func TestTranscriptKeepsEveryByteWithNobodyWaiting(t *testing.T) {
	both(t, console.Config{}, func(t *testing.T, l *link) {
		far := l.far()
		// CRLF, ANSI, NUL, invalid UTF-8, and a lot of it.
		var payload []byte
		payload = append(payload, "U-Boot\r\n\x1b[1;32mOK\x1b[0m\x00\xff\xfe tail"...)
		for i := range 5000 {
			payload = append(payload, byte(i), byte(i>>3), '\r', '\n')
		}
		far.WriteBytes(payload)
		rs := l.tr.waitFor(t, "every rx byte", func(rs []console.Record) bool {
			return len(stream(t, rs, "rx")) >= len(payload)
		})
		if got := stream(t, rs, "rx"); !bytes.Equal(got, payload) {
			t.Fatalf("rx in transcript differs from what the device sent (%d vs %d bytes)", len(got), len(payload))
		}
		if err := l.c.Send(ctx, "root\n"); err != nil {
			t.Fatal(err)
		}
		far.Expect("root\n")
		rs = l.tr.records(t)
		if got := string(stream(t, rs, "tx")); got != "root\n" {
			t.Fatalf("tx in transcript: %q", got)
		}
		if ev := events(rs); len(ev) == 0 || ev[0] != "open" {
			t.Fatalf("first event should be open, got %v", ev)
		}
		sawB64 := false
		var last int64 = -1
		for _, r := range rs {
			if _, err := time.Parse(time.RFC3339Nano, r.Wall); err != nil || !strings.HasSuffix(r.Wall, "Z") {
				t.Fatalf("wall %q is not UTC RFC 3339: %v", r.Wall, err)
			}
			if r.Dir == "rx" || r.Dir == "tx" {
				if (r.Text == "") == (r.B64 == "") {
					t.Fatalf("record must carry exactly one of text and b64: %+v", r)
				}
				sawB64 = sawB64 || r.B64 != ""
			}
			if r.Dir == "rx" {
				if r.MonoNS < last {
					t.Fatalf("rx mono_ns went backwards: %d after %d", r.MonoNS, last)
				}
				last = r.MonoNS
			}
		}
		if !sawB64 {
			t.Fatal("invalid UTF-8 should be recorded as b64")
		}
	})
}

func TestExpectNormalizesCRLFAnsiNulAndBadBytes(t *testing.T) {
	both(t, console.Config{}, func(t *testing.T, l *link) {
		far := l.far()
		far.Write("\x1b[0;32m[  OK  ]\x1b[0m\r\n\x00\xffcam-1 log")
		far.Write("\x1b[1min\x1b[0m: ")
		m, err := l.c.Expect(ctx, guard, console.MustRegexp(`OK  \]\n.(?P<host>[\w-]+) login: `))
		if err != nil {
			t.Fatal(err)
		}
		if m.Groups["host"] != "cam-1" || m.Text != "OK  ]\n\xffcam-1 login: " {
			t.Fatalf("match %q groups %v", m.Text, m.Groups)
		}
		// The transcript keeps the raw bytes, escapes and all.
		if rx := stream(t, l.tr.records(t), "rx"); !bytes.Contains(rx, []byte("\x1b[1min\x1b[0m: ")) {
			t.Fatalf("transcript lost the ANSI sequences: %q", rx)
		}
	})
}

func TestExpectFindsPromptAfterEndlessLine(t *testing.T) {
	l := openPTY(t, console.Config{})
	far := l.far()
	line := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB, no newline
	done := make(chan error, 1)
	go func() {
		_, err := l.c.Expect(ctx, guard, console.Literal("login: "))
		done <- err
	}()
	far.WriteBytes(line)
	far.Write("login: ")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rs := l.tr.waitFor(t, "all bytes", func(rs []console.Record) bool { return len(stream(t, rs, "rx")) == len(line)+7 })
	if !bytes.HasPrefix(stream(t, rs, "rx"), line) {
		t.Fatal("transcript differs from the endless line")
	}
}

func TestTimeoutCarriesTail(t *testing.T) {
	l := openPTY(t, console.Config{})
	l.far().Write("Starting kernel ...\r\n")
	l.tr.waitFor(t, "rx", func(rs []console.Record) bool { return len(stream(t, rs, "rx")) > 0 })
	_, err := l.c.Expect(ctx, 50*time.Millisecond, console.Literal("login: "))
	var te *console.TimeoutError
	if !errors.Is(err, console.ErrTimeout) || !errors.As(err, &te) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	if !strings.Contains(te.Tail, "Starting kernel ...\n") || !strings.Contains(err.Error(), `"login: "`) {
		t.Fatalf("timeout error should name the pattern and show the tail: %v", err)
	}
	if errors.Is(err, console.ErrLost) {
		t.Fatal("a timeout is not a lost console")
	}
}

func TestExpectNotAndWatches(t *testing.T) {
	l := openPTY(t, console.Config{})
	far := l.far()
	panicP := console.Literal("Kernel panic")

	far.Write("Booting\r\nKernel panic - not syncing\r\nlogin: ")
	_, err := l.c.Wait(ctx, console.Wait{For: []console.Pattern{console.Literal("login: ")}, Not: []console.Pattern{panicP}, Timeout: guard})
	var u *console.UnwantedError
	if !errors.As(err, &u) || !errors.Is(err, console.ErrUnwanted) || u.Match.Text != "Kernel panic" {
		t.Fatalf("want ErrUnwanted for the panic, got %v", err)
	}

	// A standing watch fires on its own and fails waits until stopped;
	// it consumes nothing.
	w := l.c.Watch(console.MustRegexp(`Oops: \d+`))
	far.Write("ok\r\nOops: 0002 [#1]\r\n$ ")
	await(t, w.Fired(), "the watch firing")
	if _, err := l.c.Expect(ctx, guard, console.Literal("$ ")); !errors.Is(err, console.ErrUnwanted) {
		t.Fatalf("a fired watch should fail the wait, got %v", err)
	}
	if m := w.Stop(); m == nil || m.Text != "Oops: 0002" {
		t.Fatalf("watch match: %+v", m)
	}
	if _, err := l.c.Expect(ctx, guard, console.Literal("$ ")); err != nil {
		t.Fatalf("after Stop the output is still there to match: %v", err)
	}

	// Absent: silence for the window is a pass, the pattern a failure.
	if err := l.c.Absent(ctx, 20*time.Millisecond, panicP); err != nil {
		t.Fatalf("absent on silence: %v", err)
	}
	// The watch starts inside Absent: keep printing the panic until it
	// is seen.
	errc := make(chan error, 1)
	go func() { errc <- l.c.Absent(ctx, guard, panicP) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		far.Write("Kernel panic\r\n")
		select {
		case err := <-errc:
			if !errors.Is(err, console.ErrUnwanted) {
				t.Fatalf("absent should report the panic, got %v", err)
			}
			return
		case <-tick.C:
		}
	}
}

func TestCharDelaySendsOneByteAtATime(t *testing.T) {
	l := openPTY(t, console.Config{CharDelay: time.Millisecond})
	if err := l.c.SendLine(ctx, "ls"); err != nil {
		t.Fatal(err)
	}
	l.far().Expect("ls\n")
	var tx []string
	for _, r := range l.tr.records(t) {
		if r.Dir == "tx" {
			tx = append(tx, r.Text)
		}
	}
	if strings.Join(tx, "|") != "l|s|\n" {
		t.Fatalf("tx records: %q", tx)
	}
}

func TestSendEmptyRecordsNothing(t *testing.T) {
	// formats.md: an rx or tx record carries exactly one of text and b64;
	// an empty send has neither, and results rejects such a transcript.
	l := openTCP(t, console.Config{})
	if err := l.c.Send(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := l.c.Send(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	l.far().Expect("x")
	var tx []console.Record
	for _, r := range l.tr.records(t) {
		if r.Dir == "tx" {
			tx = append(tx, r)
		}
	}
	if len(tx) != 1 || tx[0].Text != "x" || tx[0].B64 != "" {
		t.Fatalf("want one tx record for %q, got %+v", "x", tx)
	}
	l.c.Close()
	if err := l.c.Send(ctx, ""); !errors.Is(err, console.ErrClosed) {
		t.Fatalf("an empty send on a closed console: want ErrClosed, got %v", err)
	}
}

func TestNegativeTimeoutMeansTimeIsUp(t *testing.T) {
	// A timeout computed from a deadline that has passed is negative: it
	// must not turn into "no limit".
	l := openTCP(t, console.Config{})
	w := l.c.Watch(console.Literal("ready")) // fires once the engine has the text
	l.far().Write("ready\r\n")
	await(t, w.Fired(), "the output arriving")
	w.Stop()
	cctx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	if _, err := l.c.Expect(cctx, -time.Millisecond, console.Literal("ready")); err != nil {
		t.Fatalf("output already received still matches: %v", err)
	}
	_, err := l.c.Expect(cctx, -time.Millisecond, console.Literal("never"))
	if !errors.Is(err, console.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrTimeout at once, got %v", err)
	}
}

func TestAbsentRefusesAnEmptyWindow(t *testing.T) {
	// Watching for no time sees nothing: that must not read as "absent".
	l := openTCP(t, console.Config{})
	for _, d := range []time.Duration{0, -time.Second} {
		err := l.c.Absent(ctx, d, console.Literal("Kernel panic"))
		if err == nil || errors.Is(err, console.ErrUnwanted) || !strings.Contains(err.Error(), "positive") {
			t.Fatalf("Absent for %v: want a usage error, got %v", d, err)
		}
	}
}

func TestOpenErrorsSayWhatToCheck(t *testing.T) {
	_, err := console.Open(ctx, console.Config{Name: "cam-1", Port: console.Serial{Path: "/dev/serial/by-id/usb-nothing-here"}})
	if err == nil || !strings.Contains(err.Error(), "/dev/serial/by-id/usb-nothing-here") || !strings.Contains(err.Error(), "plugged in") || !strings.Contains(err.Error(), `"cam-1"`) {
		t.Fatalf("missing port: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = console.Open(ctx, console.Config{Name: "cam-1", Port: console.TCP{Addr: addr}})
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "ser2net") {
		t.Fatalf("refused serial server: %v", err)
	}
	_, err = console.Open(ctx, console.Config{Name: "cam-1", Port: console.Serial{Path: "/dev/null", Parity: "sometimes"}})
	if err == nil || !strings.Contains(err.Error(), "none, odd, even") {
		t.Fatalf("bad parity: %v", err)
	}
	_, err = console.Open(ctx, console.Config{Name: "cam-1", Port: console.Serial{Path: "/dev/null"}})
	if err == nil || !strings.Contains(err.Error(), "not a serial port") {
		t.Fatalf("not a tty: %v", err)
	}
}

// failingWriter fails every write after the first n.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestTranscriptFailureStopsWork(t *testing.T) {
	srv := consoletest.NewServer(t)
	c, err := console.Open(ctx, console.Config{Name: "x", Port: console.TCP{Addr: srv.Addr}, Transcript: &failingWriter{n: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first line (open) is written; the tx record fails.
	_ = c.Send(ctx, "a")
	srv.Far().Expect("a")
	if _, err := c.Expect(ctx, guard, console.Literal("x")); !errors.Is(err, console.ErrTranscript) {
		t.Fatalf("want ErrTranscript once evidence is incomplete, got %v", err)
	}
	if err := c.Close(); !errors.Is(err, console.ErrTranscript) {
		t.Fatalf("Close should report the transcript failure, got %v", err)
	}
}

func TestWaitEndsOnCancelBusyAndClose(t *testing.T) {
	l := openPTY(t, console.Config{})
	cctx, cancel := context.WithCancel(ctx)
	registered := inFlight(l.c)
	errc := make(chan error, 1)
	go func() {
		_, err := l.c.Expect(cctx, 0, console.Literal("never"))
		errc <- err
	}()
	await(t, registered, "the wait starting")
	if _, err := l.c.Expect(ctx, guard, console.Literal("x")); !errors.Is(err, console.ErrBusy) {
		t.Fatalf("a second wait should be refused with ErrBusy, got %v", err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || errors.Is(err, console.ErrTimeout) {
		t.Fatalf("cancelled wait: want context.Canceled and not ErrTimeout, got %v", err)
	}

	registered = inFlight(l.c)
	go func() {
		_, err := l.c.Expect(ctx, 0, console.Literal("never"))
		errc <- err
	}()
	await(t, registered, "the wait starting")
	if err := l.c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, console.ErrClosed) {
		t.Fatalf("wait during Close: want ErrClosed, got %v", err)
	}
	if err := l.c.Send(ctx, "x"); !errors.Is(err, console.ErrClosed) {
		t.Fatalf("send after Close: want ErrClosed, got %v", err)
	}
	if ev := events(l.tr.records(t)); ev[len(ev)-1] != "close" {
		t.Fatalf("last event should be close: %v", ev)
	}
}
