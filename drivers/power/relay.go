package power

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// RelayConfig describes a relay on a GPIO line.
type RelayConfig struct {
	// Name names the switch in errors, e.g. `fixture "cam-1"`, which then
	// read "power on fixture "cam-1": line GPIO17: ..."; "" names it by its
	// line alone. Events always name the line.
	Name string
	// Line is the GPIO line's name in periph's registry, e.g. "GPIO17".
	Line string
	// ActiveLow means the relay closes (power on) when the line is Low, as
	// on most relay boards driven through an optocoupler.
	ActiveLow bool
	// SafeOn makes "on" the safe level, for equipment that must stay powered
	// (a network switch on the bench). Normally false: safe means off.
	SafeOn bool
	// MinOff is the shortest time power stays off before it comes back.
	MinOff time.Duration
	// Log receives the relay's events; nil keeps them in a Log of the
	// relay's own (see Relay.Log).
	Log *Log
}

// Relay switches a fixture's power through a GPIO line.
type Relay struct {
	c    *core
	line gpio.PinOut
	on   gpio.Level // the level that closes the relay
}

var _ Switch = (*Relay)(nil)

// NewRelay finds cfg.Line (after Init) and returns a relay on it. It does not
// touch the line: call Off or SafeState to put it in a known state. Until
// then its state is unknown, and a first On waits the whole minimum off-time.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.MinOff < 0 {
		return nil, configError(cfg.Name, "line %s: negative minimum off-time %s", cfg.Line, cfg.MinOff)
	}
	p, err := Line(cfg.Line)
	if err != nil {
		return nil, configError(cfg.Name, "%w", err)
	}
	return newRelay(p, cfg), nil
}

func newRelay(p gpio.PinOut, cfg RelayConfig) *Relay {
	r := &Relay{line: p, on: gpio.High}
	if cfg.ActiveLow {
		r.on = gpio.Low
	}
	r.c = newCore(cfg.Line, cfg.Line, cfg.MinOff, cfg.SafeOn, cfg.Log)
	if cfg.Name != "" {
		r.c.name, r.c.what = cfg.Name, "line "+cfg.Line
	}
	r.c.set = r.set
	return r
}

func (r *Relay) set(_ context.Context, on bool, ev *Event, begin func()) error {
	l := r.on
	if !on {
		l = !l
	}
	ev.Level = l.String()
	begin()
	return outLevel(r.line, l)
}

// outLevel writes l to p, turning a panicking driver into an error so the
// line's state is recorded as unknown rather than left half-done.
func outLevel(p gpio.PinOut, l gpio.Level) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("driver panic writing %s: %v", l, v)
		}
	}()
	if err := p.Out(l); err != nil {
		return fmt.Errorf("writing %s: %w", l, err)
	}
	return nil
}

// Name returns the switch's name: the configured Name, else the line's.
func (r *Relay) Name() string { return r.c.name }

// Log returns the log the relay records to.
func (r *Relay) Log() *Log { return r.c.log }

// On closes the relay, first waiting what remains of the minimum off-time
// since the relay was switched off (nothing if it has been off long enough;
// all of it if the relay's state is unknown: new, or its last write failed).
// The wait ends early with an error if ctx is done or SafeState is called.
func (r *Relay) On(ctx context.Context) error { return r.c.on(ctx) }

// Off opens the relay. Off while already off does not restart the off-time.
func (r *Relay) Off(ctx context.Context) error { return r.c.off(ctx) }

// Cycle switches off, waits out the minimum off-time and switches on.
func (r *Relay) Cycle(ctx context.Context) error { return r.c.cycle(ctx) }

// SafeState drives the line to the relay's safe level at once, whatever the
// relay was doing; an On or Cycle waiting meanwhile returns ErrInterrupted.
func (r *Relay) SafeState() error { return r.c.safeState() }
