package console_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"testing"

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
