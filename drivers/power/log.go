package power

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Event is one recorded transition.
type Event struct {
	Mono   time.Duration // since the Log's epoch, on the monotonic clock: when the action ended
	Wall   time.Time     // UTC, when the action ended
	Switch string        // line name, or the command switch's name
	Action Action
	// Start and StartWall are when the action began (Start since the
	// epoch). A command that takes 1.2 s cuts power somewhere between Start
	// and Mono; a console transcript may show the cut before Mono. Zero
	// StartWall: the event has no duration (a wait, recorded as it starts).
	Start     time.Duration
	StartWall time.Time
	Level     string // electrical level written to a GPIO line: "High" or "Low"
	Detail    string
	Output    string // a command's combined stdout and stderr
	// State is what the switch is known to be after the event: "on",
	// "off" or "unknown" (a failed or interrupted action). "" for events
	// that do not change it (a wait, a button).
	State string
	// StatusOutput is the standard output of the status command that told
	// State, when a status command is configured.
	StatusOutput string
	Err          string // set when the action failed
}

// Known states, as Event.State writes them.
const (
	StateOn      = "on"
	StateOff     = "off"
	StateUnknown = "unknown"
)

// wallFormat is RFC 3339 with all nine fractional digits, as the console
// transcripts write it, so the two files read alike.
const wallFormat = "2006-01-02T15:04:05.000000000Z07:00"

// MarshalJSON writes the event in the power-event format.
func (e Event) MarshalJSON() ([]byte, error) {
	var start *int64
	startWall := ""
	if !e.StartWall.IsZero() {
		s := int64(e.Start)
		start, startWall = &s, e.StartWall.UTC().Format(wallFormat)
	}
	return json.Marshal(struct {
		Mono      int64  `json:"mono_ns"`
		Wall      string `json:"wall"`
		Switch    string `json:"switch"`
		Action    Action `json:"action"`
		Start     *int64 `json:"start_mono_ns,omitempty"`
		StartWall string `json:"start_wall,omitempty"`
		Level     string `json:"level,omitempty"`
		Detail    string `json:"detail,omitempty"`
		Output    string `json:"output,omitempty"`
		State     string `json:"state,omitempty"`
		Status    string `json:"status_output,omitempty"`
		Err       string `json:"error,omitempty"`
	}{int64(e.Mono), e.Wall.UTC().Format(wallFormat), e.Switch, e.Action, start, startWall, e.Level, e.Detail, e.Output, e.State, e.StatusOutput, e.Err})
}

// Log records power events in memory and as JSON Lines to a writer. It is
// safe for concurrent use; one Log may serve every switch and button of a
// fixture.
type Log struct {
	epoch time.Time
	clk   clock

	mu     sync.Mutex
	w      io.Writer
	events []Event
	werr   error
	watch  func(e Event, begun bool)
}

// NewLog returns a Log writing to w (nil: memory only). Timestamps count from
// epoch, which should carry a monotonic reading (from time.Now) and be shared
// with the run's other recorders; the zero time means now.
func NewLog(w io.Writer, epoch time.Time) *Log {
	return newLog(w, epoch, realClock{})
}

func newLog(w io.Writer, epoch time.Time, clk clock) *Log {
	if epoch.IsZero() {
		epoch = clk.Now()
	}
	return &Log{epoch: epoch, clk: clk, w: w}
}

// Epoch returns the time base of the events' Mono.
func (l *Log) Epoch() time.Time { return l.epoch }

// Watch makes the Log call f as each action starts (begun true: the event
// holds the switch, the action, its detail and Start; the rest is not
// known yet) and as each event is recorded (begun false), so a person can
// follow a 45 s PDU command as it happens. Calls come in time order, with
// the Log's lock held: f must not block (queue the work) and must not call
// the Log. One watcher; nil removes it.
func (l *Log) Watch(f func(e Event, begun bool)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.watch = f
}

// Events returns a copy of the events recorded so far, in order.
func (l *Log) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// Err returns the first error writing to the writer; after it the Log
// writes no more (the file is incomplete either way). Events are kept in
// memory regardless, to be written again from Events, and switching goes on:
// leaving hardware in a known state matters more than the file. A run whose
// evidence file is incomplete must not be signed as complete.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.werr
}

// begin stamps e's start with the current time and tells the watcher.
func (l *Log) begin(e *Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	e.Start, e.StartWall = now.Sub(l.epoch), now.UTC()
	if l.watch != nil {
		l.watch(*e, true)
	}
}

// record stamps e with the current time, keeps it and writes it.
func (l *Log) record(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Stamped under the lock so that the file's order is the time order.
	now := l.clk.Now()
	e.Mono = now.Sub(l.epoch)
	e.Wall = now.UTC()
	l.events = append(l.events, e)
	if l.watch != nil {
		l.watch(e, false)
	}
	if l.w == nil || l.werr != nil {
		return
	}
	b, err := json.Marshal(e)
	if err == nil {
		_, err = l.w.Write(append(b, '\n'))
	}
	if err != nil {
		l.werr = fmt.Errorf("writing power event log: %w", err)
	}
}
