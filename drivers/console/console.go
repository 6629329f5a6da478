package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Config says how to open a console.
type Config struct {
	Name string // the fixture's name, for errors and notes
	Port Port   // Serial{...} or TCP{...}

	// Transcript receives the JSON Lines transcript (formats.md): every
	// byte read and written, and the port's events. Nil discards it.
	Transcript io.Writer
	// Epoch is time zero for the transcript's mono_ns, normally the run's
	// start shared by all recorders; zero means "now".
	Epoch time.Time

	// CharDelay is a pause after each byte sent, for consoles that drop
	// characters when typed at full speed.
	CharDelay time.Duration
	// Newline ends the lines SendLine, Login and Run send; default "\n".
	Newline string
	// Prompts are the device's prompts, for Login and Run.
	Prompts Prompts
	// Backlog is how much recent normalized output is kept for a wait
	// that starts after it arrived and for Match.Before; default and
	// minimum 64 KiB.
	Backlog int
	// MaxBackoff caps the wait between attempts to reopen a lost port;
	// default 2s. Attempts start 20ms apart and double.
	MaxBackoff time.Duration

	// For Login (see there). PromptQuiet is how long it waits for a
	// login prompt before asking for one (default 1s); AnswerDelay a
	// pause before each answer; RequireEchoOff makes an echoed password
	// an error (ErrEchoed); Settle the settle time of its waits.
	PromptQuiet    time.Duration
	AnswerDelay    time.Duration
	RequireEchoOff bool
	Settle         time.Duration
}

// Prompts are what a device prints around a login, from its profile.
// Login and Shell are required for Login; Shell lets Run resynchronize on
// the prompt after each command. The others are optional.
type Prompts struct {
	Autoboot Pattern // the bootloader's "hit any key" window: Login sends nothing while it may show
	Login    Pattern // e.g. Literal("login: ")
	Password Pattern // e.g. Literal("Password: ")
	Shell    Pattern // e.g. MustRegexp(`[#$] $`)
	Failed   Pattern // e.g. Literal("Login incorrect")
	Lockout  Pattern // e.g. MustRegexp(`(?i)locked|too many`)
}

const (
	minBacklog = 4 * MaxWidthLimit
	tailLen    = 512
	readSize   = 4096
)

// Console is one open device console. Its methods are safe for concurrent
// use, but only one wait (Expect, Wait, Login, Run) can be in progress at
// a time; standing watches run alongside.
type Console struct {
	cfg     Config
	rec     *recorder
	newline string

	mu      sync.Mutex
	id      Identity // what the port led to when last opened
	st      *stream
	conn    conn       // nil while the port is lost
	lost    *LostError // why, while lost
	closed  bool
	taps    map[chan []byte]struct{}
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed when the reader has ended

	wmu sync.Mutex // one writer at a time, so sends don't interleave

	waitingHook func() // tests: called once a wait is registered
}

