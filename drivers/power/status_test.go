//go:build unix

package power

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unit is a fixture behind a vendor's scripts that keep the outlet's state
// in a file, as a vendor's tools do: on and off refuse (exit 1) when there
// is nothing to do, status prints the state, and each switch is logged.
type unit struct {
	*pdu
	file string // the outlet: "on" or "off"
}

func newUnit(t *testing.T, initial string) *unit {
	t.Helper()
	u := &unit{pdu: newPDU(t)}
	u.file = u.path("state")
	if err := os.WriteFile(u.file, []byte(initial+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"on", "off"} {
		u.script(t, "unit-"+s, `if [ "$(cat "`+u.file+`")" = `+s+` ]; then echo "already `+s+`" >&2; exit 1; fi
echo `+s+` > "`+u.file+`"; echo `+s+` >> "`+u.state+`"; echo "switched `+s+`"`)
	}
	u.script(t, "unit-status", `echo "outlet 3:"; cat "`+u.file+`"`)
	return u
}

func (u *unit) config() CommandConfig {
	return CommandConfig{
		On: []string{u.path("unit-on")}, Off: []string{u.path("unit-off")},
		Status: []string{u.path("unit-status")}, MinOff: 5 * time.Second,
	}
}

func (u *unit) now(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(u.file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestStatusOnWhenAlreadyOn is `bench power on` on a unit that is on: a
// new process must neither wait min_off nor run the on-script (which
// refuses, and the bench would then go to its safe state: off).
func TestStatusOnWhenAlreadyOn(t *testing.T) {
	u := newUnit(t, "on")
	g := newRig()
	s := g.command(t, u.config())
	if err := s.On(context.Background()); err != nil {
		t.Fatalf("On = %v, want nothing to do", err)
	}
	g.clk.noTimer(t)
	if got := u.outlet(t); got != "" || u.now(t) != "on" {
		t.Fatalf("the unit was switched (%q), state %s; want it left on, untouched", got, u.now(t))
	}
	evs := g.log.Events()
	if len(evs) != 1 || evs[0].Action != ActionOn || evs[0].State != StateOn || evs[0].Err != "" ||
		!strings.Contains(evs[0].Detail, "already on") || evs[0].StatusOutput != "outlet 3:\non\n" {
		t.Fatalf("events %+v, want one on event saying it was already on, with the status output", evs)
	}
	// Off is then known to be needed; it runs and is confirmed.
	if err := s.Off(context.Background()); err != nil {
		t.Fatal(err)
	}
	if u.now(t) != "off" {
		t.Fatalf("after Off the unit is %s", u.now(t))
	}
	if e := g.log.Events()[1]; e.State != StateOff || !strings.Contains(e.Detail, "the status command confirms off") {
		t.Errorf("off event %+v, want it confirmed by the status command", e)
	}
}

// TestStatusOnWhenOffWaitsAndConfirms: off since an unknown time, so the
// whole min_off is waited, then on is switched and read back.
func TestStatusOnWhenOffWaitsAndConfirms(t *testing.T) {
	u := newUnit(t, "off")
	g := newRig()
	s := g.command(t, u.config())
	done := make(chan error, 1)
	go func() { done <- s.On(context.Background()) }()
	if d := g.clk.waitTimer(t); d != 5*time.Second {
		t.Fatalf("waited %s, want the whole 5s: since when the unit is off is not known", d)
	}
	g.clk.Advance(5 * time.Second)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	if u.outlet(t) != "on" || u.now(t) != "on" {
		t.Fatalf("switched %q, state %s", u.outlet(t), u.now(t))
	}
	evs := g.log.Events()
	if len(evs) != 2 || evs[0].Action != ActionWait || !strings.Contains(evs[0].Detail, "status command says off") {
		t.Fatalf("events %+v, want a wait saying the status said off, then on", evs)
	}
	if e := evs[1]; e.Action != ActionOn || e.State != StateOn || !strings.Contains(e.Detail, "confirms on") || e.StatusOutput != "outlet 3:\non\n" {
		t.Errorf("on event %+v, want it confirmed with the status output", e)
	}
}

// TestStatusReadbackDisagrees: the on command exits 0 but the outlet stays
// off (a PDU that accepted and dropped the request): after the command's
// timeout of reads, it is an error and the state is unknown.
func TestStatusReadbackDisagrees(t *testing.T) {
	u := newUnit(t, "off")
	u.script(t, "liar", `echo "OK - accepted request"`)
	g := newRig()
	cfg := u.config()
	cfg.On, cfg.MinOff, cfg.Timeout = []string{u.path("liar")}, 0, 2*time.Second
	s := g.command(t, cfg)
	done := make(chan error, 1)
	go func() { done <- s.On(context.Background()) }()
	for range 4 { // reads at 0, 0.5, 1, 1.5 s; the one at 2 s gives up
		if d := g.clk.waitTimer(t); d != statusPoll {
			t.Fatalf("paused %s between reads, want %s", d, statusPoll)
		}
		g.clk.Advance(statusPoll)
	}
	err := result(t, done)
	if err == nil || !strings.Contains(err.Error(), "still says off after 2s") || !strings.Contains(err.Error(), "unit-status") {
		t.Fatalf("On = %v, want it to say the status still says off", err)
	}
	evs := g.log.Events()
	if e := evs[len(evs)-1]; e.State != StateUnknown || e.Err == "" {
		t.Errorf("event %+v, want a failed on with the state unknown", e)
	}
}

// TestStatusCommandFailedButStateAsWanted: a vendor's off-script refuses
// when already off (exit 1): the safe state is reached all the same, and
// the event says why the failure was accepted.
func TestStatusCommandFailedButStateAsWanted(t *testing.T) {
	u := newUnit(t, "off")
	g := newRig()
	s := g.command(t, u.config())
	if err := s.SafeState(); err != nil {
		t.Fatalf("SafeState = %v, want the failed off accepted: the status says off", err)
	}
	e := g.log.Events()[0]
	if e.Err != "" || e.State != StateOff || !strings.Contains(e.Detail, "failed (exit status 1) but the status command says off") || !strings.Contains(e.Output, "already off") {
		t.Errorf("event %+v", e)
	}
	// A failure the status does not excuse stays a failure.
	u.script(t, "unit-status", `echo on`)
	if err := s.SafeState(); err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("SafeState = %v, want the off-script's exit status 1", err)
	}
}

// TestStatusOutputMustBeClear: output matching neither or both patterns is
// a failed read, never a guess; custom patterns read uhubctl.
func TestStatusOutputMustBeClear(t *testing.T) {
	u := newUnit(t, "off")
	for _, tc := range []struct{ out, want string }{
		{"outlet 3: unknown", "matches neither"},
		{"on\noff", "matches both"},
	} {
		u.script(t, "unit-status", `printf '`+tc.out+`\n'`)
		s := newRig().command(t, u.config())
		err := s.Off(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "unit-status") {
			t.Errorf("status printing %q: Off = %v, want %q", tc.out, err, tc.want)
		}
	}
	if u.outlet(t) != "" {
		t.Errorf("switched %q on an unreadable state", u.outlet(t))
	}
	// uhubctl's report of port 2 (`uhubctl -l 1-1 -p 2`).
	u.script(t, "unit-status", `echo "Current status for hub 1-1 [2109:3431 USB2.0 Hub, USB 2.10, 4 ports, ppps]"
echo "  Port 2: 0503 power highspeed enable connect [0424:ec00]"`)
	cfg := u.config()
	cfg.StatusOn = regexp.MustCompile(`Port 2: [0-9a-f]{4} power`)
	cfg.StatusOff = regexp.MustCompile(`Port 2: [0-9a-f]{4} off`)
	s := newRig().command(t, cfg)
	if err := s.On(context.Background()); err != nil {
		t.Fatalf("On with uhubctl saying power: %v", err)
	}
	if u.outlet(t) != "" {
		t.Errorf("switched %q though uhubctl said the port has power", u.outlet(t))
	}
	if _, err := NewCommand(CommandConfig{On: cfg.On, Off: cfg.Off, StatusOn: cfg.StatusOn}); err == nil || !strings.Contains(err.Error(), "without a status command") {
		t.Errorf("patterns without a status command: %v", err)
	}
}

// TestEventStampsStartAndEnd: a 1.2 s off-script cuts power somewhere
// within it; the event says when it began and ended, and a watcher hears
// of the start while it runs.
func TestEventStampsStartAndEnd(t *testing.T) {
	p := newPDU(t)
	if err := syscall.Mkfifo(p.path("go"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.script(t, "slow-off", `cat "`+p.dir+`/go" >/dev/null; echo cut`)
	g := newRig()
	begun := make(chan Event, 10)
	g.log.Watch(func(e Event, b bool) {
		if b {
			begun <- e
		}
	})
	s := g.command(t, CommandConfig{On: []string{p.path("pdu"), "on"}, Off: []string{p.path("slow-off")}})
	done := make(chan error, 1)
	go func() { done <- s.Off(context.Background()) }()
	e := <-begun
	if e.Action != ActionOff || e.Start != 0 || !strings.Contains(e.Detail, "slow-off") {
		t.Fatalf("start notice %+v", e)
	}
	g.clk.Advance(1200 * time.Millisecond)
	if err := os.WriteFile(p.path("go"), []byte("go\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	got := g.log.Events()[0]
	if got.Start != 0 || got.Mono != 1200*time.Millisecond || got.StartWall.IsZero() || !got.Wall.Equal(got.StartWall.Add(1200*time.Millisecond)) {
		t.Errorf("event start %s (%s) end %s (%s), want 0 and 1.2s", got.Start, got.StartWall, got.Mono, got.Wall)
	}
	if line := strings.SplitN(g.out.String(), "\n", 2)[0]; !strings.Contains(line, `"start_mono_ns":0,"start_wall":"2026-11-24T23:50:00.000000000Z"`) || !strings.Contains(line, `"mono_ns":1200000000`) {
		t.Errorf("JSON line %s, want both stamps", line)
	}
}

// TestCancelledOffIsNotAnError: an off-script that has cut power and is
// then interrupted leaves the state unknown; the event says so and is not
// an error (the caller stopped it), though Off returns the cancellation.
func TestCancelledOffIsNotAnError(t *testing.T) {
	p := newPDU(t)
	p.script(t, "cut-then-hang", `echo off >> "`+p.state+`"; echo running > "`+p.dir+`/running"; exec sleep 60`)
	g := newRig()
	s := g.command(t, CommandConfig{On: []string{p.path("pdu"), "on"}, Off: []string{p.path("cut-then-hang")}, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Off(ctx) }()
	if b, err := os.ReadFile(p.path("running")); err != nil || string(b) != "running\n" {
		t.Fatalf("fifo: %q %v", b, err)
	}
	cancel()
	err := result(t, done)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Off = %v, want the cancellation", err)
	}
	e := g.log.Events()[0]
	if e.Err != "" || e.State != StateUnknown || !strings.Contains(e.Detail, "state unknown: off command interrupted after it started") {
		t.Errorf("event %+v, want no error, state unknown, and why", e)
	}
}

// TestCancelSparesDetachedHelpers: an on-script starts a bridge with nohup,
// another with setsid, and a plain child, then hangs; cancelling it ends
// the script and the plain child but not the helpers it detached.
func TestCancelSparesDetachedHelpers(t *testing.T) {
	p := newPDU(t)
	// Each helper says it is detached (nohup has set SIGHUP ignored, setsid
	// has made its session) through a fifo before it becomes the long-lived
	// sleep, so the test waits on that word, not on polling /proc.
	for _, f := range []string{"nohup-ready", "setsid-ready"} {
		if err := syscall.Mkfifo(p.path(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.script(t, "vendor-on", `nohup sh -c 'echo ready > "`+p.dir+`/nohup-ready"; exec sleep 300' >/dev/null 2>&1 & echo $! > "`+p.dir+`/nohup"
setsid sh -c 'echo ready > "`+p.dir+`/setsid-ready"; exec sleep 300' >/dev/null 2>&1 & echo $! > "`+p.dir+`/setsid"
sleep 300 & echo $! > "`+p.dir+`/plain"
echo running > "`+p.dir+`/running"; wait`)
	g := newRig()
	s := g.command(t, CommandConfig{On: []string{p.path("vendor-on")}, Off: []string{p.path("pdu"), "off"}, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.On(ctx) }()
	if b, err := os.ReadFile(p.path("running")); err != nil || string(b) != "running\n" {
		t.Fatalf("fifo: %q %v", b, err)
	}
	pid := func(name string) int {
		b, err := os.ReadFile(p.path(name))
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	nohup, setsid, plain := pid("nohup"), pid("setsid"), pid("plain")
	t.Cleanup(func() { syscall.Kill(nohup, syscall.SIGKILL); syscall.Kill(setsid, syscall.SIGKILL) })
	// The helpers detach themselves after the script has gone on: wait
	// until they say they have, as a vendor's script would before it returns.
	for _, f := range []string{"nohup-ready", "setsid-ready"} {
		if b, err := os.ReadFile(p.path(f)); err != nil || string(b) != "ready\n" {
			t.Fatalf("%s: %q %v", f, b, err)
		}
	}
	if !ignoresHUP(nohup) {
		t.Fatalf("the nohup helper (pid %d) does not ignore SIGHUP", nohup)
	}
	if g, err := syscall.Getpgid(setsid); err != nil || g != setsid {
		t.Fatalf("the setsid helper (pid %d) is in group %d (%v), not its own", setsid, g, err)
	}
	cancel()
	if err := result(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("On = %v", err)
	}
	waitGone(t, plain)
	for name, pid := range map[string]int{"nohup": nohup, "setsid": setsid} {
		if !alive(pid) {
			t.Errorf("the helper started with %s (pid %d) was killed with the command", name, pid)
		}
	}
}

// ignoresHUP reports whether pid has SIGHUP ignored (a disposition exec
// keeps, so it holds for the shell that says "ready" and the sleep it
// becomes alike).
func ignoresHUP(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigIgn:"); ok {
			ign, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return ign&(1<<(syscall.SIGHUP-1)) != 0
		}
	}
	return false
}

// alive reports whether pid runs (exists and is not a zombie).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

// TestPDUDaemon drives a real pdudaemon (Debian's package, its
// localcmdline driver) as the on and off commands, with a status script
// reading the outlet file the driver writes.
func TestPDUDaemon(t *testing.T) {
	if _, err := exec.LookPath("pdudaemon"); err != nil {
		t.Skip("pdudaemon not installed (Debian package pdudaemon)")
	}
	p := newPDU(t)
	outlet := p.path("outlet3")
	conf := p.path("pdudaemon.conf")
	if err := os.WriteFile(conf, []byte(`{"daemon": {"hostname": "127.0.0.1", "port": 16421, "listener": "http"},
 "pdus": {"lab": {"driver": "localcmdline", "cmd_on": "echo on > `+p.dir+`/outlet%s", "cmd_off": "echo off > `+p.dir+`/outlet%s"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outlet, []byte("on\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.script(t, "status", `cat "`+outlet+`"`)
	drive := func(req string) []string {
		return []string{"pdudaemon", "--conf", conf, "--drive", "--hostname", "lab", "--port", "3", "--request", req}
	}
	g := newRig()
	s := g.command(t, CommandConfig{On: drive("on"), Off: drive("off"), Status: []string{p.path("status")}, MinOff: time.Second})
	if err := s.On(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.clk.noTimer(t) // already on: pdudaemon is not even run
	if err := s.Off(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(outlet)
	if string(b) != "off\n" {
		t.Fatalf("outlet file %q after Off through pdudaemon", b)
	}
	evs := g.log.Events()
	if len(evs) != 2 || !strings.Contains(evs[0].Detail, "already on") || !strings.Contains(evs[1].Detail, "confirms off") || !strings.Contains(evs[1].Output, "Processing job for PDU lab: (off 3)") {
		t.Errorf("events %+v", evs)
	}
}

// TestPDUDaemonHTTP runs a real pdudaemon on loopback, its HTTP listener in
// front of the localcmdline driver, and switches through it with curl, as
// a lab with a shared PDU daemon does. The daemon answers "OK - accepted
// request" before its queue switches the outlet: only the status command's
// read-back, repeated until it agrees, says the outlet did switch.
func TestPDUDaemonHTTP(t *testing.T) {
	for _, prog := range []string{"pdudaemon", "curl"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s not installed", prog)
		}
	}
	p := newPDU(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // pdudaemon binds it again
	conf := p.path("pdudaemon.conf")
	if err := os.WriteFile(conf, []byte(`{"daemon": {"hostname": "127.0.0.1", "port": `+strconv.Itoa(port)+`, "listener": "http", "logging_level": "INFO"},
 "pdus": {"lab": {"driver": "localcmdline", "cmd_on": "echo on > `+p.dir+`/outlet%s", "cmd_off": "echo off > `+p.dir+`/outlet%s"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d := exec.Command("pdudaemon", "--conf", conf)
	logs, err := d.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.Stderr = d.Stdout
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Process.Kill(); d.Wait() })
	sc := bufio.NewScanner(logs)
	for sc.Scan() && !strings.Contains(sc.Text(), "Listening on") {
	}
	if sc.Err() != nil {
		t.Fatal(sc.Err())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/power/control/"
	p.script(t, "status", `cat "`+p.dir+`/outlet3" 2>/dev/null || echo off`)
	log := NewLog(nil, time.Time{})
	s, err := NewCommand(CommandConfig{
		On:     []string{"curl", "-fsS", url + "on?hostname=lab&port=3"},
		Off:    []string{"curl", "-fsS", url + "off?hostname=lab&port=3"},
		Status: []string{p.path("status")}, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Off(context.Background()); err != nil { // reads off (no file yet): nothing sent
		t.Fatal(err)
	}
	if err := s.On(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := log.Events()
	on := evs[len(evs)-1]
	if !strings.Contains(evs[0].Detail, "already off") || on.Action != ActionOn || on.State != StateOn ||
		!strings.Contains(on.Output, "OK - accepted request") || !strings.Contains(on.Detail, "the status command confirms on") {
		t.Errorf("events %+v", evs)
	}
}

// TestChattyHelperOutlivesItsCommand: an on-script starts a bridge with
// nohup without redirecting its output, and exits. The bridge goes on
// printing; it must not be killed by SIGPIPE once the bench stops reading,
// as it was when the command's output was a pipe.
func TestChattyHelperOutlivesItsCommand(t *testing.T) {
	p := newPDU(t)
	// The bridge also counts its ticks into a fifo the test reads: the test
	// waits on them arriving, and reads end of file if the bridge dies.
	ticks := p.path("ticks")
	if err := syscall.Mkfifo(ticks, 0o600); err != nil {
		t.Fatal(err)
	}
	p.script(t, "vendor-on", `nohup sh -c 'exec 3>"`+ticks+`"; while :; do echo tick; echo tick >&3; sleep 0.02; done' & echo $! > "`+p.dir+`/bridge"
echo "bridge started"`)
	g := newRig()
	s := g.command(t, CommandConfig{On: []string{p.path("vendor-on")}, Off: []string{p.path("pdu"), "off"}})
	if err := s.On(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p.path("bridge"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	// Once On has returned, the bench reads no more of the output; the
	// bridge must go on past several more writes to it (a pipe whose
	// reader has gone kills the writer with SIGPIPE at its next write).
	f, err := os.Open(ticks)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 0; n < 5; n++ {
		if !sc.Scan() {
			t.Fatalf("the bridge (pid %d) died after its command returned, after %d ticks", pid, n)
		}
	}
	if !alive(pid) {
		t.Fatalf("the bridge (pid %d) died after its command returned", pid)
	}
	if e := g.log.Events()[0]; !strings.Contains(e.Output, "bridge started\n") {
		t.Errorf("output %q", e.Output)
	}
}
