package expect_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites"
	"github.com/certbench/certbench/suites/expect"
	"github.com/certbench/certbench/suites/suite"
)

func TestTableMatchesTheSuitesAndTheLab(t *testing.T) {
	if err := expect.Validate(suites.All()); err != nil {
		t.Fatal(err)
	}
}

// TestValidateRefusesABadTable: a case id no suite has, and a flaw without
// a row, are each named (the table is the one place a flaw's
// expectations are written: a typo there must not go quiet).
func TestValidateRefusesABadTable(t *testing.T) {
	saved := expect.Table
	t.Cleanup(func() { expect.Table = saved })
	expect.Table = slices.Clone(saved)
	expect.Table[0].Fail = []string{"debug-interfaces/no-such-case"}
	expect.Table = expect.Table[:len(expect.Table)-1]
	err := expect.Validate(suites.All())
	if err == nil {
		t.Fatal("a bad table validated")
	}
	for _, want := range []string{`no case "debug-interfaces/no-such-case"`, string(saved[len(saved)-1].Flaw) + " has no row"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestCheck(t *testing.T) {
	st := &suite.Suite{Name: "debug-interfaces", Cases: []*suite.Case{{ID: "uart-shell-needs-auth"}}}
	id := "debug-interfaces/uart-shell-needs-auth"
	for _, tc := range []struct {
		flaws []sim.Flaw
		got   []results.Case
		bad   bool
	}{
		{nil, []results.Case{{ID: id, Verdict: results.Pass}}, false},
		{nil, []results.Case{{ID: id, Verdict: results.NotApplicable}}, false},
		{nil, []results.Case{{ID: id, Verdict: results.Fail}}, true},
		{nil, []results.Case{{ID: id, Verdict: results.Error}}, true},
		{nil, nil, true}, // a case the record lacks
		{[]sim.Flaw{sim.UARTRootShell}, []results.Case{{ID: id, Verdict: results.Fail}}, false},
		{[]sim.Flaw{sim.UARTRootShell}, []results.Case{{ID: id, Verdict: results.Pass}}, true},
		{[]sim.Flaw{sim.UARTRootShell}, []results.Case{{ID: id, Verdict: results.NotApplicable}}, true},
		{[]sim.Flaw{sim.NoLockout}, []results.Case{{ID: id, Verdict: results.Pass}}, false},
		{[]sim.Flaw{sim.NoLockout}, []results.Case{{ID: id, Verdict: results.Fail}}, true},
	} {
		ms := expect.Check(tc.flaws, []*suite.Suite{st}, tc.got)
		if (len(ms) > 0) != tc.bad {
			t.Errorf("flaws %v, cases %+v: mismatches %v, want mismatch %v", tc.flaws, tc.got, ms, tc.bad)
		}
	}
}

func TestUnitsPutEveryFlawOnSomeUnit(t *testing.T) {
	for _, n := range []int{expect.MinUnits, 5, 8, expect.DefaultUnits(), 20} {
		us, err := expect.Units(n)
		if err != nil {
			t.Fatalf("%d units: %v", n, err)
		}
		if len(us) != n || len(us[0].Flaws) != 0 {
			t.Fatalf("%d units: got %d, first %+v: want n units, the first good", n, len(us), us[0])
		}
		var all []sim.Flaw
		for _, u := range us {
			all = append(all, u.Flaws...)
		}
		slices.Sort(all)
		if !slices.Equal(all, sim.Flaws()) {
			t.Errorf("%d units: flaws %v, want each of %v once", n, all, sim.Flaws())
		}
		if n == expect.DefaultUnits() {
			for _, u := range us[1:] {
				if len(u.Flaws) != 1 {
					t.Errorf("default plan: %s has %v, want one flaw", u.Name, u.Flaws)
				}
			}
		}
	}
	if _, err := expect.Units(expect.MinUnits - 1); err == nil || !strings.Contains(err.Error(), "at least") {
		t.Errorf("too few units: %v", err)
	}
}
