package console_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/console/consoletest"
)

// guard bounds waits in tests; it is a failure guard, not a delay.
const guard = consoletest.Guard

// transcript is a console's Transcript writer that tests can wait on.
type transcript struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newTranscript() *transcript { return &transcript{changed: make(chan struct{})} }

func (t *transcript) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	close(t.changed)
	t.changed = make(chan struct{})
	return len(p), nil
}

func (t *transcript) records(tb testing.TB) []console.Record {
	tb.Helper()
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []console.Record
	sc := bufio.NewScanner(bytes.NewReader(t.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r console.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatalf("transcript line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// waitFor waits until cond holds for the transcript's records.
func (t *transcript) waitFor(tb testing.TB, what string, cond func([]console.Record) bool) []console.Record {
	tb.Helper()
	deadline := time.After(guard)
	for {
		t.mu.Lock()
		changed := t.changed
		t.mu.Unlock()
		if rs := t.records(tb); cond(rs) {
			return rs
		}
		select {
		case <-changed:
		case <-deadline:
			tb.Fatalf("transcript never showed %s; it has:\n%s", what, t.String())
		}
	}
}

func (t *transcript) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// stream returns the bytes of every record in direction dir, in order.
func stream(tb testing.TB, rs []console.Record, dir string) []byte {
	tb.Helper()
	var out []byte
	for _, r := range rs {
		if r.Dir != dir {
			continue
		}
		b, err := r.Bytes()
		if err != nil {
			tb.Fatalf("record %+v: %v", r, err)
		}
		out = append(out, b...)
	}
	return out
}

func events(rs []console.Record) []string {
	var out []string
	for _, r := range rs {
		if r.Dir == "event" {
			out = append(out, r.Event)
		}
	}
	return out
}

func hasEvents(want ...string) func([]console.Record) bool {
	return func(rs []console.Record) bool {
		return strings.Contains(strings.Join(events(rs), ","), strings.Join(want, ","))
	}
}

type link struct {
	c   *console.Console
	tr  *transcript
	far func() *consoletest.Far // the device's current end
	pty *consoletest.PTY        // set for pty links
	srv *consoletest.Server     // set for TCP links
}

// openPTY opens a console on a fresh pty, through go.bug.st/serial.
func openPTY(t *testing.T, cfg console.Config) *link {
	t.Helper()
	p := consoletest.NewPTY(t)
	cfg.Port = console.Serial{Path: p.Path, Baud: 115200}
	l := open(t, cfg)
	l.pty, l.far = p, p.Far
	return l
}

// openTCP opens a console on a loopback server playing ser2net.
func openTCP(t *testing.T, cfg console.Config) *link {
	t.Helper()
	s := consoletest.NewServer(t)
	cfg.Port = console.TCP{Addr: s.Addr}
	l := open(t, cfg)
	l.srv, l.far = s, s.Far
	return l
}

func open(t *testing.T, cfg console.Config) *link {
	t.Helper()
	tr := newTranscript()
	if cfg.Name == "" {
		cfg.Name = "dut"
	}
	cfg.Transcript = tr
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 50 * time.Millisecond
	}
	c, err := console.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &link{c: c, tr: tr}
}

// both runs f on a pty link and on a TCP link.
func both(t *testing.T, cfg console.Config, f func(t *testing.T, l *link)) {
	t.Run("pty", func(t *testing.T) { f(t, openPTY(t, cfg)) })
	t.Run("tcp", func(t *testing.T) { f(t, openTCP(t, cfg)) })
}

// inFlight returns a channel closed once a wait is registered on c.
func inFlight(c *console.Console) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	console.OnWaiting(c, func() { once.Do(func() { close(ch) }) })
	return ch
}

func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(guard):
		t.Fatalf("%s did not happen within %v", what, guard)
	}
}

func timeAfterGuard() <-chan time.Time { return time.After(guard) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }
