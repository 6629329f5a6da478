package expect

import (
	"fmt"
	"slices"
	"strings"

	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites/suite"
)

// Row is what one flaw calls for.
type Row struct {
	Flaw sim.Flaw
	// Fail lists the cases, as SUITE/ID, that must FAIL on a unit with the
	// flaw. Empty: no case that exists finds the flaw yet.
	Fail []string
	// Pending names the suite to come that is to find the flaw, for the
	// demo's "no case yet" line; "" once Fail lists a case.
	Pending string
}

// Table is the expectation table: one row per flaw of the simulated lab.
// A suite that lands adds its cases to the rows of the flaws they find.
var Table = []Row{
	// The reset cases fail it too: a console shell no login guards leaves
	// no authenticated set-up state for a reset to return to (5.1-1).
	{Flaw: sim.UARTRootShell, Fail: append([]string{"debug-interfaces/uart-shell-needs-auth"}, resetCases...)},
	{Flaw: sim.OpenBootloader, Fail: []string{"debug-interfaces/uart-shell-needs-auth"}},
	{Flaw: sim.DefaultPassword, Pending: "default credentials"},
	{Flaw: sim.MACPassword, Pending: "default credentials"},
	{Flaw: sim.SerialPassword, Pending: "default credentials"},
	{Flaw: sim.NoLockout, Pending: "default credentials (brute force)"},
	{Flaw: sim.PasswordEcho, Pending: "default credentials (passwords shown as typed)"},
	{Flaw: sim.TelnetDefaultAccount, Pending: "network surface"},
	{Flaw: sim.ResetKeepsWiFi, Fail: resetCases},
	{Flaw: sim.ResetKeepsAccounts, Fail: resetCases},
	{Flaw: sim.ResetKeepsLogs, Fail: resetCases},
	{Flaw: sim.ResetKeepsPairing, Fail: resetCases},
	{Flaw: sim.AcceptsUnsigned, Pending: "updates"},
	{Flaw: sim.AcceptsTampered, Pending: "updates"},
	{Flaw: sim.AcceptsOlder, Pending: "updates"},
	{Flaw: sim.NoABFallback, Pending: "updates"},
}

// resetCases are the factory-reset suite's cases that trigger a deletion
// function: the simulated unit declares a console and a button function,
// each erasing every kind of user data, so a reset flaw fails both.
var resetCases = []string{
	"factory-reset/console-reset-erases-user-data",
	"factory-reset/button-reset-erases-user-data",
}

// Lookup returns the flaw's row; ok is false for a flaw the table lacks.
func Lookup(f sim.Flaw) (Row, bool) {
	for _, r := range Table {
		if r.Flaw == f {
			return r, true
		}
	}
	return Row{}, false
}

// Untested reports whether no case finds the flaw yet.
func Untested(f sim.Flaw) bool {
	r, _ := Lookup(f)
	return len(r.Fail) == 0
}

// MustFail reports whether a unit with flaws must get FAIL in the case id
// ("SUITE/ID"); otherwise it must get PASS or NOT_APPLICABLE.
func MustFail(flaws []sim.Flaw, id string) bool {
	for _, f := range flaws {
		if r, _ := Lookup(f); slices.Contains(r.Fail, id) {
			return true
		}
	}
	return false
}

// Want is the verdict word a unit with flaws must get in case id: "FAIL",
// or "PASS" (which NOT_APPLICABLE also meets).
func Want(flaws []sim.Flaw, id string) results.Verdict {
	if MustFail(flaws, id) {
		return results.Fail
	}
	return results.Pass
}

// Meets reports whether got is what a unit with flaws must get in case id.
func Meets(flaws []sim.Flaw, id string, got results.Verdict) bool {
	if MustFail(flaws, id) {
		return got == results.Fail
	}
	return got == results.Pass || got == results.NotApplicable
}

// Mismatch is a case whose verdict is not what the unit's flaws call for.
type Mismatch struct {
	Case   string          // SUITE/ID
	Want   results.Verdict // FAIL, or PASS (PASS or NOT_APPLICABLE)
	Got    results.Verdict // "" when the record has no such case
	Reason string          // the case's reason, as recorded
}

func (m Mismatch) String() string {
	want := string(m.Want)
	if m.Want == results.Pass {
		want = "PASS or NOT_APPLICABLE"
	}
	got := string(m.Got)
	if got == "" {
		got = "no verdict (the record lacks the case)"
	}
	s := fmt.Sprintf("%s: got %s, want %s", m.Case, got, want)
	if m.Reason != "" {
		s += " (" + m.Reason + ")"
	}
	return s
}

// Check compares the cases of a unit's record with what its flaws call
// for in every case of suites: a case missing from the record is a
// mismatch too, so a run that silently skipped a case cannot pass.
func Check(flaws []sim.Flaw, suites []*suite.Suite, got []results.Case) []Mismatch {
	var out []Mismatch
	for _, st := range suites {
		for _, c := range st.Cases {
			id := st.FullID(c)
			i := slices.IndexFunc(got, func(rc results.Case) bool { return rc.ID == id })
			m := Mismatch{Case: id, Want: Want(flaws, id)}
			if i >= 0 {
				m.Got, m.Reason = got[i].Verdict, got[i].Reason
			}
			if i < 0 || !Meets(flaws, id, m.Got) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Validate checks the table against the flaws the lab has and the suites
// that exist: every flaw has exactly one row, and every case a row names
// is a case of suites, so a mistyped or renamed case id cannot leave a
// flaw quietly unexpected. Every problem is returned.
func Validate(suites []*suite.Suite) error {
	var probs []string
	have := map[string]bool{}
	for _, st := range suites {
		for _, c := range st.Cases {
			have[st.FullID(c)] = true
		}
	}
	seen := map[sim.Flaw]bool{}
	for _, r := range Table {
		if _, err := sim.ParseFlaw(string(r.Flaw)); err != nil {
			probs = append(probs, fmt.Sprintf("row %q: %v", r.Flaw, err))
		}
		if seen[r.Flaw] {
			probs = append(probs, fmt.Sprintf("flaw %s has two rows: merge them", r.Flaw))
		}
		seen[r.Flaw] = true
		for _, id := range r.Fail {
			if !have[id] {
				probs = append(probs, fmt.Sprintf("flaw %s: no case %q in the suites (bench suites lists them as SUITE/CASE)", r.Flaw, id))
			}
		}
		if len(r.Fail) == 0 && r.Pending == "" {
			probs = append(probs, fmt.Sprintf("flaw %s: no case finds it and Pending does not say which suite will", r.Flaw))
		}
		if len(r.Fail) > 0 && r.Pending != "" {
			probs = append(probs, fmt.Sprintf("flaw %s: a case finds it, yet Pending still says %q: clear it", r.Flaw, r.Pending))
		}
	}
	for _, f := range sim.Flaws() {
		if !seen[f] {
			probs = append(probs, fmt.Sprintf("flaw %s has no row in expect.Table: add what it calls for", f))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("expectation table: %s", strings.Join(probs, "; "))
	}
	return nil
}
