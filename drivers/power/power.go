package power

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// Switch powers one fixture. Accept a Switch wherever power is controlled;
// accept a Safer where only the safe state matters (a Safety, a deferred
// clean-up).
type Switch interface {
	// On switches power on, first waiting out what remains of the minimum
	// off-time since the last Off; the whole of it when the switch does not
	// know its state (just made, or its last action failed).
	On(ctx context.Context) error
	// Off switches power off.
	Off(ctx context.Context) error
	// Cycle switches power off, honours the minimum off-time, and switches it
	// on again.
	Cycle(ctx context.Context) error
	Safer
}

// Safer is anything with a declared safe state.
type Safer interface {
	// SafeState drives the hardware to its declared safe level. It is safe to
	// call in any state, repeatedly and concurrently with other methods.
	SafeState() error
}

// Action names a transition in the event log.
type Action string

// Actions, as written in the power-event format.
const (
	ActionOn      Action = "on"
	ActionOff     Action = "off"
	ActionPress   Action = "press"
	ActionRelease Action = "release"
	ActionSafe    Action = "safe"
	ActionWait    Action = "wait"
	ActionCycle   Action = "cycle"
)

// ErrInterrupted is returned by an operation that SafeState overrode while it
// waited (a Cycle's off-time, a Hold), so it did not switch the line back.
var ErrInterrupted = errors.New("interrupted by a switch to the safe state")

// ErrUnknownLine matches every *UnknownLineError.
var ErrUnknownLine = errors.New("unknown GPIO line")

// Error is a failed power action on one switch or button. Its text names
// the switch once, as its configuration's Name gives it, so a caller that
// passes Name (`fixture "cam-1"`) need not wrap it:
//
//	power on fixture "cam-1": line GPIO17: writing Low: EIO
//	power on fixture "cam-2": command ["pdu" "on"]: exit status 3: output ends "auth failed"
type Error struct {
	Switch string // the configured Name; else the line's name; "" for a nameless Command
	Action Action
	Err    error
}

func (e *Error) Error() string {
	if e.Switch == "" {
		return fmt.Sprintf("power %s: %v", e.Action, e.Err)
	}
	return fmt.Sprintf("power %s %s: %v", e.Action, e.Switch, e.Err)
}

// configError is a switch's configuration that NewRelay or NewCommand
// refuses: "power switch NAME: ...".
func configError(name, format string, args ...any) error {
	if name != "" {
		name = " " + name
	}
	return fmt.Errorf("power switch%s: %w", name, fmt.Errorf(format, args...))
}

func (e *Error) Unwrap() error { return e.Err }

// UnknownLineError says that no GPIO line has the name a configuration asked
// for, and which names do exist.
type UnknownLineError struct {
	Name  string
	Known []string // in natural order (GPIO2 before GPIO17)
	// NotLoaded says which GPIO drivers failed or were skipped, and why
	// ("ioctl-gpio: no GPIO chips found"): the usual reason a line is
	// missing is that the driver meant to register it did not load.
	NotLoaded []string
}

func (e *UnknownLineError) Error() string {
	known := "none"
	if len(e.Known) > 0 {
		known = strings.Join(e.Known, ", ")
	}
	msg := fmt.Sprintf("GPIO line %q not found (lines on this host: %s); check the line name in the bench file and that the GPIO driver loaded (on a Raspberry Pi: /dev/gpiochip* exists and is accessible)", e.Name, known)
	if len(e.NotLoaded) > 0 {
		msg += "; GPIO drivers that did not load: " + strings.Join(e.NotLoaded, "; ")
	}
	return msg
}

func (e *UnknownLineError) Is(target error) bool { return target == ErrUnknownLine }

// notLoaded lists the GPIO drivers host.Init did not load, for
// UnknownLineError. Set once by initOnce.
var notLoaded []string

var initOnce = sync.OnceValue(func() error {
	state, err := host.Init()
	if err != nil {
		return fmt.Errorf("loading periph host drivers: %w", err)
	}
	for _, f := range state.Failed {
		notLoaded = append(notLoaded, fmt.Sprintf("%s failed: %v", f.D, f.Err))
	}
	for _, f := range state.Skipped {
		// Skipped I²C, SPI or LED drivers are noise here.
		if name := strings.ToLower(f.D.String()); strings.Contains(name, "gpio") || strings.Contains(name, "bcm283x") {
			notLoaded = append(notLoaded, fmt.Sprintf("%s skipped: %v", f.D, f.Err))
		}
	}
	return nil
})

// Init loads periph's host drivers, which register the host's GPIO lines.
// It does the work once; later calls return the first call's result. Lines,
// Line, NewRelay and NewButton call it.
func Init() error { return initOnce() }

// Lines returns the names of the GPIO lines registered on this host, in
// natural order. Aliases (such as P1_11 on a Raspberry Pi) are not listed
// but Line accepts them.
func Lines() ([]string, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	return lineNames(), nil
}

func lineNames() []string {
	all := gpioreg.All()
	names := make([]string, len(all))
	for i, p := range all {
		names[i] = p.Name()
	}
	return names
}

// Line returns the GPIO line called name (a line's name or an alias), or an
// *UnknownLineError listing the lines that exist.
func Line(name string) (gpio.PinIO, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, &UnknownLineError{Name: name, Known: lineNames(), NotLoaded: notLoaded}
	}
	return p, nil
}

// LineName returns the name of the line that name refers to: the line's own
// name when name is an alias (P1_11 is GPIO17 on a Raspberry Pi). Two
// fixtures whose lines have the same LineName share a line.
func LineName(name string) (string, error) {
	p, err := Line(name)
	if err != nil {
		return "", err
	}
	for {
		r, ok := p.(gpio.RealPin)
		if !ok {
			return p.Name(), nil
		}
		p = r.Real()
	}
}

// Driver names what serves a GPIO line: the Go package of the pin periph's
// registry handed out ("periph.io/x/host/v3/gpioioctl" on a Raspberry Pi,
// the simulated lab's own package in the sim). A record carries it, so a
// run against simulated lines can never pass for one on real hardware.
func Driver(p gpio.PinOut) string {
	if p == nil {
		return ""
	}
	t := reflect.TypeOf(p)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() == "" {
		return t.String()
	}
	return t.PkgPath()
}

// Driver is the package serving the relay's line (see Driver).
func (r *Relay) Driver() string { return Driver(r.line) }

// Driver is the package serving the button's line (see Driver).
func (b *Button) Driver() string { return Driver(b.line) }
