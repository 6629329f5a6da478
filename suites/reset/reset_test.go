package reset_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/certbench/certbench/bench/lease"
	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites/reset"
	"github.com/certbench/certbench/suites/suite"
)

// scale runs the lab fast; the reset button's 5 s hold is 250 ms.
const scale = 0.05

const (
	consoleCase = "factory-reset/console-reset-erases-user-data"
	buttonCase  = "factory-reset/button-reset-erases-user-data"
	webCase     = "factory-reset/web-reset-erases-user-data"
)

// want is what one unit must get: a verdict per case, and words its
// reason must hold.
type want struct {
	verdict results.Verdict
	reason  []string
}

// TestSuiteOnTheLab runs the suite through the runner `bench run` uses, on
// a good unit, one unit per reset flaw, user-set units with and without a
// flaw, a fixture with no button line and one whose declarations add a web
// deletion function, and checks each case's verdict and its reason.
func TestSuiteOnTheLab(t *testing.T) {
	t.Parallel()
	if err := reset.Suite.Validate(); err != nil {
		t.Fatal(err)
	}
	pass := want{verdict: results.Pass}
	na := want{verdict: results.NotApplicable, reason: []string{"no web deletion function"}}
	fail := func(words ...string) want { return want{results.Fail, words} }
	units := []struct {
		cfg   sim.UnitConfig
		wants map[string]want
		edit  func(*fixtures.Fixture)
	}{
		{sim.UnitConfig{Name: "good"}, map[string]want{consoleCase: pass, buttonCase: pass, webCase: na}, nil},
		{sim.UnitConfig{Name: "wifi", Flaws: []sim.Flaw{sim.ResetKeepsWiFi}},
			map[string]want{consoleCase: fail(`"console-reset"`, "Wi-Fi network", "wifi show"), buttonCase: fail(`"reset-button"`, "Wi-Fi network", "wifi show"), webCase: na}, nil},
		{sim.UnitConfig{Name: "accounts", Flaws: []sim.Flaw{sim.ResetKeepsAccounts}},
			map[string]want{consoleCase: fail("still logs in on telnet"), buttonCase: fail("still logs in on telnet"), webCase: na}, nil},
		{sim.UnitConfig{Name: "logs", Flaws: []sim.Flaw{sim.ResetKeepsLogs}},
			map[string]want{consoleCase: fail("log line", "cat data/log/messages"), buttonCase: fail("log line", "cat data/log/messages"), webCase: na}, nil},
		{sim.UnitConfig{Name: "pairing", Flaws: []sim.Flaw{sim.ResetKeepsPairing}},
			map[string]want{consoleCase: fail("paired app", "ls data"), buttonCase: fail("paired app", "ls data"), webCase: na}, nil},
		{sim.UnitConfig{Name: "rootshell", Flaws: []sim.Flaw{sim.UARTRootShell}},
			map[string]want{consoleCase: fail("shell prompt", "without any login"), buttonCase: fail("without any login"), webCase: na}, nil},
		{sim.UnitConfig{Name: "userset", Passwords: sim.UserSetPassword},
			map[string]want{consoleCase: pass, buttonCase: pass, webCase: na}, nil},
		{sim.UnitConfig{Name: "userset-accounts", Passwords: sim.UserSetPassword, Flaws: []sim.Flaw{sim.ResetKeepsAccounts}},
			map[string]want{consoleCase: fail("without asking for a new password"), buttonCase: want{results.Error, []string{"must start in its set-up state"}}, webCase: na}, nil},
		{sim.UnitConfig{Name: "nobutton"},
			map[string]want{consoleCase: pass, buttonCase: want{results.Inconclusive, []string{`"reset-button"`, "no button line"}}, webCase: na},
			func(f *fixtures.Fixture) { f.Button = nil }},
		{sim.UnitConfig{Name: "web"},
			map[string]want{consoleCase: pass, buttonCase: pass, webCase: want{results.Inconclusive, []string{`"admin-reset"`, "cannot trigger a web deletion function"}}},
			func(f *fixtures.Fixture) {
				d := *f.Declarations
				d.Deletion = append(slices.Clone(d.Deletion), fixtures.DeletionFunction{Name: "admin-reset", Method: "web", Path: "/reset", Erases: []string{"accounts"}})
				f.Declarations = &d
			}},
	}
	var cfgs []sim.UnitConfig
	for _, u := range units {
		cfgs = append(cfgs, u.cfg)
	}
	dir := t.TempDir()
	l, err := sim.Start(t.Context(), sim.Config{Dir: filepath.Join(dir, "units"), TimeScale: scale, Units: cfgs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	path := filepath.Join(dir, "lab", "bench.yaml")
	if err := l.WriteBenchFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := fixtures.LoadBench(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if u.edit != nil {
			f, err := b.Fixture(u.cfg.Name)
			if err != nil {
				t.Fatal(err)
			}
			u.edit(f)
		}
	}
	key, err := results.GenerateKey(results.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := runner.Run(t.Context(), runner.Config{
		Bench: b, Suites: []*suite.Suite{reset.Suite}, Archive: filepath.Join(dir, "archive"), Key: key,
		Software: "test", TimeScale: l.TimeScale(), Leases: &lease.Dir{Path: filepath.Join(dir, "leases")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		i := slices.IndexFunc(outs, func(o runner.Outcome) bool { return o.Fixture == u.cfg.Name })
		if i < 0 || outs[i].Record == nil {
			t.Errorf("%s: no record", u.cfg.Name)
			continue
		}
		for id, w := range u.wants {
			j := slices.IndexFunc(outs[i].Record.Cases, func(c results.Case) bool { return c.ID == id })
			if j < 0 {
				t.Errorf("%s: %s: not in the record", u.cfg.Name, id)
				continue
			}
			c := outs[i].Record.Cases[j]
			if c.Verdict != w.verdict {
				t.Errorf("%s: %s: %s (%s), want %s", u.cfg.Name, id, c.Verdict, c.Reason, w.verdict)
				continue
			}
			for _, word := range w.reason {
				if !strings.Contains(c.Reason, word) {
					t.Errorf("%s: %s: reason %q lacks %q", u.cfg.Name, id, c.Reason, word)
				}
			}
		}
	}
}
