package console

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// Transcript directions and events (formats.md, "Console transcript").
const (
	dirRx    = "rx"
	dirTx    = "tx"
	dirEvent = "event"

	EventOpen   = "open"
	EventLost   = "lost"
	EventReopen = "reopen"
	EventClose  = "close"
	EventNote   = "note"
)

// Record is one line of a console transcript.
type Record struct {
	MonoNS int64  `json:"mono_ns"`
	Wall   string `json:"wall"`
	Dir    string `json:"dir"`
	Text   string `json:"text,omitempty"`
	B64    string `json:"b64,omitempty"`
	Event  string `json:"event,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Bytes returns the bytes an rx or tx record carries.
func (r Record) Bytes() ([]byte, error) {
	if r.B64 != "" {
		return base64.StdEncoding.DecodeString(r.B64)
	}
	return []byte(r.Text), nil
}

const wallFormat = "2006-01-02T15:04:05.000000000Z07:00"

// recorder writes transcript lines. Each line goes out in one Write, so a
// file opened for appending never holds half a line from two writers. The
// first write error is kept and ends the recording: evidence is incomplete
// from then on, and a failed write may have left half a line, onto which
// a later line would be glued into one that no reader can parse.
type recorder struct {
	mu    sync.Mutex
	w     io.Writer
	epoch time.Time
	line  []byte
	err   error
}

func newRecorder(w io.Writer, epoch time.Time) *recorder {
	if w == nil {
		w = io.Discard
	}
	if epoch.IsZero() {
		epoch = time.Now()
	}
	return &recorder{w: w, epoch: epoch}
}

// data records bytes in direction dir ("rx" or "tx") as read or written at t.
// An empty b records nothing: a record carries exactly one of text and
// b64, and an empty text would carry neither.
func (r *recorder) data(dir string, b []byte, t time.Time) {
	if len(b) == 0 {
		return
	}
	rec := Record{Dir: dir}
	if utf8.Valid(b) {
		rec.Text = string(b)
	} else {
		rec.B64 = base64.StdEncoding.EncodeToString(b)
	}
	r.write(rec, t)
}

func (r *recorder) event(event, detail string) {
	r.write(Record{Dir: dirEvent, Event: event, Detail: detail}, time.Now())
}

func (r *recorder) write(rec Record, t time.Time) {
	rec.MonoNS = t.Sub(r.epoch).Nanoseconds()
	rec.Wall = t.UTC().Format(wallFormat)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	r.line = r.line[:0]
	r.line = appendJSON(r.line, rec)
	if _, err := r.w.Write(r.line); err != nil {
		r.err = fmt.Errorf("%w: %v", ErrTranscript, err)
	}
}

// appendJSON encodes rec without HTML escaping, so "<" stays readable.
func appendJSON(dst []byte, rec Record) []byte {
	w := appendWriter{&dst}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(rec) // cannot fail: strings and ints only; adds "\n"
	return dst
}

type appendWriter struct{ b *[]byte }

func (w appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

func (r *recorder) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
