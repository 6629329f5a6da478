package expect_test

import (
	"crypto"
	"path/filepath"
	"testing"

	"github.com/certbench/certbench/bench/lease"
	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites"
	"github.com/certbench/certbench/suites/expect"
)

// scale runs the lab fast but leaves a 3 s autoboot window 150 ms wide,
// room for the one key the debug case types on a loaded machine.
const scale = 0.05

// TestMatrix runs every suite that exists on a lab with a good unit and one
// unit per flaw, through the runner `bench run` uses, and checks every
// case of every unit against the expectation table: each subtest is one
// unit and one case.
func TestMatrix(t *testing.T) {
	if err := expect.Validate(suites.All()); err != nil {
		t.Fatal(err)
	}
	units, err := expect.Units(expect.DefaultUnits())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := sim.Start(t.Context(), sim.Config{Dir: filepath.Join(dir, "units"), TimeScale: scale, Units: units})
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
	key, err := results.GenerateKey(results.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	all := suites.All()
	outs, err := runner.Run(t.Context(), runner.Config{
		Bench: b, Suites: all, Archive: filepath.Join(dir, "archive"), Key: key,
		Software: "test", TimeScale: l.TimeScale(), Leases: &lease.Dir{Path: filepath.Join(dir, "leases")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(units) {
		t.Fatalf("%d outcomes for %d units", len(outs), len(units))
	}
	for _, o := range outs {
		u := l.Unit(o.Fixture)
		if o.Err != nil || o.Record == nil {
			t.Errorf("%s: no record: %v", o.Fixture, o.Err)
			continue
		}
		for _, st := range all {
			for _, c := range st.Cases {
				id := st.FullID(c)
				t.Run(o.Fixture+"/"+id, func(t *testing.T) {
					for _, m := range expect.Check(u.Flaws(), all, o.Record.Cases) {
						if m.Case == id {
							t.Errorf("unit with flaws %v: %s", u.Flaws(), m)
						}
					}
				})
			}
		}
	}
	vr, err := results.Verify(filepath.Join(dir, "archive"), results.VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
	if err != nil || !vr.OK() {
		t.Fatalf("the archive does not verify: %v %+v", err, vr)
	}
}
