// Package powertest provides fake GPIO lines for testing code that drives
// power relays and buttons, and for the simulated lab, which stands where
// real relays would be.
//
// A Pin is a periph gpiotest.Pin that also remembers every level written to
// it, can be made to fail, and can tell a follower (a simulated device) about
// each write. Register puts it in periph's registry under the name a bench
// file uses, so the code under test finds it exactly as it would find a
// Raspberry Pi's line.
package powertest

import (
	"fmt"
	"sync"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// Pin is a fake GPIO line.
type Pin struct {
	gpiotest.Pin

	mu     sync.Mutex
	writes []gpio.Level
	fail   map[gpio.Level]error
	follow func(gpio.Level)
}

var _ gpio.PinIO = (*Pin)(nil)

// NewPin returns a line called name, at level initial.
func NewPin(name string, initial gpio.Level) *Pin {
	p := &Pin{}
	p.N = name
	p.L = initial
	return p
}

// Out records l and sets the level, or fails without changing it if Fail
// or FailLevel said so.
func (p *Pin) Out(l gpio.Level) error {
	p.mu.Lock()
	if err := p.fail[l]; err != nil {
		p.mu.Unlock()
		return err
	}
	p.writes = append(p.writes, l)
	follow := p.follow
	// Set before unlocking, so the order of writes and levels agree.
	_ = p.Pin.Out(l)
	p.mu.Unlock()
	if follow != nil {
		follow(l)
	}
	return nil
}

// Fail makes every later Out return err; nil heals the line.
func (p *Pin) Fail(err error) {
	p.FailLevel(gpio.Low, err)
	p.FailLevel(gpio.High, err)
}

// FailLevel makes every later Out(l) return err, and leaves writes of the
// other level working; nil heals it.
func (p *Pin) FailLevel(l gpio.Level, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail == nil {
		p.fail = map[gpio.Level]error{}
	}
	p.fail[l] = err
}

// Writes returns the levels written so far, in order.
func (p *Pin) Writes() []gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gpio.Level(nil), p.writes...)
}

// Follow calls f with each level written, after the write, outside the
// pin's lock (f may read the pin). A simulated device uses it to power up
// and down with its relay.
func (p *Pin) Follow(f func(gpio.Level)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.follow = f
}

// Register registers p in periph's registry (gpioreg) under its name.
func (p *Pin) Register() error {
	if err := gpioreg.Register(p); err != nil {
		return fmt.Errorf("powertest: registering line %s: %w", p.N, err)
	}
	return nil
}

// Unregister removes p from periph's registry.
func (p *Pin) Unregister() error { return gpioreg.Unregister(p.N) }

// Register makes a Pin called name at level initial, registers it for the
// duration of t and unregisters it in t.Cleanup. The registry is global: a
// test using it must not run in parallel with another registering the same
// name. If a line called name already exists (a real one, on a Raspberry
// Pi), the test fails rather than drive it.
func Register(t testing.TB, name string, initial gpio.Level) *Pin {
	t.Helper()
	p := NewPin(name, initial)
	if err := p.Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Unregister(); err != nil {
			t.Error(err)
		}
	})
	return p
}
