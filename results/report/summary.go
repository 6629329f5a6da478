package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/certbench/certbench/results"
)

// SummaryFormat names the JSON summary's shape; it changes when a field
// changes meaning. 2: "signatures" gave way to "verified", "status" and
// "verification" (the archive is verified first), and a case's "verdict" is
// the one the report states ("recorded_verdict" is the record's).
const SummaryFormat = "certbench-report/2"

// Summary is the machine-readable summary of a Source (`--format json`).
// It carries verdicts, reasons and references, not evidence: the record and
// its evidence files are the full story.
type Summary struct {
	Format string `json:"format"` // SummaryFormat
	Source string `json:"source"` // the folder reported on
	Kind   string `json:"kind"`   // KindArchive or KindRun
	// Verified is true only when the archive verifies (the same check as
	// `bench verify`) against a key the caller gave: only then is any PASS
	// below a verified result. Status says it in words (Source.Status).
	Verified bool   `json:"verified"`
	Status   string `json:"status"`
	// Verification is results.Verify's report: every problem, the keys,
	// the archive's checkpoint.
	Verification *results.Report `json:"verification"`
	Totals       Totals          `json:"totals"`
	Runs         []RunSummary    `json:"runs"`
	Notices      []string        `json:"notices,omitempty"`
}

// Totals are counts across the report: runs by state, runs by the verdict
// a report states (Run.Verdict), and the cases of every run with a record
// by the verdict a report states (Run.CaseVerdict). A PASS or
// NOT_APPLICABLE that is not stated (a run not sealed, an archive that does
// not verify) is counted in Unstated, never as a pass.
type Totals struct {
	Runs     int                     `json:"runs"`
	States   map[State]int           `json:"states"`
	Verdicts map[results.Verdict]int `json:"verdicts"`
	Cases    map[results.Verdict]int `json:"cases"`
	Unstated int                     `json:"unstated_cases,omitempty"`
	// Unverified counts sealed runs whose verdict is not stated because
	// the archive does not verify (a FAIL is always stated).
	Unverified int `json:"unverified_runs,omitempty"`
}

// RunSummary is one run.
type RunSummary struct {
	RunID string `json:"run_id"`
	State State  `json:"state"`
	Bench string `json:"bench,omitempty"`
	// Software and Revision are the bench program's, as the record says.
	Software string `json:"software,omitempty"`
	Revision string `json:"revision,omitempty"`
	Fixture  string `json:"fixture,omitempty"`
	// Device, Started, Finished and Reason are the record's; empty for a
	// run without a valid record. Verdict is Run.Verdict: empty also for a
	// record that was never sealed, unless it is FAIL.
	Device   *results.Device         `json:"device,omitempty"`
	Started  time.Time               `json:"started,omitzero"`
	Finished time.Time               `json:"finished,omitzero"`
	Clock    *results.Clock          `json:"clock,omitempty"`
	Verdict  results.Verdict         `json:"verdict,omitempty"`
	Reason   string                  `json:"reason,omitempty"`
	Counts   map[results.Verdict]int `json:"counts"`
	Cases    []CaseSummary           `json:"cases"`
	// Notices are about the run and its evidence files.
	Notices []string `json:"notices,omitempty"`
	// EvidenceProblems are those of the notices that are about its
	// evidence files (Run.EvidenceProblems): changed, missing, unreadable,
	// incomplete or malformed. A run with any is not green, whatever its
	// verdict; JUnit gives it an <error> of type EVIDENCE.
	EvidenceProblems []string `json:"evidence_problems,omitempty"`
}

