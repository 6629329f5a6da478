package fleet

import (
	"crypto"
	"strings"
	"testing"

	"github.com/certbench/certbench/bench/runner"
)

// TestJobOnAFixtureInUse: while a person holds the fixture (bench console's
// shared lease), a job that says refuse is refused naming the holder, and a
// job that says wait waits, then runs once the lease is released.
func TestJobOnAFixtureInUse(t *testing.T) {
	srv, err := Embed("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	b := lab(t, "held", 1, nil)[0]
	ctrl, benchKey := newKey(t), newKey(t)
	agent(t, b, srv.URL(), benchKey, ctrl.Public())
	w := controller(t, srv.URL(), "", map[string][]crypto.PublicKey{b.ID: {benchKey.Public()}}, b.ID)
	l, err := runner.Leases(b).Share(t.Context(), "held-1", "bench console")
	if err != nil {
		t.Fatal(err)
	}
	refuse := job(b.ID)
	if err := w.c.Submit(t.Context(), ctrl, refuse); err != nil {
		t.Fatal(err)
	}
	if e := nextRefusal(t, w); e.Job != refuse.ID || !strings.HasPrefix(e.Reason, RefusedBusy+":") || !strings.Contains(e.Reason, "bench console") {
		t.Fatalf("refusal: %+v", e)
	}
	wait := job(b.ID)
	wait.Busy = BusyWait
	if err := w.c.Submit(t.Context(), ctrl, wait); err != nil {
		t.Fatal(err)
	}
	if e := w.until(t, wait.ID, EventWaiting); !strings.Contains(e.Reason, "bench console") {
		t.Fatalf("waiting: %+v", e)
	}
	l.Release()
	if done := w.until(t, wait.ID, EventDone); len(done.Runs) != 1 {
		t.Fatalf("the waiting job: %+v", done)
	}
}

// TestOneAgentPerBench: a second agent for the same bench is refused,
// naming the first, rather than fighting it for the client id.
func TestOneAgentPerBench(t *testing.T) {
	srv, err := Embed("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	b := lab(t, "twice", 1, nil)[0]
	key := newKey(t)
	agent(t, b, srv.URL(), key)
	second := &Agent{Bench: b, Broker: Broker{URL: srv.URL()}, Key: key}
	if err := second.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "another agent serves bench") {
		t.Fatalf("second agent: %v", err)
	}
}
