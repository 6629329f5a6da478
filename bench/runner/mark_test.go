package runner

import (
	"io"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/console/consoletest"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/drivers/power/powertest"
	"periph.io/x/conn/v3/gpio"
)

// TestBytesLandingAfterTheCutAreStale: output the unit wrote before its
// power was cut, read only after the cut was marked, must not answer a wait
// in the next boot.
func TestBytesLandingAfterTheCutAreStale(t *testing.T) {
	powertest.Register(t, "CBTEST_MARK_RELAY", gpio.Low)
	dev := consoletest.NewPTY(t)
	con, err := console.Open(t.Context(), console.Config{Name: "m", Port: console.Serial{Path: dev.Path}})
	if err != nil {
		t.Fatal(err)
	}
	defer con.Close()
	log := power.NewLog(io.MultiWriter(io.Discard, console.PowerTimeline(con)), time.Now())
	markAtPowerOn(log, con)
	relay, err := power.NewRelay(power.RelayConfig{Line: "CBTEST_MARK_RELAY", MinOff: time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Off(t.Context()); err != nil { // marks (the timeline)
		t.Fatal(err)
	}
	// The last boot's prompt arrives after that mark, as bytes in flight do.
	w := con.Watch(console.Literal("stale login: "))
	dev.Far().Write("stale login: ")
	<-w.Fired()
	w.Stop()
	if err := relay.On(t.Context()); err != nil {
		t.Fatal(err)
	}
	dev.Far().Write("\r\nfresh login: ")
	m, err := con.Expect(t.Context(), 10*time.Second, console.MustRegexp(`(?P<host>\w+) login: $`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Groups["host"] != "fresh" {
		t.Fatalf("the wait after power-on matched the %q prompt", m.Groups["host"])
	}
}
