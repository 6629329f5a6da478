package power

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/power/powertest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// rig is a fake clock and a log on it, shared by the switches of a test.
type rig struct {
	clk *fakeClock
	out *bytes.Buffer // the log's JSONL; read it only when no switch is busy
	log *Log
}

func newRig() *rig {
	g := &rig{clk: newFakeClock(), out: &bytes.Buffer{}}
	g.log = newLog(g.out, time.Time{}, g.clk)
	return g
}

// relay registers a fake line called cfg.Line and opens a relay on it by
// name, as the bench does.
func (g *rig) relay(t *testing.T, cfg RelayConfig) (*Relay, *powertest.Pin) {
	t.Helper()
	pin := powertest.Register(t, cfg.Line, gpio.High)
	cfg.Log = g.log
	r, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.c.clk = g.clk
	return r, pin
}

// relayPin registers a fake line called name.
func (g *rig) relayPin(t *testing.T, name string) *powertest.Pin {
	t.Helper()
	return powertest.Register(t, name, gpio.High)
}

// summary renders events as "action level detail" for comparison.
func summary(evs []Event) []string {
	var out []string
	for _, e := range evs {
		f := []string{e.Switch, string(e.Action)}
		for _, s := range []string{e.Level, e.Detail} {
			if s != "" {
				f = append(f, s)
			}
		}
		if e.Err != "" {
			f = append(f, "error")
		}
		out = append(out, strings.Join(f, " "))
	}
	return out
}

func wantEvents(t *testing.T, l *Log, want ...string) {
	t.Helper()
	got := summary(l.Events())
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// TestRelayLevels checks the electrical level for on, off and safe on
// periph's own gpiotest pins, for both polarities and both safe levels.
func TestRelayLevels(t *testing.T) {
	for _, tc := range []struct {
		name              string
		activeLow, safeOn bool
		on, off, safe     gpio.Level
	}{
		{"active-high safe-off", false, false, gpio.High, gpio.Low, gpio.Low},
		{"active-low safe-off", true, false, gpio.Low, gpio.High, gpio.High},
		{"active-high safe-on", false, true, gpio.High, gpio.Low, gpio.High},
		{"active-low safe-on", true, true, gpio.Low, gpio.High, gpio.Low},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pin := &gpiotest.Pin{N: "GPIO17", L: !tc.safe}
			if err := gpioreg.Register(pin); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { gpioreg.Unregister("GPIO17") })
			r, err := NewRelay(RelayConfig{Line: "GPIO17", ActiveLow: tc.activeLow, SafeOn: tc.safeOn})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := r.On(ctx); err != nil {
				t.Fatal(err)
			}
			if got := pin.Read(); got != tc.on {
				t.Errorf("on: line %s, want %s", got, tc.on)
			}
			if err := r.Off(ctx); err != nil {
				t.Fatal(err)
			}
			if got := pin.Read(); got != tc.off {
				t.Errorf("off: line %s, want %s", got, tc.off)
			}
			if err := r.On(ctx); err != nil {
				t.Fatal(err)
			}
			if err := r.SafeState(); err != nil {
				t.Fatal(err)
			}
			if got := pin.Read(); got != tc.safe {
				t.Errorf("safe: line %s, want %s", got, tc.safe)
			}
			wantEvents(t, r.Log(),
				"GPIO17 on "+tc.on.String(), "GPIO17 off "+tc.off.String(),
				"GPIO17 on "+tc.on.String(), "GPIO17 safe "+tc.safe.String())
		})
	}
}

func TestRelayEventsJSONL(t *testing.T) {
	g := newRig()
	r, _ := g.relay(t, RelayConfig{Line: "GPIO17", ActiveLow: true})
	ctx := context.Background()
	if err := r.On(ctx); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(250 * time.Millisecond)
	if err := r.Off(ctx); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(2 * time.Second)
	if err := r.SafeState(); err != nil {
		t.Fatal(err)
	}

	epoch := g.log.Epoch()
	want := []struct {
		mono          time.Duration
		action, level string
	}{
		{0, "on", "Low"},
		{250 * time.Millisecond, "off", "High"},
		{2250 * time.Millisecond, "safe", "High"},
	}
	lines := strings.Split(strings.TrimSuffix(g.out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), g.out)
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		w := want[i]
		if m["mono_ns"] != float64(w.mono) || m["switch"] != "GPIO17" || m["action"] != w.action || m["level"] != w.level {
			t.Errorf("line %d = %s, want mono_ns %d action %s level %s", i+1, line, w.mono, w.action, w.level)
		}
		wall, err := time.Parse(time.RFC3339Nano, m["wall"].(string))
		if err != nil || !wall.Equal(epoch.Add(w.mono)) || !strings.HasSuffix(m["wall"].(string), "Z") {
			t.Errorf("line %d: wall %v (%v), want %v in UTC", i+1, m["wall"], err, epoch.Add(w.mono))
		}
		for _, k := range []string{"error", "output", "detail"} {
			if _, ok := m[k]; ok {
				t.Errorf("line %d has %q, want it omitted: %s", i+1, k, line)
			}
		}
	}
	if len(r.Log().Events()) != len(want) {
		t.Errorf("in memory: %d events, want %d", len(r.Log().Events()), len(want))
	}
}