// CaseSummary is one case.
type CaseSummary struct {
	ID    string `json:"id"`
	Suite string `json:"suite"`
	Title string `json:"title"`
	// Verdict is the verdict the report states (Run.CaseVerdict): empty
	// for a PASS or NOT_APPLICABLE of a run not sealed or of an archive
	// that does not verify. Recorded is what the record says.
	Verdict    results.Verdict    `json:"verdict,omitempty"`
	Recorded   results.Verdict    `json:"recorded_verdict"`
	Reason     string             `json:"reason,omitempty"`
	References results.References `json:"references"`
	// DurationNs is how long the case ran, when the record says.
	DurationNs int64 `json:"duration_ns,omitempty"`
	// Evidence are the paths the case points to, relative to its run folder.
	Evidence []string `json:"evidence,omitempty"`
	// Notices are about the evidence it points to.
	Notices []string `json:"notices,omitempty"`
}

// Summarize builds the summary of rep.
func Summarize(rep *Source) *Summary {
	s := &Summary{Format: SummaryFormat, Source: rep.Dir, Kind: rep.Kind, Verified: rep.Verification.OK(), Status: rep.Status(),
		Verification: rep.Verification, Runs: []RunSummary{}, Notices: rep.Notices, Totals: totals(rep)}
	for _, run := range rep.Runs {
		s.Runs = append(s.Runs, summarizeRun(run))
	}
	return s
}

// totals counts from the records alone, without reading evidence.
func totals(rep *Source) Totals {
	t := Totals{Runs: len(rep.Runs), States: map[State]int{}, Verdicts: map[results.Verdict]int{}, Cases: map[results.Verdict]int{}}
	for _, run := range rep.Runs {
		t.States[run.State]++
		if v := run.Verdict(); v != "" && run.State == StateSealed {
			t.Verdicts[v]++
		} else if run.State == StateSealed {
			t.Unverified++
		}
		if run.Record != nil {
			for i := range run.Record.Cases {
				if v := run.CaseVerdict(&run.Record.Cases[i]); v != "" {
					t.Cases[v]++
				} else {
					t.Unstated++
				}
			}
		}
	}
	return t
}

func summarizeRun(run *Run) RunSummary {
	defer run.release()
	rs := RunSummary{RunID: run.ID, State: run.State, Bench: run.Bench, Fixture: run.Fixture,
		Counts: map[results.Verdict]int{}, Cases: []CaseSummary{}, Notices: run.AllNotices(), EvidenceProblems: run.EvidenceProblems()}
	rec := run.Record
	if rec == nil {
		rs.Started = run.Opened
		return rs
	}
	rs.Software, rs.Revision = rec.Bench.Software, rec.Bench.Revision
	dev, clock := rec.Device, rec.Clock
	rs.Device, rs.Clock = &dev, &clock
	rs.Started, rs.Finished, rs.Verdict, rs.Reason = rec.Started, rec.Finished, run.Verdict(), rec.Reason
	for _, c := range casesBySeverity(rec.Cases) {
		cs := CaseSummary{ID: c.ID, Suite: c.Suite, Title: c.Title, Verdict: run.CaseVerdict(c), Recorded: c.Verdict, Reason: c.Reason,
			References: c.References, DurationNs: c.Timing.DurationNs}
		for _, ref := range c.Evidence {
			cs.Evidence = append(cs.Evidence, ref.Path)
			if ev := run.EvidenceFile(ref.Path); ev != nil {
				cs.Notices = append(cs.Notices, ev.Notices...)
			}
		}
		if v := run.CaseVerdict(c); v != "" {
			rs.Counts[v]++
		}
		rs.Cases = append(rs.Cases, cs)
	}
	return rs
}

// WriteJSON writes rep's Summary as indented JSON.
func WriteJSON(w io.Writer, rep *Source) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(true) // the summary may be pasted into a web page
	if err := enc.Encode(Summarize(rep)); err != nil {
		return fmt.Errorf("write JSON summary: %w", err)
	}
	return nil
}

// severity orders verdicts for a reader: what needs action first.
var severity = map[results.Verdict]int{
	results.Fail: 0, results.Error: 1, results.Inconclusive: 2, results.NotRun: 3,
	results.Pass: 4, results.NotApplicable: 5,
}

