package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certbench/certbench/results"
)

// WriteText writes the plain-text summary for a terminal: for an archive a
// table of runs first, then for each run its device, its headline and its
// cases, failures first, with reason and references. Every string from a
// record or a device goes through visible, so a device cannot send escape
// sequences to the reader's terminal.
func WriteText(w io.Writer, rep *Source) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	// First, whether it verifies: a reader who stops at line one must not
	// take a doctored archive for a clean one.
	p("%s.\n", t(rep.Status()))
	for _, pr := range rep.Verification.Problems {
		p("  %s\n", t(pr.String()))
	}
	if c := rep.CheckpointLine(); c != "" {
		p("%s\n", t(c))
	}
	p("\n")
	if rep.Kind == KindArchive {
		tot := totals(rep)
		p("Archive %s: %d runs", rep.Dir, len(rep.Runs))
		if len(rep.Runs) > 0 {
			p(" (%s)", runStates(tot))
		}
		p("\n")
		if n := len(tot.Cases); n > 0 {
			p("Cases: %s\n", countLine(tot.Cases))
		}
		if tot.Unstated > 0 {
			p("%d case(s) recorded PASS or NOT APPLICABLE are not stated: their run was not sealed, or the archive does not verify.\n", tot.Unstated)
		}
		for _, n := range rep.Notices {
			p("! %s\n", t(n))
		}
		if len(rep.Runs) > 0 {
			p("\n")
			tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tFIXTURE\tDEVICE\tSERIAL\tFIRMWARE\tVERDICT\tCASES")
			for _, run := range rep.Runs {
				dev, serial, fw, cases := "-", "-", "-", "-"
				if rec := run.Record; rec != nil {
					dev, serial, fw = orDash(rec.Device.Model), orDash(rec.Device.Serial), orDash(rec.Device.Firmware.Version)
					cases = countLine(statedCounts(run))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t(run.ID), orDash(run.Fixture), dev, serial, fw, bannerWord(run), cases)
			}
			tw.Flush()
		}
	}
	for i, run := range rep.Runs {
		if i > 0 || rep.Kind == KindArchive {
			p("\n")
		}
		writeTextRun(bw, run)
	}
	return bw.Flush()
}

func writeTextRun(bw *bufio.Writer, run *Run) {
	defer run.release()
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	p("== %s: %s ==\n", t(run.ID), bannerWord(run))
	if rec := run.Record; rec != nil {
		d := rec.Device
		p("Device:   %s, serial %s, firmware %s\n", t(d.Model), orDash(d.Serial), orDash(d.Firmware.Version))
		p("Fixture:  %s on bench %s, %s to %s", t(rec.Fixture.Name), t(rec.Bench.Name),
			rec.Started.UTC().Format(time.RFC3339), rec.Finished.UTC().Format(time.RFC3339))
		if !rec.Clock.Synchronized {
			p(" (bench clock not synchronised: these times may be wrong)")
		}
		p("\n")
		if sw := benchSoftware(rec.Bench); sw != "" {
			p("Software: %s\n", t(sw))
		}
	} else if run.Fixture != "" {
		p("Fixture:  %s", t(run.Fixture))
		if run.Bench != "" {
			p(" on bench %s", t(run.Bench))
		}
		p("\n")
	}
	p("%s\n", headline(run))
	if run.Record != nil && run.Record.Reason != "" {
		p("The run ended early: %s\n", t(run.Record.Reason))
	}
	for _, n := range run.AllNotices() {
		p("! %s\n", t(n))
	}
	if run.Record == nil {
		for _, ev := range run.Evidence() {
			p("  evidence %s (%s, %d bytes)\n", t(ev.Path), ev.Kind, ev.Size)
		}
		return
	}
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	for _, c := range casesBySeverity(run.Record.Cases) {
		word := verdictWord(run.CaseVerdict(c))
		if run.CaseVerdict(c) == "" {
			word += " (recorded " + verdictWord(c.Verdict) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", word, t(c.ID), t(c.Title))
		if c.Verdict != results.Pass && c.Reason != "" {
			fmt.Fprintf(tw, "\t\t%s\n", t(c.Reason))
		}
		if c.Verdict == results.Fail {
			fmt.Fprintf(tw, "\t\t%s\n", t(referenceLine(c.References)))
		}
	}
	tw.Flush()
}

// t makes a string from a record or device safe for a terminal.
func t(s string) string { return clean(s, false) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return t(s)
}

// countLine writes counts as "2 FAIL, 5 PASS", in display order.
func countLine(m map[results.Verdict]int) string {
	var parts []string
	for _, v := range displayVerdicts {
		if m[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[v], verdictWord(v)))
		}
	}
	if len(parts) == 0 {
		return "no cases"
	}
	return strings.Join(parts, ", ")
}

// runStates writes the runs' verdicts and states: "2 FAIL, 1 PASS, 1 incomplete".
func runStates(tot Totals) string {
	parts := []string{}
	if c := countLine(tot.Verdicts); c != "no cases" {
		parts = append(parts, c)
	}
	if tot.Unverified > 0 {
		parts = append(parts, fmt.Sprintf("%d unverified", tot.Unverified))
	}
	for _, st := range []State{StateTampered, StateIncomplete, StateUnreadable, StateMissing} {
		if n := tot.States[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	return strings.Join(parts, ", ")
}