// cycleAsync starts sw.Cycle and returns its result channel.
func cycleAsync(ctx context.Context, sw Switch) <-chan error {
	done := make(chan error, 1)
	go func() { done <- sw.Cycle(ctx) }()
	return done
}

func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("operation did not return")
		return nil
	}
}

func TestCycleFromOnWaitsFullOffTime(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", ActiveLow: true, MinOff: 1500 * time.Millisecond})
	switchOnKnown(t, g, r, 1500*time.Millisecond)
	done := cycleAsync(context.Background(), r)
	if d := g.clk.waitTimer(t); d != 1500*time.Millisecond {
		t.Errorf("waited %s, want the full 1.5s", d)
	}
	if pin.Read() != gpio.High {
		t.Error("line not off while waiting out the off-time")
	}
	g.clk.Advance(1500 * time.Millisecond)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if got := pin.Writes(); len(got) != 4 || got[1] != gpio.Low || got[2] != gpio.High || got[3] != gpio.Low {
		t.Errorf("writes %v, want off, on, off, on (High, Low, High, Low)", got)
	}
	wantEvents(t, g.log, "GPIO17 off High", "GPIO17 on Low", "GPIO17 cycle minimum off-time 1.5s", "GPIO17 off High", "GPIO17 wait 1.5s", "GPIO17 on Low")
}