// displayVerdicts lists verdicts in the order a reader wants them.
var displayVerdicts = []results.Verdict{results.Fail, results.Error, results.Inconclusive,
	results.NotRun, "", results.Pass, results.NotApplicable}

// casesBySeverity returns pointers to cs, failures first, otherwise in the
// record's order.
func casesBySeverity(cs []results.Case) []*results.Case {
	out := make([]*results.Case, len(cs))
	for i := range cs {
		out[i] = &cs[i]
	}
	sort.SliceStable(out, func(i, j int) bool { return severity[out[i].Verdict] < severity[out[j].Verdict] })
	return out
}

// counts returns how many cases have each verdict.
func counts(cs []results.Case) map[results.Verdict]int {
	m := map[results.Verdict]int{}
	for _, c := range cs {
		m[c.Verdict]++
	}
	return m
}

// refGroup is one document's references, named for a reader.
type refGroup struct {
	Doc string   // "EN 303 645"
	IDs []string // as the record has them
}

// referenceGroups lists the non-empty reference lists of r.
func referenceGroups(r results.References) []refGroup {
	var out []refGroup
	add := func(doc string, ids []string) {
		if len(ids) > 0 {
			out = append(out, refGroup{doc, ids})
		}
	}
	add("EN 303 645", r.EN303645)
	add("TS 103 701", r.TS103701)
	add("UK PSTI Sch. 1", r.PSTI)
	add("EN 18031", r.EN18031)
	add("EU CRA Annex I", r.CRA)
	return out
}

// referenceLine writes r on one line: "EN 303 645 5.1-1; TS 103 701 5.1-1-2a".
func referenceLine(r results.References) string {
	var parts []string
	for _, g := range referenceGroups(r) {
		parts = append(parts, g.Doc+" "+strings.Join(g.IDs, ", "))
	}
	return strings.Join(parts, "; ")
}

// benchSoftware is the bench program a record was made with: "certbench
// v1.2.0, revision 0a1b2c3+modified"; "" when the record does not say.
func benchSoftware(b results.Bench) string {
	switch {
	case b.Software != "" && b.Revision != "":
		return "certbench " + b.Software + ", revision " + b.Revision
	case b.Software != "":
		return "certbench " + b.Software
	case b.Revision != "":
		return "certbench revision " + b.Revision
	}
	return ""
}

// statedCounts counts a run's cases by the verdict the report states
// (Run.CaseVerdict); "" counts the PASS and NOT_APPLICABLE not stated.
func statedCounts(run *Run) map[results.Verdict]int {
	m := map[results.Verdict]int{}
	for i := range run.Record.Cases {
		m[run.CaseVerdict(&run.Record.Cases[i])]++
	}
	return m
}

// verdictWord is how a verdict reads in a sentence; "" is a verdict the
// report does not state.
func verdictWord(v results.Verdict) string {
	switch v {
	case "":
		return "NOT STATED"
	case results.NotApplicable:
		return "NOT APPLICABLE"
	case results.NotRun:
		return "NOT RUN"
	}
	return string(v)
}

// sentence is the plain-language line for a case that did not pass, for a
// reader who does not know the standards.
func sentence(c *results.Case) string {
	reason := strings.TrimRight(c.Reason, ". ")
	switch c.Verdict {
	case results.Fail:
		return fmt.Sprintf("The check “%s” found a security problem: %s.", c.Title, reason)
	case results.Error:
		return fmt.Sprintf("The check “%s” could not be completed because of a fault on the test bench, not in the device: %s.", c.Title, reason)
	case results.Inconclusive:
		return fmt.Sprintf("The check “%s” could not reach a decision: %s.", c.Title, reason)
	case results.NotRun:
		if reason == "" {
			return fmt.Sprintf("The check “%s” was not run.", c.Title)
		}
		return fmt.Sprintf("The check “%s” was not run: %s.", c.Title, reason)
	case results.NotApplicable:
		return fmt.Sprintf("The check “%s” does not apply to this product: %s.", c.Title, reason)
	}
	return fmt.Sprintf("The check “%s” passed.", c.Title)
}

