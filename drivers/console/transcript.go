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
	// EventDiscard carries, as text or b64, what the port had received
	// before the console opened: recorded, never matched.
	EventDiscard = "discard"
	// EventMark is a Mark: output before it is not matched after it.
	EventMark = "mark"
	// EventRefused: after a loss, the port led to another device, which
	// the console refused (see SameDevice).
	EventRefused = "refused"
	// EventPower is a power transition of the fixture, from Event.
	EventPower = "power"
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
	// Redacted marks a tx record of a secret (SendSecret): the bytes went
	// to the device but are not in the transcript; Detail says how many.
	Redacted bool `json:"redacted,omitempty"`
}

// Bytes returns the bytes an rx or tx record carries; a redacted record
// carries none.
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
//
// A UTF-8 character split between two reads would make both records b64.
// So when an rx chunk is valid text except for the start of a character
// at its end (at most 3 bytes), those bytes are held back and recorded
// with the next rx chunk, at the time they were read. They are held only
// briefly: the next record of any kind, or utf8Hold passing, writes them
// out as they are, so nothing is lost or reordered.
type recorder struct {
	mu    sync.Mutex
	w     io.Writer
	epoch time.Time
	line  []byte
	err   error

	hold    time.Duration // utf8Hold when made
	held    []byte        // the start of a character, read at heldAt
	heldAt  time.Time
	heldGen uint64 // tells a stale timer from the one for the bytes held now
	timer   *time.Timer
	onHold  func(n int) // tests: called with how many bytes are held
}

// utf8Hold is how long at most the start of a character waits for its
// rest. A UART delivers the next bytes within a millisecond or two.
var utf8Hold = 50 * time.Millisecond

func newRecorder(w io.Writer, epoch time.Time) *recorder {
	if w == nil {
		w = io.Discard
	}
	if epoch.IsZero() {
		epoch = time.Now()
	}
	return &recorder{w: w, epoch: epoch, hold: utf8Hold}
}

// data records bytes in direction dir ("rx" or "tx") as read or written at t.
// An empty b records nothing: a record carries exactly one of text and
// b64, and an empty text would carry neither.
func (r *recorder) data(dir string, b []byte, t time.Time) {
	if len(b) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir != dirRx {
		r.flushHeld()
		r.writeData(dir, b, t)
		return
	}
	readAt := t
	if len(r.held) > 0 {
		if !continues(r.held, b) {
			r.flushHeld()
		} else {
			b = append(r.held[:len(r.held):len(r.held)], b...) // a copy: held is reused
			t = r.heldAt
			r.dropHeld()
		}
	}
	k := incompleteTail(b)
	if k == 0 || r.hold <= 0 || !utf8.Valid(b[:len(b)-k]) {
		r.writeData(dir, b, t) // whole characters, or not text anyway
		return
	}
	if k < len(b) {
		r.writeData(dir, b[:len(b)-k], t)
		t = readAt // the held bytes came in this read
	}
	r.held = append(r.held[:0], b[len(b)-k:]...)
	r.heldAt = t
	r.heldGen++
	if r.onHold != nil {
		r.onHold(len(r.held))
	}
	gen := r.heldGen
	r.timer = time.AfterFunc(r.hold, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.heldGen == gen {
			r.flushHeld()
		}
	})
}

// continues reports whether b goes on with the character held starts.
func continues(held, b []byte) bool {
	var c [utf8.UTFMax]byte
	n := copy(c[:], held)
	n += copy(c[n:], b)
	if !utf8.FullRune(c[:n]) {
		return true // still a valid start, just longer
	}
	r, size := utf8.DecodeRune(c[:n])
	return r != utf8.RuneError || size > 1
}

// incompleteTail returns how many bytes at the end of b are the valid
// start of a character whose rest has not come yet (0 to 3).
func incompleteTail(b []byte) int {
	for k := 1; k < utf8.UTFMax && k <= len(b); k++ {
		c := b[len(b)-k]
		if utf8.RuneStart(c) {
			if c >= utf8.RuneSelf && !utf8.FullRune(b[len(b)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}

// flushHeld writes out the bytes held back, as they are. Called with mu.
func (r *recorder) flushHeld() {
	if len(r.held) == 0 {
		return
	}
	r.writeData(dirRx, r.held, r.heldAt)
	r.dropHeld()
}

// dropHeld forgets the bytes held (they have been recorded). Called with mu.
func (r *recorder) dropHeld() {
	r.held = r.held[:0]
	r.heldGen++
	if r.timer != nil {
		r.timer.Stop() // if it already fired, heldGen makes it do nothing
		r.timer = nil
	}
}

// writeData writes one rx or tx record. Called with mu.
func (r *recorder) writeData(dir string, b []byte, t time.Time) {
	rec := Record{Dir: dir}
	if utf8.Valid(b) {
		rec.Text = string(b)
	} else {
		rec.B64 = base64.StdEncoding.EncodeToString(b)
	}
	r.writeLocked(rec, t)
}

// redacted records that n bytes of a secret went out at t, without them.
func (r *recorder) redacted(n int, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushHeld()
	r.writeLocked(Record{Dir: dirTx, Redacted: true, Detail: fmt.Sprintf("secret: %d bytes", n)}, t)
}

func (r *recorder) event(event, detail string) {
	t := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushHeld() // read before the event: it goes first
	r.writeLocked(Record{Dir: dirEvent, Event: event, Detail: detail}, t)
}

// eventData records an event carrying bytes (EventDiscard).
func (r *recorder) eventData(event, detail string, b []byte) {
	t := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushHeld()
	rec := Record{Dir: dirEvent, Event: event, Detail: detail}
	if utf8.Valid(b) {
		rec.Text = string(b)
	} else {
		rec.B64 = base64.StdEncoding.EncodeToString(b)
	}
	r.writeLocked(rec, t)
}

// writeLocked writes one line. Called with mu.
func (r *recorder) writeLocked(rec Record, t time.Time) {
	if r.err != nil {
		return
	}
	rec.MonoNS = t.Sub(r.epoch).Nanoseconds()
	rec.Wall = t.UTC().Format(wallFormat)
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