// Open opens the console's port, starts recording, and starts the reader
// that keeps reading (and reopening the port after a loss) until Close.
// It fails if the port cannot be opened now, saying what to check. ctx
// bounds this first open only. Open sends nothing to the device (a key
// during a bootloader's autoboot window would stop the boot).
func Open(ctx context.Context, cfg Config) (*Console, error) {
	if cfg.Port == nil {
		return nil, fmt.Errorf("console %q: no port: give a serial path, a USB vid/pid, or a serial server address", cfg.Name)
	}
	if s, ok := cfg.Port.(Serial); ok {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("console %q: %w", cfg.Name, err)
		}
	}
	cn, err := cfg.Port.open(ctx, func(Identity) error { return nil })
	if err != nil {
		return nil, fmt.Errorf("console %q: %w", cfg.Name, err)
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	c := &Console{
		cfg:     cfg,
		rec:     newRecorder(cfg.Transcript, cfg.Epoch),
		newline: cfg.Newline,
		st:      newStream(max(cfg.Backlog, minBacklog)),
		conn:    cn,
		taps:    make(map[chan []byte]struct{}),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if c.newline == "" {
		c.newline = "\n"
	}
	c.id = cn.identity()
	c.rec.event(EventOpen, fmt.Sprintf("%s: %s", cfg.Port, c.id))
	// What the port received before it was opened (a login prompt from an
	// earlier boot, output of a unit since switched off) is not current:
	// it is recorded, marked, and never matched.
	stale, err := cn.discard()
	if len(stale) > 0 {
		c.rec.eventData(EventDiscard, fmt.Sprintf("%d bytes received before the console opened, discarded unmatched", len(stale)), stale)
	}
	if err != nil {
		c.rec.event(EventNote, err.Error())
	}
	go c.read(cn)
	return c, nil
}

// Identity says what served the console: the device node its port led to
// (with its device number, and for a USB adapter vendor, product and serial
// number), or the serial server's address. After a reopen it is the
// device found then (see SameDevice). A record names it, so that what
// the evidence came from is known.
func (c *Console) Identity() Identity {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Mark ends what later waits may match: only output that arrives after it
// counts, for the wait in flight too (its Before starts here), and no
// match spans it. The transcript gets a "mark" event with reason. Call it
// when the device's earlier output stops being current: the bench cut
// its power (a prompt printed before the cut must not answer a wait for
// the next boot's), or a procedure's mark step. Standing watches go on:
// they saw all the output, before the mark and after.
func (c *Console) Mark(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.event(EventMark, reason)
	c.st.mark()
}

// Event writes an event another part of the bench contributes to the
// console's timeline, such as a power transition (kind EventPower), so
// the transcript shows it among the bytes it explains. Event does not
// mark: a power cut also calls Mark.
func (c *Console) Event(kind, detail string) error {
	if kind != EventPower {
		return fmt.Errorf("console %q: event %q: only %q events come from outside the console", c.cfg.Name, kind, EventPower)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.event(kind, detail)
	return nil
}

// Name returns the console's name from its Config.
func (c *Console) Name() string { return c.cfg.Name }

// Close stops the reader, closes the port, records the close and reports
// whether the transcript was written completely.
func (c *Console) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.rec.failed()
	}
	c.closed = true
	close(c.stop)
	cn := c.conn
	if w := c.st.wait; w != nil {
		w.finish(nil, c.closedErr())
		c.st.wait = nil
	}
	for _, w := range c.st.watches {
		w.broke(c.closedErr())
	}
	c.mu.Unlock()
	if cn != nil {
		cn.Close()
	}
	<-c.stopped
	c.mu.Lock()
	for t := range c.taps {
		close(t)
		delete(c.taps, t)
	}
	c.mu.Unlock()
	c.rec.event(EventClose, "")
	return c.rec.failed()
}

func (c *Console) closedErr() error { return fmt.Errorf("console %q: %w", c.cfg.Name, ErrClosed) }

// Note writes a bench-side note into the transcript (event "note"), e.g.
// what a test case is about to do.
func (c *Console) Note(detail string) { c.rec.event(EventNote, detail) }

// read is the always-on reader: every byte goes to the transcript first,
// then to the engine and any Attach, whether or not anything waits.
func (c *Console) read(cn conn) {
	defer close(c.stopped)
	buf := make([]byte, readSize)
	for {
		n, err := cn.Read(buf)
		if n > 0 {
			// Recorded under mu, so that a Mark's event sits in the
			// transcript exactly where the engine drew the line.
			c.mu.Lock()
			c.rec.data(dirRx, buf[:n], time.Now())
			c.st.feed(buf[:n])
			c.tap(buf[:n])
			c.mu.Unlock()
		}
		if err == nil {
			continue // data, or (0, nil): no data yet
		}
		if cn = c.reopen(cn, fmt.Errorf("read %s: %w", c.cfg.Port, err)); cn == nil {
			return
		}
	}
}

// tap passes device bytes to Attach; a display that can't keep up misses
// bytes (the transcript has them), the reader never blocks. Called with mu.
func (c *Console) tap(b []byte) {
	for t := range c.taps {
		select {
		case t <- append([]byte(nil), b...):
		default:
		}
	}
}

// reopen handles a lost port: it records the loss, fails the wait in
// flight with ErrLost, then tries to open the port again, backing off,
// until it returns or the console is closed (then it returns nil).
func (c *Console) reopen(old conn, cause error) conn {
	old.Close()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	lost := &LostError{Console: c.cfg.Name, Cause: cause}
	lostAt := time.Now()
	c.rec.event(EventLost, cause.Error())
	c.conn, c.lost = nil, lost
	c.st.cut(lost)
	if w := c.st.wait; w != nil {
		w.finish(nil, lost)
		c.st.wait = nil
	}
	c.tap([]byte(fmt.Sprintf("\r\n[console %q lost: %v; waiting for it to return]\r\n", c.cfg.Name, cause)))
	c.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := 20 * time.Millisecond
	var lastErr error
	refusedLast := ""
	c.mu.Lock()
	want := c.id
	c.mu.Unlock()
	accept := func(next Identity) error {
		if ok, why := SameDevice(want, next); !ok {
			return &refusedError{next: next, why: why}
		}
		return nil
	}
	for attempts := 1; ; attempts++ {
		t := time.NewTimer(backoff)
		select {
		case <-c.stop:
			t.Stop()
			return nil
		case <-t.C:
		}
		cn, err := c.cfg.Port.open(ctx, accept)
		if err != nil {
			lastErr = err
			backoff = min(2*backoff, c.cfg.MaxBackoff)
			var ref *refusedError
			if errors.As(err, &ref) && ref.next.String() != refusedLast {
				// Noted once per device found, not on every attempt.
				refusedLast = ref.next.String()
				msg := fmt.Sprintf("%s now leads to %s: not the console's device (%s); refused, still waiting for %s", c.cfg.Port, ref.next, ref.why, want)
				c.mu.Lock()
				c.rec.event(EventRefused, msg)
				if c.lost != nil {
					c.lost = &LostError{Console: c.cfg.Name, Cause: fmt.Errorf("%w; %s", cause, msg)}
				}
				c.mu.Unlock()
			}
			continue
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			cn.Close()
			return nil
		}
		c.id = cn.identity()
		detail := fmt.Sprintf("%s back after a gap of %v (%d attempts): %s", c.cfg.Port, time.Since(lostAt).Round(time.Millisecond), attempts, c.id)
		if lastErr != nil {
			detail += "; last failure: " + lastErr.Error()
		}
		c.rec.event(EventReopen, detail)
		c.conn, c.lost = cn, nil
		c.tap([]byte(fmt.Sprintf("\r\n[console %q back]\r\n", c.cfg.Name)))
		c.mu.Unlock()
		return cn
	}
}

// refusedError: the port led to another device than the console's.
type refusedError struct {
	next Identity
	why  string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("%s is not the console's device: %s", e.next, e.why)
}

// Send writes s to the device, recording it as tx. With Config.CharDelay
// it writes one byte at a time, pausing after each. An empty s sends and
// records nothing.
func (c *Console) Send(ctx context.Context, s string) error {
	return c.send(ctx, s, false)
}

// SendSecret writes s to the device as Send does, but the transcript gets
// one tx record marked redacted (with the byte count) instead of s: a
// password must not reach a record that is shared. What the device echoes
// is recorded as received; a device that echoes a password shows it.
func (c *Console) SendSecret(ctx context.Context, s string) error {
	return c.send(ctx, s, true)
}

func (c *Console) send(ctx context.Context, s string, secret bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	cn, err := c.conn, c.usable()
	if err == nil && cn == nil {
		err = c.lost
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if s == "" {
		return nil // nothing to send, and nothing to record
	}
	what := fmt.Sprintf("%q", s)
	if secret {
		c.rec.redacted(len(s), time.Now())
		what = "a secret"
	}
	if c.cfg.CharDelay <= 0 {
		return c.write(cn, []byte(s), !secret)
	}
	for i := 0; i < len(s); i++ {
		if err := c.write(cn, []byte{s[i]}, !secret); err != nil {
			return err
		}
		t := time.NewTimer(c.cfg.CharDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("console %q: send %s: stopped after %d of %d bytes: %w", c.cfg.Name, what, i+1, len(s), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// SendLine sends s followed by Config.Newline.
func (c *Console) SendLine(ctx context.Context, s string) error {
	return c.Send(ctx, s+c.newline)
}

// write records b (when record is set) before writing it, so the
// transcript shows it ahead of the device's echo.
func (c *Console) write(cn conn, b []byte, record bool) error {
	if record {
		c.rec.data(dirTx, b, time.Now())
	}
	for len(b) > 0 {
		n, err := cn.Write(b)
		b = b[n:]
		if err != nil {
			c.rec.event(EventNote, fmt.Sprintf("write failed with %d bytes unsent: %v", len(b), err))
			return &LostError{Console: c.cfg.Name, Cause: fmt.Errorf("write: %w", err)}
		}
	}
	return nil
}

// usable reports why the console can't be used, if so. Called with mu.
func (c *Console) usable() error {
	if c.closed {
		return c.closedErr()
	}
	if err := c.rec.failed(); err != nil {
		return fmt.Errorf("console %q: %w", c.cfg.Name, err)
	}
	return nil
}

// Wait describes what to wait for: the first of For to appear, failing
// with ErrUnwanted if one of Not appears first, with ErrTimeout after
// Timeout. Zero means only ctx limits it; a negative Timeout (time left
// until a deadline that has passed) means the time is up: only output
// already received is looked at.
type Wait struct {
	For     []Pattern
	Not     []Pattern
	Timeout time.Duration
	// Settle and Priority settle alternatives whose text is the start of
	// what another prints next ("Login incorrect", and right after it
	// "Too many failed login attempts"): when a pattern matches that a
	// pattern of higher Priority (by index of For; missing means 0)
	// outranks, the wait goes on for up to Settle, and the first match of
	// a higher-priority pattern meanwhile (anywhere after the wait's
	// start) wins; otherwise the first match stands once Settle has
	// passed. A match no other pattern outranks ends the wait at once.
	Settle   time.Duration
	Priority []int
}

// Expect waits up to timeout for the first of patterns. See Wait.
func (c *Console) Expect(ctx context.Context, timeout time.Duration, patterns ...Pattern) (*Match, error) {
	return c.Wait(ctx, Wait{For: patterns, Timeout: timeout})
}

// Wait waits for the first of w.For in the output that arrived since the
// previous match (up to Config.Backlog of it) and from now on, and
// consumes the output up to the end of the match. The pattern whose
// match ends first wins; on a tie the one listed first. It ends early
// with ErrUnwanted (a w.Not pattern or a standing Watch matched first),
// ErrLost (the port was lost meanwhile; a wait started while the port is
// lost waits for it to return), or ctx's error. When its time runs out,
// a match it was holding (one ending in a run at the end of the output,
// waiting for a delimiter; or one settling, see Settle) is the result;
// otherwise it returns ErrTimeout only if the port was there all along;
// if the port was lost for any part of the wait, ErrLost.
func (c *Console) Wait(ctx context.Context, w Wait) (*Match, error) {
	return c.wait(ctx, w, false)
}

// wait with now set only looks at the output already received.
func (c *Console) wait(ctx context.Context, w Wait, now bool) (*Match, error) {
	var names []string
	for _, p := range w.For {
		if !p.IsZero() {
			names = append(names, p.String())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("console %q: wait for nothing: give at least one pattern", c.cfg.Name)
	}
	began := time.Now()
	c.mu.Lock()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if c.st.wait != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("console %q: %w", c.cfg.Name, ErrBusy)
	}
	for _, wa := range c.st.watches {
		if wa.m != nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("console %q: %w", c.cfg.Name, &UnwantedError{Match: wa.m, Watch: true})
		}
	}
	// A wait may start while the port is lost: it waits for it to
	// return, but if its time runs out, the gap, not the device, is why.
	lostAtStart, gapsAtStart := c.lost, c.st.gaps
	start := max(c.st.consumed, c.st.base)
	wt := &waiter{start: start, done: make(chan struct{}), settle: w.Settle, priority: w.Priority, settling: make(chan struct{})}
	wt.want = c.st.newScanners(w.For, false, start)
	wt.not = c.st.newScanners(w.Not, true, start)
	c.st.wait = wt
	c.st.scan() // the backlog
	hook := c.waitingHook
	c.mu.Unlock()
	if hook != nil {
		hook()
	}

	var timeout <-chan time.Time
	if now || w.Timeout < 0 {
		timeout = closedTime
	} else if w.Timeout > 0 {
		t := time.NewTimer(w.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var why error
	settling := wt.settling
wait:
	for {
		select {
		case <-wt.done:
		case <-timeout:
		case <-ctx.Done():
			why = ctx.Err()
		case <-settling:
			// A match is pending; give earlier patterns Settle to appear.
			settling = nil
			t := time.NewTimer(w.Settle)
			defer t.Stop()
			timeout = t.C
			continue wait
		}
		break
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if why == nil {
		// Time is up: a pending match (settled), or one held back for a
		// delimiter that never came, is the answer.
		c.st.settled(wt)
	}
	select {
	case <-wt.done: // finished, possibly while the timer fired
		if wt.err != nil {
			var lost *LostError
			if errors.As(wt.err, &lost) || errors.Is(wt.err, ErrClosed) {
				return nil, wt.err
			}
			return nil, fmt.Errorf("console %q: %w", c.cfg.Name, wt.err)
		}
		return wt.m, nil
	default:
	}
	c.st.wait = nil
	tail := c.st.tail(tailLen)
	if why != nil {
		return nil, fmt.Errorf("console %q: waiting for %v: %w; last output: %q", c.cfg.Name, names, why, tail)
	}
	// A timeout is the device's doing only if the bench saw all its
	// output meanwhile; otherwise it is the bench's fault (ErrLost).
	var lost error
	switch {
	case c.lost != nil:
		lost = c.lost // lost now
	case c.st.gaps != gapsAtStart:
		lost = c.st.lastGap // lost and back during the wait
	case lostAtStart != nil:
		lost = lostAtStart // lost when it began, back since
	}
	if lost != nil {
		return nil, fmt.Errorf("console %q: waiting for %v: no match in %v, but the port was lost for part of that time: %w",
			c.cfg.Name, names, time.Since(began).Round(time.Millisecond), lost)
	}
	return nil, &TimeoutError{Console: c.cfg.Name, Waiting: names, After: time.Since(began), Tail: tail}
}

var closedTime = func() chan time.Time { c := make(chan time.Time); close(c); return c }()

// Watch is a standing expect-not: from its start until Stop, it watches
// the output for its patterns. When one appears, Fired is closed, and the
// wait in flight, as well as any wait started before Stop, fails with
// ErrUnwanted. It does not consume output.
//
// A watch can only vouch for output it saw: if the port is lost at any
// time between its start and Stop (or already is at its start), or the
// console is closed, Broken is closed and Err says so.
type Watch struct {
	c        *Console
	scanners []*scanner
	start    int64
	fired    chan struct{}
	m        *Match // set before fired is closed
	broken   chan struct{}
	gap      error // why it missed output; set with c.mu before broken is closed
}

// Watch starts watching the output from now on for patterns.
func (c *Console) Watch(patterns ...Pattern) *Watch {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &Watch{c: c, start: c.st.end(), fired: make(chan struct{}), broken: make(chan struct{})}
	w.scanners = c.st.newScanners(patterns, true, w.start)
	switch err := c.usable(); {
	case err != nil:
		w.broke(err) // closed, or evidence already incomplete
	case c.conn == nil:
		w.broke(c.lost) // lost now: it sees nothing until the port returns
	}
	c.st.watches = append(c.st.watches, w)
	return w
}

// broke records the first reason the watch missed output. Called with mu.
func (w *Watch) broke(err error) {
	if w.gap == nil {
		w.gap = err
		close(w.broken)
	}
}

// Fired is closed when one of the watch's patterns has appeared.
func (w *Watch) Fired() <-chan struct{} { return w.fired }

// Broken is closed when the watch missed output: the port was lost or
// the console closed while it ran.
func (w *Watch) Broken() <-chan struct{} { return w.broken }

// Stop ends the watch and returns its match, or nil if none appeared.
// Nil alone is no proof of absence: Err says whether the watch saw all
// the output.
func (w *Watch) Stop() *Match {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	ws := w.c.st.watches
	for i := range ws {
		if ws[i] == w {
			w.c.st.watches = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	return w.m
}

// Err returns an *UnwantedError once the watch has fired: output seen
// is evidence whatever happened later. Otherwise, if the watch missed
// output, the bench's error: the *LostError of the port lost while it
// ran (ErrLost), or ErrClosed, or ErrTranscript if the transcript failed.
// Nil means it saw all the output so far and none of its patterns.
func (w *Watch) Err() error {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case w.m != nil:
		return fmt.Errorf("console %q: %w", c.cfg.Name, &UnwantedError{Match: w.m, Watch: true})
	case w.gap != nil:
		return fmt.Errorf("watching for %s: %w", w.names(), w.gap)
	}
	if err := c.rec.failed(); err != nil {
		return fmt.Errorf("console %q: watching for %s: %w", c.cfg.Name, w.names(), err)
	}
	return nil
}

func (w *Watch) names() string {
	var ns []string
	for _, sc := range w.scanners {
		ns = append(ns, sc.p.String())
	}
	return strings.Join(ns, " or ")
}

// Absent watches the output for d (which must be positive) and returns
// nil if none of patterns appeared, an *UnwantedError as soon as one
// does, or ctx's error. If the port is lost during the window (or is at
// its start), or the console is closed, it returns that at once (ErrLost,
// ErrClosed): output it did not see is no evidence of absence. Like a
// Watch it consumes nothing: a wait afterwards still sees that output.
func (c *Console) Absent(ctx context.Context, d time.Duration, patterns ...Pattern) error {
	if d <= 0 {
		// Watching for no time sees nothing; that is no evidence of absence.
		return fmt.Errorf("console %q: absent for %v: give a positive window", c.cfg.Name, d)
	}
	w := c.Watch(patterns...)
	defer w.Stop()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.Fired():
		return w.Err()
	case <-w.Broken():
		return w.Err() // output was missed: the window can't vouch for absence
	case <-t.C:
		return w.Err()
	case <-ctx.Done():
		return fmt.Errorf("console %q: watching for %d patterns: %w", c.cfg.Name, len(w.scanners), ctx.Err())
	}
}
