package report

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbench/certbench/results"
)

// sealRun begins a run on fixture in a, seals it with cases and returns its
// folder.
func sealRun(t *testing.T, a *results.Archive, fixture string, cases ...results.Case) string {
	t.Helper()
	run, err := a.Begin(results.Meta{Bench: "lab-1", Fixture: fixture})
	if err != nil {
		t.Fatal(err)
	}
	ep := run.Epoch().UTC()
	rec := &results.Record{
		Device:       results.Device{Model: "ACME Cam 2", Serial: "AC2-" + fixture, Firmware: results.Firmware{Version: "2.1.0"}},
		Declarations: results.Declarations{Name: "acme.yaml", SHA256: strings.Repeat("ef", 32)},
		Cases:        cases, Started: ep, Finished: ep,
	}
	if err := run.Seal(rec, key(t)); err != nil {
		t.Fatal(err)
	}
	return run.Dir()
}

func testCase(id string, v results.Verdict, reason string) results.Case {
	return results.Case{ID: "c/" + id, Suite: "c", Title: "check " + id, Verdict: v, Reason: reason,
		References: results.References{EN303645: []string{"5.1-1"}}}
}

type junitDoc struct {
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	Suites   []struct {
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Type string `xml:"type,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Body    string `xml:",chardata"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func junitOf(t *testing.T, dir string) junitDoc {
	t.Helper()
	var doc junitDoc
	if err := xml.Unmarshal(renderReport(t, load(t, dir), JUnit), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestJUnitRunNotDecided: a sealed run that `bench run` ends with exit 3
// (ERROR, NOT_RUN, INCONCLUSIVE) must fail a CI job even when its only
// undecided cases are NOT_RUN, which JUnit can only call skipped; a run
// whose ERROR or INCONCLUSIVE case is already an <error> is counted once,
// not again by a run-level testcase; a run that is all NOT_APPLICABLE
// exits 0 and stays green.
func TestJUnitRunNotDecided(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cases  []results.Case
		want   results.Verdict // the run-level error's type; "" for none
		errors int             // JUnit's count
	}{
		{"not run", []results.Case{testCase("1", results.Pass, ""), testCase("2", results.NotRun, "run cancelled")}, results.NotRun, 1},
		{"inconclusive", []results.Case{testCase("1", results.Pass, ""), testCase("2", results.Inconclusive, "no older image")}, "", 1},
		{"error", []results.Case{testCase("1", results.Error, "console lost")}, "", 1},
		{"error and not run", []results.Case{testCase("1", results.Error, "console lost"), testCase("2", results.NotRun, "")}, "", 1},
		{"fail and not run", []results.Case{testCase("1", results.Fail, "admin/admin accepted"), testCase("2", results.NotRun, "")}, "", 0},
		{"no cases", nil, results.NotRun, 1},
		{"not applicable", []results.Case{testCase("1", results.NotApplicable, "no UART")}, "", 0},
		{"pass", []results.Case{testCase("1", results.Pass, ""), testCase("2", results.NotApplicable, "no UART")}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := results.OpenArchive(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			sealRun(t, a, "cam-1", tc.cases...)
			doc := junitOf(t, a.Dir())
			var runErr string
			for _, s := range doc.Suites {
				for _, c := range s.Cases {
					if strings.HasPrefix(c.Name, "run ") && c.Error != nil {
						runErr = c.Error.Type
						if !strings.Contains(c.Error.Message, "did not complete (bench run exits 3)") {
							t.Errorf("run error message %q does not say the run did not complete and bench run exits 3", c.Error.Message)
						}
						if tc.want == results.NotRun && len(tc.cases) > 0 && !strings.Contains(c.Error.Body, "c/2 The check “check 2” was not run: run cancelled.") {
							t.Errorf("run error body does not name the case not run:\n%s", c.Error.Body)
						}
					}
				}
			}
			if runErr != string(tc.want) {
				t.Errorf("run-level error type %q, want %q", runErr, tc.want)
			}
			if doc.Errors != tc.errors {
				t.Errorf("JUnit counts %d errors, want %d", doc.Errors, tc.errors)
			}
			if doc.Errors+doc.Failures == 0 && results.RunVerdict(tc.cases) != results.Pass && results.RunVerdict(tc.cases) != results.NotApplicable {
				t.Errorf("a run with verdict %s shows no JUnit error or failure: CI would go green", results.RunVerdict(tc.cases))
			}
		})
	}
}

// unsealedRun leaves in a a run whose record was written but never sealed,
// as a crash between writing record.json and the index's "sealed" line
// does: its INCOMPLETE marker, its record, no sealed line. The record is
// one sealed elsewhere with the run's ID put in.
func unsealedRun(t *testing.T, a *results.Archive, fixture string, cases ...results.Case) string {
	t.Helper()
	scratch, err := results.OpenArchive(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	donor := sealRun(t, scratch, fixture, cases...)
	run, err := a.Begin(results.Meta{Bench: "lab-1", Fixture: fixture})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(donor, results.RecordFile))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(filepath.Base(donor)), []byte(run.ID()))
	if err := os.WriteFile(filepath.Join(run.Dir(), results.RecordFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return run.Dir()
}

// TestUnsealedPassIsNoVerdict: a record written but never sealed is not a
// result. Its PASS must not show anywhere (banner, headline, JSON verdict,
// JUnit property); its FAIL must (a problem found stays found).
func TestUnsealedPassIsNoVerdict(t *testing.T) {
	a, err := results.OpenArchive(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	passDir := unsealedRun(t, a, "cam-1", testCase("1", results.Pass, ""))
	failDir := unsealedRun(t, a, "cam-2", testCase("1", results.Pass, ""), testCase("2", results.Fail, "admin/admin accepted"))

	rep := load(t, a.Dir())
	words := map[string]string{}
	for _, run := range rep.Runs {
		if run.State != StateIncomplete || run.Record == nil {
			t.Fatalf("run %s: state %s, record %v; want incomplete with its record", run.ID, run.State, run.Record != nil)
		}
		words[run.Dir] = bannerWord(run)
	}
	if words[passDir] != "INCOMPLETE" || words[failDir] != "FAIL · INCOMPLETE" {
		t.Errorf("banners: pass run %q, fail run %q; want INCOMPLETE and FAIL · INCOMPLETE", words[passDir], words[failDir])
	}
	for _, f := range []Format{Text, HTML} {
		out := string(renderReport(t, rep, f))
		for _, bad := range []string{"PASS · INCOMPLETE", "No security problem found"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s report says %q of a run never sealed", f, bad)
			}
		}
		if !strings.Contains(out, "never sealed") || !strings.Contains(out, "FAIL · INCOMPLETE") {
			t.Errorf("%s report does not say the runs were never sealed, or lost the unsealed FAIL:\n%s", f, out)
		}
	}
	verdicts := map[string]results.Verdict{}
	for _, rs := range Summarize(rep).Runs {
		verdicts[rs.Fixture] = rs.Verdict
	}
	if verdicts["cam-1"] != "" || verdicts["cam-2"] != results.Fail {
		t.Errorf("JSON run verdicts %v; want none for the unsealed PASS, FAIL for the unsealed FAIL", verdicts)
	}
	doc := junitOf(t, a.Dir())
	for _, s := range doc.Suites {
		for _, p := range s.Properties {
			if p.Name == "run_verdict" && p.Value != string(results.Fail) {
				t.Errorf("JUnit property run_verdict=%s for a run never sealed", p.Value)
			}
		}
	}
}

// TestJUnitCountsMixedArchive: five runs, one each PASS, FAIL, ERROR,
// NOT_RUN and INCONCLUSIVE, each beside a passing case. Every case is one
// testcase and each run that is not green is counted once: the FAIL a
// failure, the ERROR and INCONCLUSIVE cases an error each, and the NOT_RUN
// run (its case only skipped) one run-level error.
func TestJUnitCountsMixedArchive(t *testing.T) {
	a, err := results.OpenArchive(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ok := testCase("1", results.Pass, "")
	sealRun(t, a, "cam-1", ok)
	sealRun(t, a, "cam-2", ok, testCase("2", results.Fail, "admin/admin accepted"))
	sealRun(t, a, "cam-3", ok, testCase("2", results.Error, "console lost"))
	sealRun(t, a, "cam-4", ok, testCase("2", results.NotRun, ""))
	sealRun(t, a, "cam-5", ok, testCase("2", results.Inconclusive, "no older image"))
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int
		Suites   []struct {
			Skipped int `xml:"skipped,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(renderReport(t, load(t, a.Dir()), JUnit), &doc); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.Suites {
		doc.Skipped += s.Skipped // Jenkins' schema has no skipped on testsuites
	}
	if doc.Tests != 9+1 || doc.Failures != 1 || doc.Errors != 3 || doc.Skipped != 1 {
		t.Errorf("JUnit counts %+v; want 10 tests, 1 failure, 3 errors, 1 skipped", doc)
	}
}
