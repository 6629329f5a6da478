package power

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// DefaultPressTime is how long Press holds a button unless configured.
const DefaultPressTime = 200 * time.Millisecond

// ButtonConfig describes a reset-button line (a transistor or relay across
// the device's button).
type ButtonConfig struct {
	// Line is the GPIO line's name in periph's registry, e.g. "GPIO27".
	Line string
	// ActiveLow means the button is pressed while the line is Low.
	ActiveLow bool
	// PressTime is how long Press holds the button; 0 means DefaultPressTime.
	PressTime time.Duration
	// Log receives the button's events; nil keeps them in a Log of the
	// button's own (see Button.Log).
	Log *Log
}

// Button presses a device's button through a GPIO line. Its safe state is
// released.
type Button struct {
	name      string
	line      gpio.PinOut
	pressed   gpio.Level
	pressTime time.Duration
	log       *Log
	clk       clock

	hold chan struct{} // one press at a time: a token, held across the press

	mu    sync.Mutex // guards writes and safed; never held across a wait
	safed chan struct{}
}

var _ Safer = (*Button)(nil)

// NewButton finds cfg.Line (after Init) and returns a button on it. It does
// not touch the line: call SafeState to release it before the first use if
// its level at start-up is not known.
func NewButton(cfg ButtonConfig) (*Button, error) {
	if cfg.PressTime < 0 {
		return nil, fmt.Errorf("button %s: negative press time %s", cfg.Line, cfg.PressTime)
	}
	p, err := Line(cfg.Line)
	if err != nil {
		return nil, fmt.Errorf("button: %w", err)
	}
	return newButton(p, cfg), nil
}

func newButton(p gpio.PinOut, cfg ButtonConfig) *Button {
	b := &Button{name: cfg.Line, line: p, pressed: gpio.High, pressTime: cfg.PressTime, log: cfg.Log, clk: realClock{}, hold: make(chan struct{}, 1), safed: make(chan struct{})}
	if cfg.ActiveLow {
		b.pressed = gpio.Low
	}
	if b.pressTime == 0 {
		b.pressTime = DefaultPressTime
	}
	if b.log == nil {
		b.log = NewLog(nil, time.Time{})
	}
	return b
}

// Name returns the line's name.
func (b *Button) Name() string { return b.name }

// Log returns the log the button records to.
func (b *Button) Log() *Log { return b.log }

// Press presses the button for the configured press time and releases it.
func (b *Button) Press(ctx context.Context) error { return b.Hold(ctx, b.pressTime) }

// Hold presses the button for d and releases it. The button is released on
// every way out: after d, when ctx is done (the error wraps ctx.Err()), on a
// panic, and at once when SafeState is called (the error is then
// ErrInterrupted). A Hold while another is in progress waits for it (or for
// ctx).
func (b *Button) Hold(ctx context.Context, d time.Duration) (err error) {
	if d <= 0 {
		return &Error{Switch: b.name, Action: ActionPress, Err: fmt.Errorf("hold time %s: must be positive", d)}
	}
	select {
	case b.hold <- struct{}{}:
		defer func() { <-b.hold }()
	case <-ctx.Done():
		return &Error{Switch: b.name, Action: ActionPress, Err: ctx.Err()}
	}

	// The release is deferred before the press is written: once the write
	// has started the level is unknown (even when it reports an error), and
	// a panic must not leave the button held.
	started := false
	defer func() {
		if !started {
			return
		}
		if rerr := b.write(ActionRelease, false, ""); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()
	var safed chan struct{}
	err = func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		safed = b.safed
		if err := ctx.Err(); err != nil {
			return &Error{Switch: b.name, Action: ActionPress, Err: err}
		}
		started = true
		return b.writeLocked(ActionPress, true, "for "+d.String())
	}()
	if err != nil {
		return err
	}
	if err := sleep(ctx, b.clk, d, safed); err != nil {
		return &Error{Switch: b.name, Action: ActionPress, Err: err}
	}
	return nil
}

// SafeState releases the button at once, interrupting a press in progress.
func (b *Button) SafeState() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.safed)
	b.safed = make(chan struct{})
	return b.writeLocked(ActionSafe, false, "")
}

func (b *Button) write(a Action, pressed bool, detail string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writeLocked(a, pressed, detail)
}

func (b *Button) writeLocked(a Action, pressed bool, detail string) error {
	l := b.pressed
	if !pressed {
		l = !l
	}
	ev := Event{Switch: b.name, Action: a, Level: l.String(), Detail: detail}
	err := outLevel(b.line, l)
	if err != nil {
		ev.Err = err.Error()
	}
	b.log.record(ev)
	if err != nil {
		return &Error{Switch: b.name, Action: a, Err: err}
	}
	return nil
}
