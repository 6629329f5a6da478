package console_test

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/certbench/certbench/drivers/console"
)

// screen is the user's terminal: it collects what Attach writes.
type screen struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

func (s *screen) waitFor(t *testing.T, want string) {
	t.Helper()
	for {
		s.mu.Lock()
		got, changed := s.buf.String(), s.changed
		s.mu.Unlock()
		if bytes.Contains([]byte(got), []byte(want)) {
			return
		}
		select {
		case <-changed:
		case <-timeAfterGuard():
			t.Fatalf("screen never showed %q; it has %q", want, got)
		}
	}
}

func TestAttachPassesBothWaysUntilEscape(t *testing.T) {
	both(t, console.Config{}, func(t *testing.T, l *link) {
		far := l.far()
		keys, typing := io.Pipe()
		scr := &screen{changed: make(chan struct{})}
		done := make(chan error, 1)
		go func() { done <- l.c.Attach(ctx, keys, scr, 0) }()

		typing.Write([]byte("ls\n"))
		far.Expect("ls\n") // Attach is reading keys, so its tap is in place
		far.Write("\x1b[1;34mbin\x1b[0m  etc\r\n# ")
		scr.waitFor(t, "\x1b[1;34mbin\x1b[0m  etc\r\n# ") // raw, ANSI kept

		typing.Write([]byte{0x1d, 0x1d}) // Ctrl-] twice: one Ctrl-] sent
		typing.Write([]byte{0x1d, 'x'})  // Ctrl-] then x: both sent
		far.Expect("\x1d\x1dx")
		typing.Write([]byte("exit\x1d"))
		typing.Write([]byte("q")) // the sequence split across reads
		if err := <-done; err != nil {
			t.Fatalf("Attach: %v", err)
		}
		far.Expect("exit")
		if got := string(stream(t, l.tr.records(t), "tx")); got != "ls\n\x1d\x1dxexit" {
			t.Fatalf("tx recorded %q", got)
		}
		if err := l.c.Send(ctx, "!"); err != nil {
			t.Fatalf("console unusable after Attach: %v", err)
		}
		if got := far.Received(); bytes.Contains([]byte(got), []byte("q")) {
			t.Fatalf("the escape sequence reached the device: %q", got)
		}
	})
}

func TestAttachEndsWhenConsoleCloses(t *testing.T) {
	l := openPTY(t, console.Config{})
	keys, typing := io.Pipe()
	defer typing.Close()
	done := make(chan error, 1)
	go func() { done <- l.c.Attach(ctx, keys, io.Discard, 0) }()
	typing.Write([]byte("a"))
	l.far().Expect("a")
	l.c.Close()
	if err := <-done; !errorsIs(err, console.ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
}
