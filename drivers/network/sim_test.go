package network_test

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/network"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures/sim"
)

// simPrompts are the simulated unit's, as its profile gives them.
var simPrompts = network.Prompts{
	Login:    regexp.MustCompile(regexp.QuoteMeta("login: ")),
	Password: regexp.MustCompile(regexp.QuoteMeta("Password: ")),
	Shell:    regexp.MustCompile(`[#$] $`),
	Failed:   regexp.MustCompile(regexp.QuoteMeta("Login incorrect")),
	Lockout:  regexp.MustCompile(regexp.QuoteMeta("Logins are locked")),
}

// TestSimulatedUnit drives a good simulated unit's telnet and web admin
// page with the probes: the label's password logs in on both; failures on
// either, under other user names, add up to one lock shown on both (the
// unit's declarations: one counter, per device), which refuses the right
// password.
func TestSimulatedUnit(t *testing.T) {
	// At 0.05 the declared 1m lockout lasts 3 s and each failure is held
	// back 50 ms: the lock outlasts the five failures and the two checks.
	lab, err := sim.Start(t.Context(), sim.Config{Dir: t.TempDir(), TimeScale: 0.05, Units: []sim.UnitConfig{{Name: "net-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	u := lab.Units()[0]
	relay, err := power.NewRelay(power.RelayConfig{Line: u.RelayLine()})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.SafeState()
	// The unit's boot log says when its services are up: wait for that on
	// its console rather than polling the ports.
	con, err := console.Open(t.Context(), console.Config{Name: u.Name(), Port: console.Serial{Path: u.ConsolePath()}})
	if err != nil {
		t.Fatal(err)
	}
	defer con.Close()
	if err := relay.On(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := con.Expect(t.Context(), 30*time.Second, console.Literal("Starting httpd: OK")); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	pw := u.Label().Password
	tn := &network.Telnet{Addr: u.TelnetAddr(), Prompts: simPrompts}
	if err := tn.Login(ctx, sim.AdminUser, pw); err != nil {
		t.Fatalf("telnet with the label's password: %v", err)
	}
	web := &network.HTTP{Base: "http://" + u.HTTPAddr(), Locked: network.HTTPLock{Status: 429, Body: regexp.MustCompile(`logins are locked`)}}
	if _, err := web.Basic(ctx, "GET", "/", sim.AdminUser, pw); err != nil {
		t.Fatalf("http basic with the label's password: %v", err)
	}
	for i := range 3 {
		if err := tn.Login(ctx, "root", "vizxv"); !errors.Is(err, network.ErrDenied) {
			t.Fatalf("telnet failure %d: %v", i+1, err)
		}
	}
	for i := range 2 {
		if _, err := web.Basic(ctx, "GET", "/", "support", "support"); !errors.Is(err, network.ErrDenied) {
			t.Fatalf("http failure %d: %v", i+1, err)
		}
	}
	if err := tn.Login(ctx, sim.AdminUser, pw); !errors.Is(err, network.ErrLocked) {
		t.Errorf("telnet after 5 failures across interfaces: %v, want locked out", err)
	}
	if _, err := web.Basic(ctx, "GET", "/", sim.AdminUser, pw); !errors.Is(err, network.ErrLocked) {
		t.Errorf("http after 5 failures across interfaces: %v, want locked out", err)
	}
}
