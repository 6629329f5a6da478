package main

import (
	"bufio"
	"crypto"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/bench/fleet"
	"github.com/certbench/certbench/fixtures/sim/gpiosock"
	"github.com/certbench/certbench/results"
	"periph.io/x/conn/v3/gpio"
)

// fleetLab is a simulated lab (its own process), a broker in the test's
// process, and the lab's bench file set for the fleet: the broker, and a
// controller key the bench trusts.
type fleetLab struct {
	dir, benchFile, broker string
	agentArgs              []string
	status                 chan fleet.Status
	ctrl                   crypto.Signer
	benchPub               crypto.PublicKey
}

func startFleetLab(t *testing.T, simArgs ...string) *fleetLab {
	t.Helper()
	skipOnNonLinux(t)
	dir := startSimLab(t, simArgs...)
	srv, err := fleet.Embed("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if code, o, e := runBin(t, nil, "keygen", "--key", filepath.Join(dir, "controller.key")); code != 0 {
		t.Fatalf("keygen: %d\n%s%s", code, o, e)
	}
	l := &fleetLab{dir: dir, benchFile: filepath.Join(dir, "bench.yaml"), broker: srv.URL()}
	f, err := os.OpenFile(l.benchFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "broker: %s\nfleet:\n  controllers: [controller.pub]\n", l.broker)
	f.Close()
	if l.ctrl, err = results.LoadPrivateKey(filepath.Join(dir, "controller.key")); err != nil {
		t.Fatal(err)
	}
	if l.benchPub, err = results.LoadPublicKey(filepath.Join(dir, "bench.pub")); err != nil {
		t.Fatal(err)
	}
	return l
}

// agent starts `bench agent` and returns once it is ready.
func (l *fleetLab) agent(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(benchBin, append([]string{"agent", "-c", l.benchFile}, l.agentArgs...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if testing.Verbose() {
				t.Log(sc.Text())
			}
			if strings.Contains(sc.Text(), "bench agent: ready") {
				ready <- true
			}
		}
		io.Copy(io.Discard, stderr)
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("bench agent ended before it was ready")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("bench agent not ready")
	}
	return cmd
}

func (l *fleetLab) controller(t *testing.T) (*fleet.Controller, chan fleet.Event, chan fleet.Received) {
	events, records := make(chan fleet.Event, 256), make(chan fleet.Received, 16)
	l.status = make(chan fleet.Status, 256)
	c := &fleet.Controller{Broker: fleet.Broker{URL: l.broker}, ClientID: "test-controller", Store: t.TempDir(),
		BenchKeys: map[string][]crypto.PublicKey{"sim-lab": {l.benchPub}},
		OnEvent:   func(e fleet.Event) { events <- e },
		OnRecord:  func(r fleet.Received) { records <- r },
		OnStatus: func(s fleet.Status) {
			select {
			case l.status <- s:
			default:
			}
		},
	}
	if err := c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Watch(t.Context(), "sim-lab"); err != nil {
		t.Fatal(err)
	}
	return c, events, records
}

func awaitEvent(t *testing.T, events chan fleet.Event, job, kind string) fleet.Event {
	t.Helper()
	for {
		select {
		case e := <-events:
			if e.Job == job && e.Kind == kind {
				return e
			}
			if e.Job == job && e.Kind == fleet.EventRefused {
				t.Fatalf("job %s refused: %s", job, e.Reason)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("no %s event for job %s", kind, job)
		}
	}
}

func newJob(fixtures ...string) *fleet.Job {
	now := time.Now().UTC()
	return &fleet.Job{Version: fleet.Version, ID: fleet.NewJobID(), Bench: "sim-lab", Issued: now, Expires: now.Add(time.Hour),
		Fixtures: fixtures, Suites: []string{"debug-interfaces"}, Busy: fleet.BusyRefuse}
}

// TestAgentKilledMidJob: the agent is killed (SIGKILL) while a case runs
// with the relay on. Started again, it puts the relay at its safe level,
// closes the run as abandoned, delivers that record (NOT_RUN, verified)
// and reports the job interrupted; the next job runs and PASSes.
func TestAgentKilledMidJob(t *testing.T) {
	l := startFleetLab(t, "--units", "1", "--scale", "1") // real time: the case still boots when the kill comes
	c, events, records := l.controller(t)
	agent := l.agent(t)
	j := newJob()
	if err := c.Submit(t.Context(), l.ctrl, j); err != nil {
		t.Fatal(err)
	}
	start := awaitEvent(t, events, j.ID, "run-start")
	awaitEvent(t, events, j.ID, "case-start")
	gc, err := gpiosock.Dial(filepath.Join(l.dir, "gpio.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	relay := gpiosock.NewPin(gc, "SIM_CAM_1_RELAY")
	// The case powers the unit on to watch it boot.
	for relay.Read() != gpio.High {
		select {
		case e := <-events:
			if e.Kind == "case-end" {
				t.Fatalf("the case ended before the relay was seen on: %+v", e)
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
	agent.Process.Kill()
	agent.Wait()
	if relay.Read() != gpio.High {
		t.Fatal("the relay went off with the kill: the test shows nothing")
	}
	// The broker publishes the agent's last will: the bench is offline.
	for offline := false; !offline; {
		select {
		case st := <-l.status:
			offline = st.State == fleet.StateOffline
		case <-time.After(time.Minute):
			t.Fatal("no offline status after the agent was killed (its last will)")
		}
	}

	l.agent(t)
	ev := awaitEvent(t, events, j.ID, fleet.EventInterrupted)
	if relay.Read() != gpio.Low {
		t.Fatal("the relay is still on after the agent came back")
	}
	if len(ev.Runs) != 1 || ev.Runs[0] != start.Run || !strings.Contains(ev.Reason, `fixture "cam-1" put at its safe level`) {
		t.Fatalf("interrupted event: %+v", ev)
	}
	select {
	case r := <-records:
		if r.Delivery.Run != start.Run || !r.OK() || r.Record.Verdict != results.NotRun || r.Record.Abandoned == nil {
			t.Fatalf("abandoned run's record: %s %s ok=%v %v", r.Delivery.Run, r.Record.Verdict, r.OK(), r.Problems)
		}
	case <-time.After(time.Minute):
		t.Fatal("the interrupted run's record was not delivered")
	}
	j2 := newJob()
	if err := c.Submit(t.Context(), l.ctrl, j2); err != nil {
		t.Fatal(err)
	}
	if done := awaitEvent(t, events, j2.ID, fleet.EventDone); done.Verdict != results.Pass {
		t.Fatalf("next job: %+v", done)
	}
}
