package console_test

import (
	"errors"
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
