package console_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/certbench/certbench/drivers/console"
)

// After a Mark (the bench cut the power), a prompt printed before it
// answers no wait, not even one in flight across it, and the transcript
// shows where the line was drawn, with the power event beside it.
func TestMarkEndsWhatMayMatch(t *testing.T) {
	l := openPTY(t, console.Config{})
	far := l.far()
	far.Write("cam-1 login: ")
	l.tr.waitFor(t, "the stale prompt", func(rs []console.Record) bool { return len(stream(t, rs, "rx")) == len("cam-1 login: ") })
	if err := l.c.Event(console.EventPower, "relay GPIO17 off"); err != nil {
		t.Fatal(err)
	}
	l.c.Mark("power off")
	if _, err := l.c.Expect(ctx, -1, console.Literal("login: ")); !errors.Is(err, console.ErrTimeout) {
		t.Fatalf("a prompt from before the mark matched: %v", err)
	}

	// A wait in flight across a mark: "log" before, "in: " after.
	registered := inFlight(l.c)
	done := make(chan *console.Match, 1)
	go func() {
		m, err := l.c.Expect(ctx, guard, console.Literal("login: "))
		if err != nil {
			t.Error(err)
		}
		done <- m
	}()
	await(t, registered, "the expect starting")
	far.Write("U-Boot\r\nlog")
	l.tr.waitFor(t, "log", func(rs []console.Record) bool { return len(stream(t, rs, "rx")) == len("cam-1 login: U-Boot\r\nlog") })
	l.c.Mark("power cycle")
	far.Write("in: \r\nbooting\r\ncam-1 login: ")
	m := <-done
	if m == nil || m.Before != "in: \nbooting\ncam-1 " {
		t.Fatalf("match across a mark: %+v", m)
	}
	if err := l.c.Event("relay", "x"); err == nil {
		t.Error("Event takes only power events")
	}
	var got []string
	for _, r := range l.tr.records(t) {
		if r.Dir == "event" && r.Event != "open" {
			got = append(got, r.Event+":"+r.Detail)
		}
	}
	want := []string{"power:relay GPIO17 off", "mark:power off", "mark:power cycle"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("events %q; want %q", got, want)
	}
}

// PowerTimeline puts a power log's events into the transcript and marks
// the console at a cut, not at a failed one.
func TestPowerTimeline(t *testing.T) {
	l := openPTY(t, console.Config{})
	w := console.PowerTimeline(l.c)
	for _, line := range []string{
		`{"mono_ns":1,"wall":"2026-01-01T00:00:00Z","switch":"GPIO17","action":"on","level":"High"}`,
		`{"mono_ns":2,"wall":"2026-01-01T00:00:00Z","switch":"GPIO17","action":"off","level":"Low","error":"line busy"}`,
		`{"mono_ns":3,"wall":"2026-01-01T00:00:00Z","switch":"GPIO17","action":"cycle","detail":"minimum off-time 2s"}`,
	} {
		if _, err := w.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Write([]byte("not json\n")); err == nil {
		t.Error("a line that is no power event was taken")
	}
	var got []string
	for _, r := range l.tr.records(t) {
		if r.Dir == "event" && r.Event != "open" {
			got = append(got, r.Event+": "+r.Detail)
		}
	}
	want := "power: GPIO17 on High|power: GPIO17 off Low failed: line busy|power: GPIO17 cycle minimum off-time 2s|mark: power cycle (GPIO17)"
	if strings.Join(got, "|") != want {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}