// headline is the one-line statement of a run's outcome.
func headline(run *Run) string {
	rec := run.Record
	switch {
	case run.State == StateMissing:
		return "The results of this run are missing from the archive."
	case run.State == StateUnreadable:
		return "The record of this run cannot be read; it has no verdict."
	case run.State == StateTampered && run.Sealed != nil:
		return fmt.Sprintf("The record of this run is not the one the archive sealed (its index says %s): the record, its signature or the index was changed, and none of its verdicts can be trusted.", verdictWord(run.Sealed.Verdict))
	case run.State == StateTampered:
		return "The record of this run cannot be trusted: nothing shows it is the one the bench sealed, so none of its verdicts are shown."
	case run.State == StateSealed && !run.stated && rec.Verdict == results.Fail:
		return fmt.Sprintf("%d of %d checks found a security problem. The archive does not verify (see the top of this report), so nothing else of this run is stated.", counts(rec.Cases)[results.Fail], len(rec.Cases))
	case run.State == StateSealed && !run.stated:
		return fmt.Sprintf("Not verified: the archive does not verify (see the top of this report), so this run's record (verdict %s) is no result, and none of its passes are stated.", verdictWord(rec.Verdict))
	case rec == nil:
		return "This run was cut off before it finished; it has no verdict."
	case run.Verdict() == "":
		return "The run went to its end, but its record was never sealed (crash, power loss or kill): it has no verdict. What its checks recorded is shown unsigned."
	}
	n := len(rec.Cases)
	cs := counts(rec.Cases)
	var s string
	switch rec.Verdict {
	case results.Fail:
		s = fmt.Sprintf("%d of %d checks found a security problem.", cs[results.Fail], n)
	case results.Pass:
		s = fmt.Sprintf("No security problem found: %d of %d checks passed", cs[results.Pass], n)
		if na := cs[results.NotApplicable]; na > 0 {
			s += fmt.Sprintf(", %d did not apply to this product", na)
		}
		s += "."
	case results.NotApplicable:
		s = fmt.Sprintf("None of the %d checks applied to this product: nothing was tested.", n)
	case results.Error:
		s = fmt.Sprintf("Not decided: %d of %d checks hit a fault on the test bench. The device was not at fault, but it was not fully tested.", cs[results.Error], n)
	case results.NotRun:
		s = fmt.Sprintf("Not decided: %d of %d checks were not run.", cs[results.NotRun], n)
	case results.Inconclusive:
		s = fmt.Sprintf("Not decided: %d of %d checks could not reach a decision.", cs[results.Inconclusive], n)
	}
	if run.State == StateIncomplete {
		s += " The run's record was written but never sealed: these results are not signed."
	}
	return s
}

// bannerWord is the big word at the top of a run.
func bannerWord(run *Run) string {
	switch {
	case run.State == StateMissing:
		return "MISSING"
	case run.State == StateUnreadable:
		return "UNREADABLE"
	case run.State == StateTampered:
		return "TAMPERED"
	case run.State == StateSealed && !run.stated && run.Record.Verdict == results.Fail:
		return "FAIL · UNVERIFIED"
	case run.State == StateSealed && !run.stated:
		return "UNVERIFIED"
	case run.Record == nil:
		return "INCOMPLETE"
	case run.State == StateIncomplete && run.Verdict() == results.Fail:
		return "FAIL · INCOMPLETE"
	case run.State == StateIncomplete:
		return "INCOMPLETE"
	}
	return verdictWord(run.Record.Verdict)
}

// sentenceCase starts s with a capital letter, for a notice shown on its
// own; notices start in lower case so they can follow a colon. A notice
// that starts with a file name keeps it as it is spelt.
func sentenceCase(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	first, _, _ := strings.Cut(s, " ")
	if n == 0 || !unicode.IsLower(r) || strings.ContainsAny(first, "./") {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
