package power

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/power/powertest"
	"periph.io/x/conn/v3/gpio"
)

func (g *rig) button(t *testing.T, cfg ButtonConfig) (*Button, *powertest.Pin) {
	t.Helper()
	pin := powertest.Register(t, cfg.Line, gpio.High)
	cfg.Log = g.log
	b, err := NewButton(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.clk = g.clk
	return b, pin
}

func holdAsync(ctx context.Context, b *Button, d time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() { done <- b.Hold(ctx, d) }()
	return done
}

func TestPressHoldsThenReleases(t *testing.T) {
	g := newRig()
	b, pin := g.button(t, ButtonConfig{Line: "GPIO27", ActiveLow: true})
	done := make(chan error, 1)
	go func() { done <- b.Press(context.Background()) }()
	if d := g.clk.waitTimer(t); d != DefaultPressTime {
		t.Errorf("held for %s, want %s", d, DefaultPressTime)
	}
	if pin.Read() != gpio.Low {
		t.Error("button not pressed (Low) while held")
	}
	g.clk.Advance(DefaultPressTime)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.High {
		t.Error("button not released (High)")
	}
	wantEvents(t, g.log, "GPIO27 press Low for 200ms", "GPIO27 release High")
}

func TestHoldReleasedOnCancel(t *testing.T) {
	g := newRig()
	b, pin := g.button(t, ButtonConfig{Line: "GPIO27"})
	ctx, cancel := context.WithCancel(context.Background())
	done := holdAsync(ctx, b, time.Hour)
	g.clk.waitTimer(t)
	if pin.Read() != gpio.High {
		t.Fatal("button not pressed (High)")
	}
	cancel()
	if err := result(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hold = %v, want context.Canceled", err)
	}
	if pin.Read() != gpio.Low {
		t.Error("button still pressed after cancel")
	}
	wantEvents(t, g.log, "GPIO27 press High for 1h0m0s", "GPIO27 release Low")
}

func TestHoldWithCancelledContextTouchesNothing(t *testing.T) {
	g := newRig()
	b, pin := g.button(t, ButtonConfig{Line: "GPIO27"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Hold(ctx, time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hold = %v, want context.Canceled", err)
	}
	if w := pin.Writes(); len(w) != 0 {
		t.Errorf("writes %v, want none", w)
	}
	if err := b.Hold(context.Background(), 0); err == nil {
		t.Error("Hold(0) succeeded, want an error")
	}
}

func TestButtonSafeStateReleasesAtOnce(t *testing.T) {
	g := newRig()
	b, pin := g.button(t, ButtonConfig{Line: "GPIO27", ActiveLow: true})
	done := holdAsync(context.Background(), b, time.Hour)
	g.clk.waitTimer(t)
	if err := b.SafeState(); err != nil {
		t.Fatal(err)
	}
	// No time passes: the Hold returns because of SafeState.
	if err := result(t, done); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Hold = %v, want ErrInterrupted", err)
	}
	if pin.Read() != gpio.High {
		t.Error("button not released")
	}
	wantEvents(t, g.log, "GPIO27 press Low for 1h0m0s", "GPIO27 safe High", "GPIO27 release High")
}

func TestHoldReleasesAfterFailedPress(t *testing.T) {
	g := newRig()
	b, pin := g.button(t, ButtonConfig{Line: "GPIO27"})
	// The press write reports an error, but it may have reached the
	// hardware: the line must still be released.
	pin.FailLevel(gpio.High, errors.New("EBUSY"))
	err := b.Hold(context.Background(), time.Second)
	var pe *Error
	if !errors.As(err, &pe) || pe.Action != ActionPress || pe.Switch != "GPIO27" {
		t.Fatalf("Hold = %v, want a press *power.Error on GPIO27", err)
	}
	g.clk.noTimer(t)
	if w := pin.Writes(); len(w) != 1 || w[0] != gpio.Low {
		t.Errorf("writes %v, want one release (Low)", w)
	}
	wantEvents(t, g.log, "GPIO27 press High for 1s error", "GPIO27 release Low")
}

func TestHoldQueuesBehindAnotherAndHonoursContext(t *testing.T) {
	g := newRig()
	b, pin := g.button(t, ButtonConfig{Line: "GPIO27"})
	first := holdAsync(context.Background(), b, time.Hour)
	g.clk.waitTimer(t)
	ctx, cancel := context.WithCancel(context.Background())
	second := holdAsync(ctx, b, time.Second)
	cancel()
	if err := result(t, second); !errors.Is(err, context.Canceled) {
		t.Fatalf("queued Hold = %v, want context.Canceled", err)
	}
	if w := pin.Writes(); len(w) != 1 {
		t.Errorf("writes %v: the queued Hold touched the line", w)
	}
	g.clk.Advance(time.Hour)
	if err := result(t, first); err != nil {
		t.Fatal(err)
	}
}
