package power

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// core is the state both kinds of switch share: what the switch is known to
// be, since when it has been off, and the minimum off-time between them.
// The electrical (or command) work is set's.
type core struct {
	name   string // in errors: what the caller calls the switch; may be ""
	what   string // in errors, before the cause when name does not say it: "line GPIO17"
	event  string // in events: the line name, or "command"
	minOff time.Duration
	safeOn bool
	log    *Log
	clk    clock
	// set switches to on or off; it is called with mu held. ev comes
	// prefilled with the switch name and action; set adds what it knows
	// (level, argv), calls begin just before it acts, and then adds the
	// outcome (output, status). err is recorded in the event by the caller.
	set func(ctx context.Context, on bool, ev *Event, begin func()) error
	// read, when a status command is configured, reads the state back:
	// on or off, and the status command's standard output. nil: the switch
	// cannot read its state.
	read func(ctx context.Context) (on bool, out string, err error)

	// mu is never held while waiting out the off-time, so SafeState never
	// waits behind a Cycle; it may be held while set runs a command.
	mu    sync.Mutex
	state state
	// offSince is when the off-time started counting: in stateOff, when the
	// switch went off; in stateUnknown, when an On first found the state
	// unknown (zero until then), since the line may have been switched off
	// just before, by another process or by the failed action.
	offSince time.Time
	// safed is closed (and replaced) by SafeState, so that an operation that
	// was waiting when it came knows not to switch the line back.
	safed chan struct{}
}

type state int

const (
	stateUnknown state = iota // never switched, or the last switch failed
	stateOn
	stateOff
)

func newCore(name, event string, minOff time.Duration, safeOn bool, log *Log) *core {
	if log == nil {
		log = NewLog(nil, time.Time{})
	}
	return &core{name: name, event: event, minOff: minOff, safeOn: safeOn, log: log, clk: realClock{}, safed: make(chan struct{})}
}

// switchTo runs set and records the transition as action a; c.mu is held.
func (c *core) switchTo(ctx context.Context, a Action, on bool) error {
	return c.apply(a, on, func(ev *Event, begin func()) error { return c.set(ctx, on, ev, begin) })
}

// apply runs do, which leaves the switch on or off, records it as action a
// and updates the state; c.mu is held. do calls begin just before it acts,
// to stamp the event's start.
func (c *core) apply(a Action, on bool, do func(ev *Event, begin func()) error) error {
	ev := Event{Switch: c.event, Action: a}
	err := do(&ev, func() { c.log.begin(&ev) })
	if err != nil {
		c.state, c.offSince = stateUnknown, time.Time{}
		ev.State = StateUnknown
		var ce *CommandError
		if errors.As(err, &ce) && ce.Interrupted {
			// Not a fault of the bench: the caller stopped it. But the
			// command may have switched already (a PDU cuts the outlet
			// before its client exits), so nothing is known.
			ev.Detail = join(ev.Detail, fmt.Sprintf("state unknown: %s command interrupted after it started (%v)", a, ce.Err))
		} else {
			ev.Err = err.Error()
		}
		c.log.record(ev)
		if c.what != "" {
			err = fmt.Errorf("%s: %w", c.what, err)
		}
		return &Error{Switch: c.name, Action: a, Err: err}
	}
	switch {
	case on:
		c.state = stateOn
		ev.State = StateOn
	case c.state != stateOff:
		// Off while already off keeps the first off time: the device has
		// been without power since then.
		c.state, c.offSince = stateOff, c.clk.Now()
		ev.State = StateOff
	default:
		ev.State = StateOff
	}
	c.log.record(ev)
	return nil
}

// join joins two parts of an event's detail.
func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// learn reads the state through the status command when it is unknown and
// the switch has one (c.mu held), so that a new process neither switches
// a fixture that is already as wanted nor waits for nothing. It returns
// whether the switch is now known to be in state want; when it is, it has
// recorded action a as done without switching. A failed read is recorded
// as a failed a.
func (c *core) learn(ctx context.Context, a Action, want bool) (done bool, err error) {
	if c.read == nil || c.state != stateUnknown {
		return false, nil
	}
	ev := Event{Switch: c.event, Action: a, Detail: "reading the state (status command)"}
	c.log.begin(&ev)
	ev.Detail = ""
	on, out, err := c.read(ctx)
	ev.StatusOutput = out
	if err != nil {
		ev.State = StateUnknown
		if ce := (*CommandError)(nil); errors.As(err, &ce) && ce.Interrupted {
			ev.Detail = fmt.Sprintf("state unknown: reading it was interrupted (%v)", ce.Err)
		} else {
			ev.Err = err.Error()
		}
		c.log.record(ev)
		if c.what != "" {
			err = fmt.Errorf("%s: %w", c.what, err)
		}
		return false, &Error{Switch: c.name, Action: a, Err: err}
	}
	now := c.clk.Now()
	if on {
		c.state = stateOn
	} else {
		// Since when it is off is not known: count from now, as for an
		// unknown state.
		c.state, c.offSince = stateOff, now
	}
	if on != want {
		return false, nil
	}
	ev.State = StateOff
	if on {
		ev.State = StateOn
	}
	ev.Detail = fmt.Sprintf("already %s (status command says so): not switched", ev.State)
	c.log.record(ev)
	return true, nil
}

