package console_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/console/consoletest"
)

// shortWriter writes half of its failAt'th write and fails it, like a
// disk that fills up mid-line; writes before and after it succeed.
type shortWriter struct {
	mu     sync.Mutex
	failAt int
	writes int
	after  int // writes attempted after the failure
	buf    bytes.Buffer
}

func (w *shortWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	switch {
	case w.writes == w.failAt:
		n := len(p) / 2
		w.buf.Write(p[:n])
		return n, errors.New("no space left on device")
	case w.writes > w.failAt:
		w.after++
	}
	w.buf.Write(p)
	return len(p), nil
}

func TestTranscriptStopsAtTheFirstWriteError(t *testing.T) {
	srv := consoletest.NewServer(t)
	w := &shortWriter{failAt: 2} // 1: open, 2: the tx of "abc"
	c, err := console.Open(ctx, console.Config{Name: "x", Port: console.TCP{Addr: srv.Addr}, Transcript: w})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Send(ctx, "abc")
	srv.Far().Expect("abc")
	c.Note("after the failure")
	if err := c.Send(ctx, "d"); !errors.Is(err, console.ErrTranscript) {
		t.Fatalf("send after a transcript failure: want ErrTranscript, got %v", err)
	}
	if err := c.Close(); !errors.Is(err, console.ErrTranscript) {
		t.Fatalf("Close should report the transcript failure, got %v", err)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.after != 0 {
		t.Errorf("%d writes after the failed one; the recorder must stop at the first error", w.after)
	}
	// What is there: whole lines, then at most the half line that failed,
	// never a later line glued onto it.
	lines := bytes.Split(w.buf.Bytes(), []byte("\n"))
	for _, l := range lines[:len(lines)-1] {
		var r console.Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("transcript line %q: %v\nfile:\n%s", l, err, w.buf.Bytes())
		}
	}
	if half := lines[len(lines)-1]; !bytes.HasPrefix(half, []byte(`{"mono_ns":`)) || bytes.Count(half, []byte("{")) != 1 {
		t.Fatalf("the last, unfinished line should be the half that failed alone: %q", half)
	}
}

// rxRecords returns the rx records of rs.
func rxRecords(rs []console.Record) []console.Record {
	var out []console.Record
	for _, r := range rs {
		if r.Dir == "rx" {
			out = append(out, r)
		}
	}
	return out
}

func TestTranscriptKeepsSplitCharactersAsText(t *testing.T) {
	console.HoldUTF8(t, guard) // only the next rx (or another record) ends the hold here
	both(t, console.Config{}, func(t *testing.T, l *link) {
		far := l.far()
		far.WriteBytes([]byte("caf\xc3"))
		// The first read is recorded before the rest is written, so the
		// "é" really is split between two reads.
		l.tr.waitFor(t, "the first read", func(rs []console.Record) bool { return len(rxRecords(rs)) > 0 })
		far.WriteBytes([]byte("\xa9 \xf0\x9f"))
		far.WriteBytes([]byte("\x98"))
		far.WriteBytes([]byte("\x80 ok\r\n"))
		want := "café 😀 ok\r\n"
		rs := l.tr.waitFor(t, "every byte", func(rs []console.Record) bool { return len(stream(t, rs, "rx")) >= len(want) })
		if got := string(stream(t, rs, "rx")); got != want {
			t.Fatalf("rx %q, want %q", got, want)
		}
		var last int64
		for _, r := range rxRecords(rs) {
			if r.B64 != "" {
				t.Fatalf("a character split between reads made a b64 record: %+v\n%s", r, l.tr)
			}
			if r.MonoNS < last {
				t.Fatalf("rx mono_ns went backwards: %+v", rs)
			}
			last = r.MonoNS
		}

		// A start that the next read does not continue is recorded as it
		// is, ahead of that read: invalid bytes stay b64, nothing is lost.
		n := len(rxRecords(rs))
		held := holds(l.c)
		far.WriteBytes([]byte("x\xc3"))
		awaitHold(t, held, 1)
		far.Write("(\r\n")
		rs = l.tr.waitFor(t, "every byte", func(rs []console.Record) bool { return strings.HasSuffix(string(stream(t, rs, "rx")), "(\r\n") })
		rx := rxRecords(rs)[n:]
		if got := string(stream(t, rx, "rx")); got != "x\xc3(\r\n" {
			t.Fatalf("rx %q", got)
		}
		var b64 []string
		for _, r := range rx {
			if r.B64 != "" {
				b64 = append(b64, r.B64)
			}
		}
		if len(b64) != 1 || b64[0] != "ww==" {
			t.Fatalf("want the lone \\xc3 alone in one b64 record, got %+v", rx)
		}
	})
}

// holds returns a channel that gets how many bytes c's transcript holds
// back, each time it does.
func holds(c *console.Console) <-chan int {
	ch := make(chan int, 64)
	console.OnHold(c, func(n int) {
		select {
		case ch <- n:
		default:
		}
	})
	return ch
}

// awaitHold waits until n bytes are held back.
func awaitHold(t *testing.T, held <-chan int, n int) {
	t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case got := <-held:
			if got == n {
				return
			}
		case <-deadline:
			t.Fatalf("the transcript never held back %d bytes", n)
		}
	}
}

func TestTranscriptHoldsASplitCharacterOnlyUntilTheNextRecord(t *testing.T) {
	console.HoldUTF8(t, guard)
	l := openTCP(t, console.Config{})
	held := holds(l.c)
	far := l.far()
	far.WriteBytes([]byte("y\xe2\x82"))
	awaitHold(t, held, 2)
	l.c.Note("next")
	rs := l.tr.records(t)
	if n := len(rs); n < 2 || rs[n-2].B64 != "4oI=" || rs[n-1].Event != "note" {
		t.Fatalf("the held bytes should be recorded before the note; got\n%s", l.tr)
	}

	far.WriteBytes([]byte("z\xc3"))
	awaitHold(t, held, 1)
	if err := l.c.Close(); err != nil {
		t.Fatal(err)
	}
	rs = l.tr.records(t)
	if n := len(rs); rs[n-2].B64 != "ww==" || rs[n-1].Event != "close" {
		t.Fatalf("the held byte should be recorded before the close; got\n%s", l.tr)
	}
}

func TestTranscriptHoldsASplitCharacterOnlyBriefly(t *testing.T) {
	// Nothing follows the start of a character: it is recorded by itself
	// soon, not kept until the next record.
	l := openTCP(t, console.Config{})
	l.far().WriteBytes([]byte("w\xc3"))
	l.tr.waitFor(t, "both bytes", func(rs []console.Record) bool { return string(stream(t, rs, "rx")) == "w\xc3" })
}
