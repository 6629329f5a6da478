package power

import (
	"context"
	"errors"
	"testing"

	"periph.io/x/conn/v3/gpio"
)

// failWriter fails every write, like a full disk.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

func TestLogWriteErrorKeepsEventsAndSwitching(t *testing.T) {
	g := newRig()
	log := newLog(failWriter{}, g.clk.Now(), g.clk)
	pin := g.relayPin(t, "GPIO17")
	r, err := NewRelay(RelayConfig{Line: "GPIO17", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.On(context.Background()); err != nil {
		t.Fatalf("On = %v: a log that cannot be written must not stop switching", err)
	}
	if err := r.SafeState(); err != nil {
		t.Fatal(err)
	}
	if pin.Read() != gpio.Low {
		t.Error("relay not safe")
	}
	if err := log.Err(); err == nil {
		t.Error("Log.Err() = nil after a failed write")
	}
	wantEvents(t, log, "GPIO17 on High", "GPIO17 safe Low")
}