func TestCycleWaitsOnlyTheRemainder(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", MinOff: 1500 * time.Millisecond})
	if err := r.Off(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(time.Second)
	// Cycle's own Off finds the relay already off: the off-time counts from
	// the first Off, so half a second remains.
	done := cycleAsync(context.Background(), r)
	if d := g.clk.waitTimer(t); d != 500*time.Millisecond {
		t.Errorf("waited %s, want the remaining 500ms", d)
	}
	g.clk.Advance(500 * time.Millisecond)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.High {
		t.Error("relay not on after Cycle")
	}
	wantEvents(t, g.log, "GPIO17 off Low", "GPIO17 cycle minimum off-time 1.5s", "GPIO17 off Low", "GPIO17 wait 500ms", "GPIO17 on High")
}

func TestCycleWaitsNothingWhenOffLongEnough(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", MinOff: 1500 * time.Millisecond})
	if err := r.Off(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(2 * time.Second)
	// Called directly: a wait here would hang (and time out the test).
	if err := result(t, cycleAsync(context.Background(), r)); err != nil {
		t.Fatal(err)
	}
	g.clk.noTimer(t)
	if pin.Read() != gpio.High {
		t.Error("relay not on after Cycle")
	}
}

func TestOnHonoursOffTime(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", MinOff: time.Second})
	ctx := context.Background()
	if err := r.Off(ctx); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(400 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- r.On(ctx) }()
	if d := g.clk.waitTimer(t); d != 600*time.Millisecond {
		t.Errorf("On waited %s, want 600ms", d)
	}
	if pin.Read() != gpio.Low {
		t.Error("line switched on before the off-time passed")
	}
	g.clk.Advance(600 * time.Millisecond)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.High {
		t.Error("relay not on")
	}
}

func TestCycleCancelledLeavesRelayOff(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", MinOff: time.Minute})
	switchOnKnown(t, g, r, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := cycleAsync(ctx, r)
	g.clk.waitTimer(t)
	cancel()
	err := result(t, done)
	var pe *Error
	if !errors.Is(err, context.Canceled) || !errors.As(err, &pe) || pe.Switch != "GPIO17" {
		t.Fatalf("Cycle = %v, want a *power.Error on GPIO17 wrapping context.Canceled", err)
	}
	if pin.Read() != gpio.Low {
		t.Error("relay switched on after a cancelled Cycle")
	}
	// A cancelled context switches nothing.
	if err := r.On(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("On with a cancelled context = %v", err)
	}
	if n := len(pin.Writes()); n != 3 {
		t.Errorf("%d writes, want 3 (off, on, off): %v", n, pin.Writes())
	}
}

func TestSafeStateInterruptsCycle(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", ActiveLow: true, MinOff: time.Minute})
	done := cycleAsync(context.Background(), r)
	g.clk.waitTimer(t)
	if err := r.SafeState(); err != nil {
		t.Fatal(err)
	}
	if err := result(t, done); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Cycle = %v, want ErrInterrupted", err)
	}
	if pin.Read() != gpio.High {
		t.Error("relay not at its safe level (off: High)")
	}
	// Safe state is not a latch: the relay works again afterwards, and the
	// off-time still counts from the Cycle's Off.
	g.clk.Advance(time.Minute)
	if err := r.On(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.clk.noTimer(t)
	if pin.Read() != gpio.Low {
		t.Error("relay not on")
	}
}

func TestRelayLineFailure(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", MinOff: time.Second})
	broken := errors.New("EIO")
	pin.Fail(broken)
	// A fresh relay's state is unknown: On waits the off-time before it
	// tries the line.
	failed := make(chan error, 1)
	go func() { failed <- r.On(context.Background()) }()
	g.clk.waitTimer(t)
	g.clk.Advance(time.Second)
	err := result(t, failed)
	var pe *Error
	if !errors.Is(err, broken) || !errors.As(err, &pe) || pe.Action != ActionOn || !strings.Contains(err.Error(), "GPIO17") {
		t.Fatalf("On = %v, want a *power.Error naming GPIO17 wrapping the line's error", err)
	}
	evs := g.log.Events()
	if len(evs) != 2 || evs[0].Action != ActionWait || evs[1].Action != ActionOn || !strings.Contains(evs[1].Err, "EIO") {
		t.Fatalf("events %+v, want a wait and an on event carrying the error", evs)
	}
	// The relay's state is now unknown: an Off starts the off-time afresh.
	pin.Fail(nil)
	if err := r.Off(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.On(context.Background()) }()
	if d := g.clk.waitTimer(t); d != time.Second {
		t.Errorf("waited %s, want 1s", d)
	}
	g.clk.Advance(time.Second)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownLineListsExisting(t *testing.T) {
	powertest.Register(t, "GPIO27", gpio.High)
	powertest.Register(t, "GPIO17", gpio.High)
	powertest.Register(t, "GPIO4", gpio.High)
	_, err := NewRelay(RelayConfig{Line: "GPIO99"})
	var ue *UnknownLineError
	if !errors.Is(err, ErrUnknownLine) || !errors.As(err, &ue) || ue.Name != "GPIO99" {
		t.Fatalf("NewRelay = %v, want an *UnknownLineError for GPIO99", err)
	}
	// Natural order, as on a Raspberry Pi's header listing.
	if got := strings.Join(ue.Known, ","); !strings.Contains(got, "GPIO4,GPIO17,GPIO27") {
		t.Errorf("known lines %q, want GPIO4,GPIO17,GPIO27 in that order", got)
	}
	for _, s := range []string{`"GPIO99"`, "GPIO4, GPIO17, GPIO27", "bench file", "GPIO driver"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if _, err := NewButton(ButtonConfig{Line: "GPIO98"}); !errors.Is(err, ErrUnknownLine) {
		t.Errorf("NewButton = %v, want ErrUnknownLine", err)
	}
	lines, err := Lines()
	if err != nil || !strings.Contains(strings.Join(lines, ","), "GPIO4,GPIO17,GPIO27") {
		t.Errorf("Lines() = %v, %v", lines, err)
	}
}

func TestLineNameResolvesAliases(t *testing.T) {
	powertest.Register(t, "GPIO17", gpio.High)
	if err := gpioreg.RegisterAlias("P1_11", "GPIO17"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpioreg.Unregister("P1_11") })
	for _, name := range []string{"GPIO17", "P1_11"} {
		if got, err := LineName(name); err != nil || got != "GPIO17" {
			t.Errorf("LineName(%s) = %q, %v; want GPIO17", name, got, err)
		}
	}
	if _, err := LineName("P1_99"); !errors.Is(err, ErrUnknownLine) {
		t.Errorf("LineName(P1_99) = %v, want ErrUnknownLine", err)
	}
	// A relay opened by its alias drives the line.
	r, err := NewRelay(RelayConfig{Line: "P1_11"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.On(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gpioreg.ByName("GPIO17").Read() != gpio.High {
		t.Error("relay opened by alias did not drive GPIO17")
	}
}

// BenchmarkRelayOnOff measures one On and one Off, each with its event
// marshalled and written.
func BenchmarkRelayOnOff(b *testing.B) {
	pin := powertest.NewPin("GPIO17", gpio.High)
	if err := pin.Register(); err != nil {
		b.Fatal(err)
	}
	defer pin.Unregister()
	r, err := NewRelay(RelayConfig{Line: "GPIO17", Log: NewLog(io.Discard, time.Time{})})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if err := r.On(ctx); err != nil {
			b.Fatal(err)
		}
		if err := r.Off(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// switchOnKnown puts a fresh relay in a known on state without waiting: Off,
// then minOff later, On.
func switchOnKnown(t *testing.T, g *rig, r *Relay, minOff time.Duration) {
	t.Helper()
	if err := r.Off(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.clk.Advance(minOff)
	if err := r.On(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.clk.noTimer(t)
}

// TestOnFromUnknownStateWaitsFullOffTime: a fresh Relay (a new process: one
// `bench power off`, then another `bench power on`) cannot know when power
// was last cut, so On keeps the whole minimum off-time before switching.
func TestOnFromUnknownStateWaitsFullOffTime(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", MinOff: 5 * time.Second})
	done := make(chan error, 1)
	go func() { done <- r.On(context.Background()) }()
	if d := g.clk.waitTimer(t); d != 5*time.Second {
		t.Errorf("On from an unknown state waited %s, want the full 5s", d)
	}
	if n := len(pin.Writes()); n != 0 {
		t.Errorf("line written %v before the off-time passed", pin.Writes())
	}
	g.clk.Advance(5 * time.Second)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.High {
		t.Error("relay not on after the wait")
	}
	g.clk.noTimer(t) // once waited out, it switched on: no second wait
	wantEvents(t, g.log, "GPIO17 wait 5s (state unknown: power may have been cut just before)", "GPIO17 on High")
}

// TestOnAfterFailedOffWaitsFullOffTime: a failed Off may have cut power
// before it failed; the On after it keeps the whole off-time, counted from
// the On, however long ago the relay was last known off.
func TestOnAfterFailedOffWaitsFullOffTime(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", MinOff: 5 * time.Second})
	switchOnKnown(t, g, r, 5*time.Second)
	pin.FailLevel(gpio.Low, errors.New("EIO"))
	if err := r.Off(context.Background()); err == nil {
		t.Fatal("Off succeeded on a failing line")
	}
	pin.FailLevel(gpio.Low, nil)
	g.clk.Advance(time.Hour) // no time since the failure counts
	done := make(chan error, 1)
	go func() { done <- r.On(context.Background()) }()
	if d := g.clk.waitTimer(t); d != 5*time.Second {
		t.Errorf("On after a failed Off waited %s, want the full 5s", d)
	}
	g.clk.Advance(5 * time.Second)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.High {
		t.Error("relay not on")
	}
}

// TestOnFromUnknownStateCountsFromFirstOn: an On from an unknown state that
// is cancelled while waiting has started the off-time; a later On waits
// only the rest of it.
func TestOnFromUnknownStateCountsFromFirstOn(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Line: "GPIO17", MinOff: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.On(ctx) }()
	g.clk.waitTimer(t)
	cancel()
	if err := result(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("On = %v, want context.Canceled", err)
	}
	g.clk.Advance(3 * time.Second)
	go func() { done <- r.On(context.Background()) }()
	if d := g.clk.waitTimer(t); d != 2*time.Second {
		t.Errorf("second On waited %s, want the remaining 2s", d)
	}
	g.clk.Advance(2 * time.Second)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.High {
		t.Error("relay not on")
	}
}

// TestRelayErrorNamesSwitchOnce: given the fixture as its Name, a relay's
// errors name the fixture once and the line after it; events still name
// the line.
func TestRelayErrorNamesSwitchOnce(t *testing.T) {
	g := newRig()
	r, pin := g.relay(t, RelayConfig{Name: `fixture "cam-1"`, Line: "GPIO17"})
	pin.Fail(errors.New("EIO"))
	err := r.On(context.Background())
	var pe *Error
	if !errors.As(err, &pe) || pe.Switch != `fixture "cam-1"` ||
		err.Error() != `power on fixture "cam-1": line GPIO17: writing High: EIO` {
		t.Errorf("On = %v, want power on fixture \"cam-1\": line GPIO17: writing High: EIO", err)
	}
	if evs := g.log.Events(); len(evs) != 1 || evs[0].Switch != "GPIO17" || evs[0].Err != "writing High: EIO" {
		t.Errorf("events %+v, want one on event on GPIO17 with the line's error", evs)
	}
	_, err = NewRelay(RelayConfig{Name: `fixture "cam-1"`, Line: "GPIO99"})
	if !errors.Is(err, ErrUnknownLine) || !strings.HasPrefix(err.Error(), `power switch fixture "cam-1": GPIO line "GPIO99" not found`) {
		t.Errorf("NewRelay = %v, want power switch fixture \"cam-1\": GPIO line \"GPIO99\" not found ...", err)
	}
}
