package fleet

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
)

const testScale = 0.02

// lab starts an in-process simulated lab of units named PREFIX-1..n and
// returns one bench per unit (bench PREFIX-i, its own archive and state),
// each with a fresh bench key.
func lab(t testing.TB, prefix string, n int, flaws map[int][]sim.Flaw) []*fixtures.Bench {
	return labScaled(t, prefix, n, flaws, testScale)
}

// scales is each lab bench's time scale, for its agent.
var scales sync.Map

func labScaled(t testing.TB, prefix string, n int, flaws map[int][]sim.Flaw, scale float64) []*fixtures.Bench {
	t.Helper()
	var units []sim.UnitConfig
	for i := range n {
		units = append(units, sim.UnitConfig{Name: fmt.Sprintf("%s-%d", prefix, i+1), Flaws: flaws[i]})
	}
	dir := t.TempDir()
	l, err := sim.Start(context.Background(), sim.Config{Dir: filepath.Join(dir, "lab"), TimeScale: scale, Units: units})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	path := filepath.Join(dir, "bench.yaml")
	if err := l.WriteBenchFile(path); err != nil {
		t.Fatal(err)
	}
	full, err := fixtures.LoadBench(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*fixtures.Bench
	for i, f := range full.Fixtures {
		b := *full
		b.ID = fmt.Sprintf("%s-bench-%d", prefix, i+1)
		bd := filepath.Join(dir, b.ID)
		os.MkdirAll(bd, 0o755)
		b.Path = filepath.Join(bd, "bench.yaml")
		b.Archive = filepath.Join(bd, "archive")
		b.Fixtures = []*fixtures.Fixture{f}
		out = append(out, &b)
		scales.Store(&b, scale)
	}
	return out
}

func newKey(t testing.TB) crypto.Signer {
	k, err := results.GenerateKey("")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type runningAgent struct {
	a    *Agent
	stop func()
}

// agent runs an agent for b on url until the test ends (or stop).
func agent(t testing.TB, b *fixtures.Bench, url string, key crypto.Signer, trusted ...crypto.PublicKey) *runningAgent {
	return agentWith(t, b, url, key, nil, trusted...)
}

func agentWith(t testing.TB, b *fixtures.Bench, url string, key crypto.Signer, set func(*Agent), trusted ...crypto.PublicKey) *runningAgent {
	t.Helper()
	ready := make(chan struct{})
	scale, ok := scales.Load(b)
	if !ok {
		scale = testScale
	}
	a := &Agent{Bench: b, Broker: Broker{URL: url}, Key: key, Trusted: trusted, TimeScale: scale.(float64),
		Ready: func() { close(ready) }}
	if set != nil {
		set(a)
	}
	if os.Getenv("FLEET_TEST_LOG") != "" {
		a.Logf = func(f string, args ...any) { t.Logf("agent %s: "+f, append([]any{b.ID}, args...)...) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("agent %s: %v", b.ID, err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent %s: %v", b.ID, err)
			}
		})
	}
	t.Cleanup(stop)
	return &runningAgent{a: a, stop: stop}
}

// watcher is a controller with its messages on channels.
type watcher struct {
	c       *Controller
	mu      sync.Mutex
	events  chan Event
	records chan Received
	status  chan Status
	got     map[string]int // run id → deliveries handed to OnRecord
}

func controller(t testing.TB, url, clientID string, benchKeys map[string][]crypto.PublicKey, benches ...string) *watcher {
	t.Helper()
	w := &watcher{events: make(chan Event, 4096), records: make(chan Received, 256), status: make(chan Status, 4096), got: map[string]int{}}
	w.c = &Controller{Broker: Broker{URL: url}, ClientID: clientID, Store: t.TempDir(), BenchKeys: benchKeys,
		OnEvent:  func(e Event) { w.events <- e },
		OnStatus: func(s Status) { w.status <- s },
		OnRecord: func(r Received) {
			w.mu.Lock()
			w.got[r.Delivery.Run]++
			w.mu.Unlock()
			w.records <- r
		},
	}
	if os.Getenv("FLEET_TEST_LOG") != "" {
		w.c.Logf = func(f string, args ...any) { t.Logf("controller: "+f, args...) }
	}
	if err := w.c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.c.Close)
	for _, b := range benches {
		if err := w.c.Watch(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// until reads events until one matches, failing on a job-refused for job
// unless that is what is awaited.
func (w *watcher) until(t testing.TB, job, kind string) Event {
	t.Helper()
	for {
		select {
		case e := <-w.events:
			if e.Job != job {
				continue
			}
			if e.Kind == kind {
				return e
			}
			if e.Kind == EventRefused {
				t.Fatalf("job %s refused: %s", job, e.Reason)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("no %s event for job %s", kind, job)
		}
	}
}

func (w *watcher) record(t testing.TB) Received {
	t.Helper()
	select {
	case r := <-w.records:
		return r
	case <-time.After(2 * time.Minute):
		t.Fatal("no record delivered")
	}
	return Received{}
}

func job(bench string, fixtures ...string) *Job {
	now := time.Now().UTC()
	return &Job{Version: Version, ID: NewJobID(), Bench: bench, Controller: "test", Issued: now, Expires: now.Add(time.Hour),
		Fixtures: fixtures, Suites: []string{"debug-interfaces"}, Busy: BusyRefuse}
}

// roundTrip: a job on a good and a flawed unit comes back as a PASS and a
// FAIL record that verify with the bench key; forged, replayed, expired,
// oversized and malformed jobs are refused on the event topic and the agent
// runs the next good job.
func roundTrip(t *testing.T, url, prefix string) {
	benches := lab(t, prefix, 2, map[int][]sim.Flaw{1: {sim.UARTRootShell}})
	ctrl := newKey(t)
	benchKey := newKey(t)
	for _, b := range benches[:1] {
		// one bench with both fixtures: the job runs them in parallel
		b.Fixtures = append(b.Fixtures, benches[1].Fixtures...)
	}
	b := benches[0]
	agent(t, b, url, benchKey, ctrl.Public())
	w := controller(t, url, "", map[string][]crypto.PublicKey{b.ID: {benchKey.Public()}}, b.ID)

	j := job(b.ID)
	signed, err := SignJob(ctrl, j)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.c.Publish(t.Context(), Topics{DefaultPrefix, b.ID}.Job(), signed); err != nil {
		t.Fatal(err)
	}
	w.until(t, j.ID, EventAccepted)
	w.until(t, j.ID, "case-start")
	// The retained status says what each fixture is doing.
	for running := false; !running; {
		select {
		case st := <-w.status:
			for _, f := range st.Fixtures {
				running = running || st.State == StateOnline && f.State == FixtureRunning && f.Job == j.ID
			}
		case <-time.After(time.Minute):
			t.Fatal("no status with the job running")
		}
	}
	done := w.until(t, j.ID, EventDone)
	if len(done.Runs) != 2 || done.Verdict != results.Fail {
		t.Fatalf("job done: %+v, want 2 runs and FAIL", done)
	}
	verdicts := map[string]results.Verdict{}
	for range 2 {
		r := w.record(t)
		if !r.OK() {
			t.Fatalf("run %s does not verify: %+v %v", r.Delivery.Run, r.Report.Problems, r.Problems)
		}
		if !slices.Contains(done.Runs, r.Delivery.Run) || r.Delivery.Job != j.ID {
			t.Fatalf("delivery %s/%s not of the job's runs %v", r.Delivery.Job, r.Delivery.Run, done.Runs)
		}
		if len(r.Record.Evidence) == 0 {
			t.Fatalf("run %s: no evidence delivered", r.Delivery.Run)
		}
		verdicts[r.Delivery.Fixture] = r.Record.Verdict
	}
	want := map[string]results.Verdict{prefix + "-1": results.Pass, prefix + "-2": results.Fail}
	if fmt.Sprint(verdicts) != fmt.Sprint(want) {
		t.Fatalf("verdicts %v, want %v", verdicts, want)
	}

	// Bad jobs: each refused, by kind.
	topic := Topics{DefaultPrefix, b.ID}.Job()
	forger := newKey(t)
	forged, _ := SignJob(forger, job(b.ID))
	past := job(b.ID)
	past.Issued, past.Expires = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	expired, _ := SignJob(ctrl, past)
	other := job("another-bench")
	wrong, _ := SignJob(ctrl, other)
	badSuite := job(b.ID)
	badSuite.Suites = []string{"no-such-suite"}
	invalid, _ := SignJob(ctrl, badSuite)
	for _, c := range []struct {
		kind string
		msg  []byte
	}{
		{RefusedForged, forged},
		{RefusedReplayed, signed},
		{RefusedExpired, expired},
		{RefusedOther, wrong},
		{RefusedInvalid, invalid},
		{RefusedOversized, bytes.Repeat([]byte("x"), MaxJobSize+1)},
		{RefusedForged, []byte(`{"payloadType":"application/vnd.certbench.job+json","payload":"e30=","signatures":[]}`)},
		{RefusedMalformed, signedPayload(t, ctrl, `{"version":1,"id":"no-busy","bench":"`+b.ID+`"}`)},
		{RefusedMalformed, signedPayload(t, ctrl, `{"version":2,"id":"v2","bench":"`+b.ID+`","issued":"2026-01-01T00:00:00Z","expires":"2026-01-01T01:00:00Z","busy":"wait","extra":1}`)},
		{RefusedMalformed, []byte("not json")},
	} {
		if err := w.c.Publish(t.Context(), topic, c.msg); err != nil {
			t.Fatal(err)
		}
		e := nextRefusal(t, w)
		if !strings.HasPrefix(e.Reason, c.kind+":") {
			t.Errorf("sent a %s job: refusal %q", c.kind, e.Reason)
		}
	}
	// The agent still runs jobs.
	j2 := job(b.ID, prefix+"-1")
	if err := w.c.Submit(t.Context(), ctrl, j2); err != nil {
		t.Fatal(err)
	}
	if done := w.until(t, j2.ID, EventDone); done.Verdict != results.Pass {
		t.Fatalf("job after the refusals: %+v", done)
	}
	if r := w.record(t); !r.OK() || r.Delivery.Job != j2.ID {
		t.Fatalf("record after the refusals: %+v", r)
	}
}

func signedPayload(t *testing.T, key crypto.Signer, payload string) []byte {
	env, err := results.Sign(key, JobPayloadType, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := env.Marshal()
	return b
}

func nextRefusal(t *testing.T, w *watcher) Event {
	t.Helper()
	for {
		select {
		case e := <-w.events:
			if e.Kind == EventRefused {
				return e
			}
		case <-time.After(time.Minute):
			t.Fatal("no job-refused event")
		}
	}
}

func TestRoundTripEmbeddedBroker(t *testing.T) {
	srv, err := Embed("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() }) // after the agents' own cleanups
	roundTrip(t, srv.URL(), "emb")
}

func TestRoundTripMosquitto(t *testing.T) {
	m := startMosquitto(t, false)
	roundTrip(t, m.url, "mos")
}

const mosquittoPath = "/usr/sbin/mosquitto"

type mosquitto struct {
	url  string
	conf string
	mu   sync.Mutex
	cmd  *exec.Cmd
	out  bytes.Buffer
	t    testing.TB
}

// startMosquitto runs mosquitto on a free loopback port with its own
// config; persist keeps sessions and queued messages across a kill (saved
// on every change), as a production broker would.
func startMosquitto(t testing.TB, persist bool) *mosquitto {
	t.Helper()
	return startMosquittoWith(t, func(dir string, port int) (string, string) {
		conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n", port)
		if persist {
			conf += fmt.Sprintf("persistence true\npersistence_location %s/\nautosave_interval 1\nautosave_on_changes true\n", dir)
		} else {
			conf += "persistence false\n"
		}
		return conf, fmt.Sprintf("tcp://127.0.0.1:%d", port)
	})
}

// startMosquittoWith runs mosquitto with the config conf writes for its
// folder and port; conf returns the config and the broker's URL.
func startMosquittoWith(t testing.TB, conf func(dir string, port int) (string, string)) *mosquitto {
	t.Helper()
	if _, err := os.Stat(mosquittoPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mosquitto not installed at %s: CI must install it (.ci/run)", mosquittoPath)
		}
		t.Skipf("mosquitto not installed at %s (apt-get install mosquitto)", mosquittoPath)
	}
	dir, err := os.MkdirTemp("", "fleet-mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777) // mosquitto started as root drops to its own user
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	text, url := conf(dir, port)
	m := &mosquitto{url: url, conf: filepath.Join(dir, "mosquitto.conf"), t: t}
	os.WriteFile(m.conf, []byte(text), 0o644)
	m.start()
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			t.Logf("mosquitto said:\n%s", m.out.String())
		}
	})
	return m
}

func (m *mosquitto) start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cmd = exec.Command(mosquittoPath, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = &m.out, &m.out
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
}

// kill is a crash: SIGKILL, no goodbye to anyone.
func (m *mosquitto) kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		m.cmd.Process.Kill()
		m.cmd.Wait()
		m.cmd = nil
	}
}
