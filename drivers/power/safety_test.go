package power

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// panicky is a switch whose SafeState panics, like a driver with a bug.
type panicky struct{}

func (panicky) SafeState() error { panic("driver bug") }

func TestSafeAllAfterPanic(t *testing.T) {
	g := newRig()
	var safety Safety
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", ActiveLow: true})
	b, bpin := g.button(t, ButtonConfig{Line: "GPIO27"})
	safety.Register(`fixture "cam-1" power`, r)
	safety.Register(`fixture "cam-1" reset button`, b)

	// run is what a runner does: switch on, press, and then something goes
	// badly wrong.
	run := func() (err error) {
		defer safety.SafeAllInto(&err)
		if err := r.On(context.Background()); err != nil {
			return err
		}
		bpin.Out(gpio.High) // the button is left pressed
		panic("suite bug")
	}
	func() {
		defer func() {
			if v := recover(); v != "suite bug" {
				t.Errorf("recovered %v, want the original panic to go on", v)
			}
		}()
		run()
	}()
	if pin.Read() != gpio.High {
		t.Error("relay not at its safe level (off, High) after the panic")
	}
	if bpin.Read() != gpio.Low {
		t.Error("button not released after the panic")
	}
	// SafeAll works on all switches at once: the two safe events may come
	// in either order.
	got := summary(g.log.Events())
	slices.Sort(got[1:])
	if want := []string{"GPIO17 on Low", "GPIO17 safe High", "GPIO27 safe Low"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestSafeAllGoesOnPastFailures(t *testing.T) {
	g := newRig()
	var safety Safety
	bad, badPin := g.relay(t, RelayConfig{Line: "GPIO17"})
	good, goodPin := g.relay(t, RelayConfig{Line: "GPIO22", ActiveLow: true})
	for _, r := range []*Relay{bad, good} {
		if err := r.On(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	badPin.Fail(errors.New("EIO"))
	safety.Register("fixture a", bad)
	safety.Register("fixture b", panicky{})
	safety.Register("fixture c", good)

	err := safety.SafeAll()
	if goodPin.Read() != gpio.High {
		t.Error("a failing switch stopped a good one from going safe")
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Switch != "GPIO17" || pe.Action != ActionSafe {
		t.Errorf("SafeAll = %v, want it to carry the safe *power.Error of GPIO17", err)
	}
	for _, want := range []string{"safe state of fixture a", "EIO", "safe state of fixture b: panic: driver bug"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("SafeAll = %v, want it to mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "fixture c") {
		t.Errorf("SafeAll = %v names the switch that went safe", err)
	}

	// SafeAllInto keeps the function's own error.
	own := errors.New("console lost")
	errp := own
	safety.SafeAllInto(&errp)
	if !errors.Is(errp, own) || !errors.As(errp, &pe) {
		t.Errorf("SafeAllInto = %v, want both the function's error and the safe-state error", errp)
	}
}

func TestNotifyContextSignal(t *testing.T) {
	g := newRig()
	var safety Safety
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17"})
	safety.Register("fixture a", r)
	if err := r.On(context.Background()); err != nil {
		t.Fatal(err)
	}
	// SIGUSR1 rather than SIGINT: the test binary must not die if the
	// handler were missing.
	ctx, stop := safety.NotifyContext(context.Background(), syscall.SIGUSR1)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	var se *SignalError
	if cause := context.Cause(ctx); !errors.As(cause, &se) || se.Signal != syscall.SIGUSR1 || !errors.Is(cause, context.Canceled) {
		t.Errorf("cause %v, want a *SignalError for SIGUSR1 matching context.Canceled", cause)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.Low {
		t.Error("relay not safe after the signal")
	}
	if err := r.On(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("On after the signal = %v, want it refused", err)
	}
}

func TestNotifyContextStopWithoutSignal(t *testing.T) {
	g := newRig()
	var safety Safety
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17"})
	safety.Register("fixture a", r)
	ctx, stop := safety.NotifyContext(context.Background(), syscall.SIGUSR1)
	if err := r.On(ctx); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() == nil {
		t.Error("context not cancelled by stop")
	}
	if pin.Read() != gpio.High || len(g.log.Events()) != 1 {
		t.Error("stop without a signal touched the relay")
	}
}

// stuck is a switch whose SafeState blocks until released, like a PDU
// command waiting for its timeout.
type stuck struct{ release chan struct{} }

func (s stuck) SafeState() error { <-s.release; return errors.New("PDU timed out") }

func TestSafeAllDoesNotWaitForASlowSwitch(t *testing.T) {
	g := newRig()
	var safety Safety
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17"})
	if err := r.On(context.Background()); err != nil {
		t.Fatal(err)
	}
	safe := make(chan gpio.Level, 1)
	pin.Follow(func(l gpio.Level) { safe <- l })
	slow := stuck{make(chan struct{})}
	safety.Register("fixture a (PDU)", slow)
	safety.Register("fixture b", r)
	done := make(chan error, 1)
	go func() { done <- safety.SafeAll() }()
	select {
	case l := <-safe:
		if l != gpio.Low {
			t.Errorf("relay went to %s, want Low", l)
		}
	case <-done:
		t.Fatal("SafeAll returned while a switch was still stuck")
	case <-time.After(10 * time.Second):
		t.Fatal("relay not made safe while another switch was stuck")
	}
	close(slow.release)
	if err := result(t, done); err == nil || !strings.Contains(err.Error(), "fixture a (PDU): PDU timed out") {
		t.Errorf("SafeAll = %v, want the slow switch's error", err)
	}
}
