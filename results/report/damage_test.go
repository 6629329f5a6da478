package report

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbench/certbench/results"
)

// TestDamagedArchive: a missing evidence file, a garbled transcript, an
// unreadable record and a run folder gone must each show as a notice in
// place, in every format, with everything else still reported.
func TestDamagedArchive(t *testing.T) {
	l := newLab(t)
	ev := func(name string) string { return filepath.Join(l.failRunDir, "evidence", name) }
	if err := os.Remove(ev("power-cam-1.jsonl")); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(ev("console-cam-1.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not json at all\n{\"mono_ns\":1,\"dir\":\"sideways\"}\n")
	f.Close()
	if err := os.WriteFile(filepath.Join(l.passRunDir, results.RecordFile), []byte("{\"schema_version\":1,"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(l.crashRunDir); err != nil {
		t.Fatal(err)
	}

	rep := load(t, l.dir)
	states := map[string]State{}
	for _, r := range rep.Runs {
		states[r.ID] = r.State
	}
	if states[l.failRun] != StateSealed || states[l.passRun] != StateUnreadable || states[l.crashRun] != StateMissing {
		t.Fatalf("states: %v", states)
	}
	fail := rep.Runs[0]
	if fail.ID != l.failRun {
		t.Fatalf("runs out of order: %s first", fail.ID)
	}
	con := fail.EvidenceFile("evidence/console-cam-1.jsonl")
	if len(con.Transcript) != 16 {
		t.Errorf("the garbled transcript's good lines: %d, want 16", len(con.Transcript))
	}
	wantNotices := []string{
		"evidence/power-cam-1.jsonl cannot be read",
		"evidence/console-cam-1.jsonl changed after the run (console-transcript evidence is ",
		"2 of 18 lines are malformed and not shown (line 17: invalid character 'o' in literal null (expecting 'u'); line 18: dir \"sideways\" is not rx, tx or event)",
		"record.json is not a valid record",
		"its folder runs/" + l.crashRun + " is gone",
	}
	for f, out := range map[Format]string{
		Text:  string(renderReport(t, rep, Text)),
		HTML:  string(renderReport(t, rep, HTML)),
		JUnit: string(renderReport(t, rep, JUnit)),
		JSON:  string(renderReport(t, rep, JSON)),
	} {
		if f == HTML {
			out = strings.ReplaceAll(out, "&#34;", `"`)
			out = strings.ReplaceAll(out, "&#39;", `'`)
		}
		if f == JSON {
			continue // checked below: it carries the run notices, not all evidence notices
		}
		for _, n := range wantNotices {
			if !strings.Contains(out, n) {
				t.Errorf("%s report lacks the notice %q", f, n)
			}
		}
		// The rest is still reported.
		if !strings.Contains(out, "xc3511") && f == HTML {
			t.Errorf("%s report lost the failure's excerpt", f)
		}
		if !strings.Contains(out, "No default password on the UART login") {
			t.Errorf("%s report lost the failing case", f)
		}
	}

	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Cases []struct {
				Name  string `xml:"name,attr"`
				Error *struct {
					Type string `xml:"type,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(renderReport(t, rep, JUnit), &doc); err != nil {
		t.Fatal(err)
	}
	// 6 cases of the fail run, one error for its damaged evidence, one
	// error for each lost run, and one because the archive does not verify.
	if doc.Tests != 10 || doc.Failures != 1 || doc.Errors != 2+1+2+1 {
		t.Errorf("JUnit totals: %+v", doc)
	}
	types := map[string]bool{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Error != nil {
				types[c.Error.Type] = true
			}
		}
	}
	if !types["UNREADABLE"] || !types["MISSING"] || !types["EVIDENCE"] {
		t.Errorf("JUnit error types: %v, want UNREADABLE, MISSING and EVIDENCE among them", types)
	}
	s := Summarize(rep)
	if s.Totals.States[StateUnreadable] != 1 || s.Totals.States[StateMissing] != 1 || s.Totals.Verdicts[results.Pass] != 0 {
		t.Errorf("summary totals: %+v", s.Totals)
	}
}

// TestSealingCutOff: a crash after record.json was written and before the
// index's "sealed" line leaves a record that was never sealed, with its
// INCOMPLETE marker. Its failure must still show, marked incomplete; a
// crash before any record shows what the console said last.
func TestSealingCutOff(t *testing.T) {
	l := newLab(t)
	marker := []byte(`{"run":"x","bench":"lab-bench-1","fixture":"cam-1","opened":"2026-11-24T23:50:00Z","pid":1}` + "\n")
	if err := os.WriteFile(filepath.Join(l.failRunDir, results.IncompleteFile), marker, 0o644); err != nil {
		t.Fatal(err)
	}
	dropSealedLine(t, l.dir, l.failRun) // (the report does not check the index's chain)
	rep := load(t, l.dir)
	run := rep.Runs[0]
	if run.ID != l.failRun || run.State != StateIncomplete || run.Record == nil || bannerWord(run) != "FAIL · INCOMPLETE" {
		t.Fatalf("run %s: state %s, record %v, banner %q", run.ID, run.State, run.Record != nil, bannerWord(run))
	}
	if !strings.Contains(headline(run), "not signed") {
		t.Errorf("headline does not say the record is unsigned: %q", headline(run))
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Cases []struct {
				Name  string `xml:"name,attr"`
				Error *struct {
					Type string `xml:"type,attr"`
					Body string `xml:",chardata"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(renderReport(t, rep, JUnit), &doc); err != nil {
		t.Fatal(err)
	}
	// The fail run's FAIL, ERROR and INCONCLUSIVE, its incompleteness, and
	// the crashed run (cam-3); and since the sealed line was removed by
	// hand (a real crash leaves none to remove), the archive does not
	// verify (one error) and the run after it has lines that moved
	// (tampered, one error).
	if doc.Failures != 1 || doc.Errors != 2+1+1+1+1 {
		t.Errorf("JUnit: %d failures, %d errors; want 1 and 6: %+v", doc.Failures, doc.Errors, doc.Suites)
	}
	var crashBody string
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Name == "run "+l.crashRun+": incomplete" {
				crashBody = c.Error.Body
			}
		}
	}
	if !strings.Contains(crashBody, "U-Boot 2024.01") || !strings.Contains(crashBody, "GPIO22 on (Low)") {
		t.Errorf("the crashed run's error does not show what the console and power said last:\n%s", crashBody)
	}
	page := string(renderReport(t, rep, HTML))
	crash := page[strings.Index(page, `id="run-`+l.crashRun+`"`):]
	if !strings.Contains(crash, "U-Boot 2024.01") || !strings.Contains(crash, "the last 20 lines written") {
		t.Error("the crashed run's section does not show its last console lines")
	}
	if !strings.Contains(page, "FAIL · INCOMPLETE") {
		t.Error("the HTML does not mark the unsealed failing run")
	}
}

// TestIncompleteEvidenceShown: evidence the bench could not write in full is
// sealed with a reason; every report that shows evidence must say so.
func TestIncompleteEvidenceShown(t *testing.T) {
	dir := t.TempDir()
	a, err := results.OpenArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Begin(results.Meta{Bench: "lab-1", Fixture: "cam-1"})
	if err != nil {
		t.Fatal(err)
	}
	line := `{"mono_ns":1,"wall":"2026-11-24T23:50:01.000000001Z","dir":"rx","text":"login: "}` + "\n"
	if err := run.AddEvidence("console-cam-1.jsonl", results.KindTranscript, []byte(line)); err != nil {
		t.Fatal(err)
	}
	if err := run.MarkIncomplete("console-cam-1.jsonl", "disk full after 1 line"); err != nil {
		t.Fatal(err)
	}
	rec := &results.Record{
		Device:       results.Device{Model: "ACME Cam 2", Serial: "AC2-1"},
		Declarations: results.Declarations{Name: "acme.yaml", SHA256: strings.Repeat("ab", 32)},
		Cases: []results.Case{{ID: "c/1", Suite: "c", Title: "one", Verdict: results.Error,
			Reason: "transcript could not be written", References: results.References{EN303645: []string{"5.1-1"}}}},
	}
	if err := run.Seal(rec, key(t)); err != nil {
		t.Fatal(err)
	}
	rep := load(t, dir)
	want := "evidence/console-cam-1.jsonl is incomplete: disk full after 1 line"
	for _, f := range []Format{Text, HTML} {
		if out := string(renderReport(t, rep, f)); !strings.Contains(out, want) {
			t.Errorf("%s report does not say the transcript is incomplete", f)
		}
	}
}

// dropSealedLine removes run's "sealed" line from the archive's index.
func dropSealedLine(t *testing.T, archive, run string) {
	t.Helper()
	p := filepath.Join(archive, results.IndexFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.Contains(line, `"run":"`+run+`"`) || !strings.Contains(line, `"state":"sealed"`) {
			kept = append(kept, line)
		}
	}
	if len(kept) != strings.Count(string(b), "\n") {
		t.Fatalf("%s has no sealed line for %s:\n%s", p, run, b)
	}
	if err := os.WriteFile(p, []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}