// check returns why an operation must not start (or go on), with c.mu held:
// checking under the lock means that once a caller has cancelled ctx and then
// called SafeState, no operation of that ctx can switch the line afterwards.
func (c *core) check(ctx context.Context, a Action, safed <-chan struct{}) error {
	select {
	case <-safed:
		return &Error{Switch: c.name, Action: a, Err: ErrInterrupted}
	default:
	}
	if err := ctx.Err(); err != nil {
		return &Error{Switch: c.name, Action: a, Err: err}
	}
	return nil
}

func (c *core) off(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(ctx, ActionOff, c.safed); err != nil {
		return err
	}
	if done, err := c.learn(ctx, ActionOff, false); done || err != nil {
		return err
	}
	return c.switchTo(ctx, ActionOff, false)
}

func (c *core) on(ctx context.Context) error {
	c.mu.Lock()
	safed := c.safed
	c.mu.Unlock()
	return c.onAfterOffTime(ctx, safed)
}

// onAfterOffTime switches on once the minimum off-time since the last off
// has passed, waiting only what remains of it. It gives up if SafeState
// closes safed meanwhile.
func (c *core) onAfterOffTime(ctx context.Context, safed <-chan struct{}) error {
	for {
		wait, err := c.onOrRemaining(ctx, safed)
		if wait <= 0 || err != nil {
			return err
		}
		// Checked again from the top: someone may have switched meanwhile.
		if err := sleep(ctx, c.clk, wait, safed); err != nil {
			return &Error{Switch: c.name, Action: ActionOn, Err: err}
		}
	}
}

// onOrRemaining switches on if the off-time has passed, or else records and
// returns what remains of it.
//
// An unknown state (a fresh switch, or one whose last action failed) counts
// as "possibly off since just now": another process may have switched the
// line off a moment ago (`bench power off` then `bench power on`), or the
// failed action may have cut power before it failed. So the first On from
// an unknown state waits the full minimum off-time.
func (c *core) onOrRemaining(ctx context.Context, safed <-chan struct{}) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(ctx, ActionOn, safed); err != nil {
		return 0, err
	}
	read := c.read != nil && c.state == stateUnknown
	if done, err := c.learn(ctx, ActionOn, true); done || err != nil {
		return 0, err
	}
	var wait time.Duration
	detail := ""
	if read {
		detail = " (the status command says off; since when is not known)"
	}
	switch c.state {
	case stateOff:
		wait = c.minOff - c.clk.Now().Sub(c.offSince)
	case stateUnknown:
		if c.offSince.IsZero() {
			c.offSince = c.clk.Now()
		}
		wait = c.minOff - c.clk.Now().Sub(c.offSince)
		detail = " (state unknown: power may have been cut just before)"
	}
	if wait <= 0 {
		return 0, c.switchTo(ctx, ActionOn, true)
	}
	shown := wait // for people: 200ms, not 199.99993ms
	if wait >= time.Millisecond {
		shown = wait.Round(time.Millisecond)
	}
	c.log.record(Event{Switch: c.event, Action: ActionWait, Detail: shown.String() + detail})
	return wait, nil
}

func (c *core) cycle(ctx context.Context) error {
	safed, err := c.cycleOff(ctx)
	if err != nil {
		return err
	}
	return c.onAfterOffTime(ctx, safed)
}

func (c *core) cycleOff(ctx context.Context) (<-chan struct{}, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	safed := c.safed
	if err := c.check(ctx, ActionCycle, safed); err != nil {
		return nil, err
	}
	c.log.record(Event{Switch: c.event, Action: ActionCycle, Detail: "minimum off-time " + c.minOff.String()})
	if done, err := c.learn(ctx, ActionOff, false); done || err != nil {
		return safed, err
	}
	return safed, c.switchTo(ctx, ActionOff, false)
}

func (c *core) safeState() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.safed)
	c.safed = make(chan struct{})
	return c.switchTo(context.Background(), ActionSafe, c.safeOn)
}
