package fleet

import (
	"crypto"
	"fmt"
	"testing"
	"time"

	"github.com/certbench/certbench/results"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestBrokerKilledMidJob: mosquitto is killed (SIGKILL) while a case runs;
// the run ends and is sealed with the broker away, waits in the outbox,
// and reaches the controller once the broker is back: once, not twice.
func TestBrokerKilledMidJob(t *testing.T) {
	m := startMosquitto(t, true)
	benches := lab(t, "out", 1, nil)
	b := benches[0]
	ctrl, benchKey := newKey(t), newKey(t)
	queued := make(chan string, 4)
	agentWith(t, b, m.url, benchKey, func(a *Agent) { a.queued = func(run string) { queued <- run } }, ctrl.Public())
	w := controller(t, m.url, "controller-outage", map[string][]crypto.PublicKey{b.ID: {benchKey.Public()}}, b.ID)

	j := job(b.ID)
	if err := w.c.Submit(t.Context(), ctrl, j); err != nil {
		t.Fatal(err)
	}
	start := w.until(t, j.ID, "run-start")
	w.until(t, j.ID, "case-start")
	m.kill()
	var run string
	select {
	case run = <-queued:
	case <-time.After(2 * time.Minute):
		t.Fatal("the run was not sealed and queued while the broker was away")
	}
	if run != start.Run {
		t.Fatalf("queued run %s, the job began %s", run, start.Run)
	}
	back := time.Now()
	m.start()
	r := w.record(t)
	t.Logf("broker back to record stored and verified: %s", time.Since(back).Round(time.Millisecond))
	if r.Delivery.Run != run || !r.OK() || r.Record.Verdict != results.Pass {
		t.Fatalf("record after the outage: run %s verdict %s ok %v %v", r.Delivery.Run, r.Record.Verdict, r.OK(), r.Problems)
	}
	if done := w.until(t, j.ID, EventDone); len(done.Runs) != 1 || done.Runs[0] != run {
		t.Fatalf("job done: %+v", done)
	}
	// job-done leaves the outbox after the delivery: everything is sent.
	// A second delivery of the run would have come before it.
	select {
	case r := <-w.records:
		t.Fatalf("run %s delivered twice", r.Delivery.Run)
	default:
	}
	w.mu.Lock()
	n := w.got[run]
	w.mu.Unlock()
	if n != 1 {
		t.Fatalf("run %s handed to the controller %d times", run, n)
	}
}

// TestForgetEndsTheSession: a controller that Forgets leaves no session on
// the broker (bench submit's one-job client ids would pile up otherwise);
// one that does not, does.
func TestForgetEndsTheSession(t *testing.T) {
	m := startMosquitto(t, false)
	present := func(id string) bool {
		o := mqtt.NewClientOptions().AddBroker(m.url).SetClientID(id).SetCleanSession(false)
		cl := mqtt.NewClient(o)
		tok := cl.Connect()
		tok.Wait()
		if tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		defer cl.Disconnect(0)
		return tok.(*mqtt.ConnectToken).SessionPresent()
	}
	for _, forget := range []bool{false, true} {
		id := fmt.Sprintf("forget-%v", forget)
		c := &Controller{Broker: Broker{URL: m.url}, ClientID: id, Forget: forget}
		if err := c.Connect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := c.Watch(t.Context(), "b"); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := present(id); got == forget {
			t.Errorf("Forget %v: session present %v afterwards", forget, got)
		}
	}
}
