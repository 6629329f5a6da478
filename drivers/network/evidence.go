package network

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Redacted stands where a secret was in a record's text; the record's
// Redacted field says the text holds one, so a reader never takes the
// marker for the device's words.
const Redacted = "<redacted>"

// Record is one line of a network-exchange evidence file (doc.go).
type Record struct {
	MonoNS   int64  `json:"mono_ns"`
	Wall     string `json:"wall"`
	Proto    string `json:"proto"` // telnet, http, ssh, mqtt
	Addr     string `json:"addr"`
	Conn     int64  `json:"conn"` // which connection of this recorder, from 1
	Dir      string `json:"dir"`  // tx, rx, event
	Text     string `json:"text,omitempty"`
	B64      string `json:"b64,omitempty"`
	Redacted bool   `json:"redacted,omitempty"`
	Event    string `json:"event,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Record directions and events.
const (
	DirTx    = "tx"
	DirRx    = "rx"
	DirEvent = "event"

	EventConnect = "connect" // Detail: local and remote address
	EventClose   = "close"   // Detail: who closed, or why
	EventHostKey = "hostkey" // ssh: Detail "ssh-ed25519 SHA256:..."
	EventTLSCert = "tlscert" // https: Detail "SHA256:HEX SUBJECT" of the leaf certificate
	EventOutcome = "outcome" // Detail: "ok" or the error's kind and the device's words
	EventNote    = "note"
)

const wallFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Recorder writes exchange records as JSON Lines, each in one Write, to an
// evidence file shared by every probe of a run. Its methods are safe for
// concurrent use; a nil *Recorder records nothing. The first write error
// is kept and ends the recording (Err): the evidence is incomplete.
type Recorder struct {
	mu    sync.Mutex
	w     io.Writer
	epoch time.Time
	conns int64
	err   error
}

// NewRecorder records to w; mono_ns counts from epoch (the run's start,
// shared with the console transcript), or from now when epoch is zero.
func NewRecorder(w io.Writer, epoch time.Time) *Recorder {
	if epoch.IsZero() {
		epoch = time.Now()
	}
	return &Recorder{w: w, epoch: epoch}
}

// Err reports the first failed write: the evidence is incomplete.
func (r *Recorder) Err() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Recorder) write(rec Record) {
	if r == nil {
		return
	}
	now := time.Now()
	rec.MonoNS = int64(now.Sub(r.epoch))
	rec.Wall = now.UTC().Format(wallFormat)
	line, err := json.Marshal(rec)
	if err != nil {
		panic(err) // a Record always marshals
	}
	line = append(line, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	if _, err := r.w.Write(line); err != nil {
		r.err = fmt.Errorf("network evidence: %w", err)
	}
}

// exchange is one connection's view of the recorder.
type exchange struct {
	r      *Recorder
	proto  string
	addr   string
	conn   int64
	secret []string // redacted wherever they appear, rx too

	tlsSeen bool // the certificate is recorded once per exchange
}

func (r *Recorder) open(proto, addr string, secrets ...string) *exchange {
	x := &exchange{r: r, proto: proto, addr: addr}
	if r != nil {
		r.mu.Lock()
		r.conns++
		x.conn = r.conns
		r.mu.Unlock()
	}
	for _, s := range secrets {
		x.hide(s)
	}
	return x
}

// hide redacts s wherever it appears in later records: a device that
// echoes the password must not put it in the evidence. A secret of a few
// bytes would redact ordinary words; it is redacted where the probe sends
// it, not searched for elsewhere.
func (x *exchange) hide(s string) {
	if len(s) >= minSearched {
		x.secret = append(x.secret, s)
	}
}

// minSearched is the shortest secret looked for in text the device sent.
const minSearched = 4

func (x *exchange) rec(dir string, b []byte, redacted bool) {
	rec := Record{Proto: x.proto, Addr: x.addr, Conn: x.conn, Dir: dir, Redacted: redacted}
	s := string(b)
	for _, sec := range x.secret {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
			rec.Redacted = true
		}
	}
	if utf8.ValidString(s) {
		rec.Text = s
	} else {
		rec.B64 = base64.StdEncoding.EncodeToString([]byte(s))
	}
	x.r.write(rec)
}

func (x *exchange) tx(b []byte)            { x.rec(DirTx, b, false) }
func (x *exchange) txRedacted(text string) { x.rec(DirTx, []byte(text), true) }
func (x *exchange) rx(b []byte)            { x.rec(DirRx, b, false) }

func (x *exchange) event(ev, detail string) {
	for _, sec := range x.secret {
		detail = strings.ReplaceAll(detail, sec, Redacted)
	}
	x.r.write(Record{Proto: x.proto, Addr: x.addr, Conn: x.conn, Dir: DirEvent, Event: ev, Detail: detail})
}

// outcome records how the exchange ended and returns err.
func (x *exchange) outcome(err error) error {
	if err == nil {
		x.event(EventOutcome, "ok")
		return nil
	}
	x.event(EventOutcome, err.Error())
	return err
}
