package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbench/certbench/results"
)

// TestJUnitEvidenceProblem: a sealed PASS run whose evidence is not as
// recorded (one byte of its transcript changed, or the file gone) is a run
// `bench verify` fails: JUnit must carry an <error> of type EVIDENCE with
// the notice, and the JSON summary the notice in evidence_problems. So must
// a run whose evidence the bench marked incomplete (sealing insists such a
// run has an ERROR case; the EVIDENCE error says which file). A run with its
// evidence intact has neither.
func TestJUnitEvidenceProblem(t *testing.T) {
	line := `{"mono_ns":1000,"wall":"2026-11-24T23:50:01Z","dir":"rx","text":"login: "}` + "\n"
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, run *results.Run)
		notice string // "" for a run with its evidence intact
		errors int    // JUnit's count (the archive's verification error, when changed evidence keeps it from verifying, is one)
	}{
		{"intact", func(*testing.T, *results.Run) {}, "", 0},
		{"changed", func(t *testing.T, run *results.Run) {
			p := filepath.Join(run.Dir(), "evidence", "console-cam-1.jsonl")
			if err := os.WriteFile(p, []byte(strings.Replace(line, "login", "logon", 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "evidence/console-cam-1.jsonl changed after the run (console-transcript evidence SHA-256 ", 2},
		{"missing", func(t *testing.T, run *results.Run) {
			if err := os.Remove(filepath.Join(run.Dir(), "evidence", "console-cam-1.jsonl")); err != nil {
				t.Fatal(err)
			}
		}, "evidence/console-cam-1.jsonl cannot be read", 2},
		{"incomplete", nil, "evidence/console-cam-1.jsonl is incomplete: serial port lost", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := results.OpenArchive(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			run, err := a.Begin(results.Meta{Bench: "lab-1", Fixture: "cam-1"})
			if err != nil {
				t.Fatal(err)
			}
			if err := run.AddEvidence("console-cam-1.jsonl", results.KindTranscript, []byte(line)); err != nil {
				t.Fatal(err)
			}
			if tc.damage == nil {
				if err := run.MarkIncomplete("console-cam-1.jsonl", "serial port lost"); err != nil {
					t.Fatal(err)
				}
			}
			cases := []results.Case{testCase("1", results.Pass, "")}
			if tc.damage == nil {
				cases = append(cases, testCase("2", results.Error, "console lost"))
			}
			ep := run.Epoch().UTC()
			rec := &results.Record{
				Device:       results.Device{Model: "ACME Cam 2", Serial: "AC2-1", Firmware: results.Firmware{Version: "2.1.0"}},
				Declarations: results.Declarations{Name: "acme.yaml", SHA256: strings.Repeat("ef", 32)},
				Cases:        cases, Started: ep, Finished: ep,
			}
			if err := run.Seal(rec, key(t)); err != nil {
				t.Fatal(err)
			}
			if tc.damage != nil {
				tc.damage(t, run)
			}

			doc := junitOf(t, a.Dir())
			var evErr []string
			for _, s := range doc.Suites {
				for _, c := range s.Cases {
					if c.Error != nil && c.Error.Type == "EVIDENCE" {
						evErr = append(evErr, c.Error.Body)
					}
				}
			}
			switch {
			case doc.Errors != tc.errors:
				t.Errorf("JUnit: %d errors, want %d; EVIDENCE bodies %q", doc.Errors, tc.errors, evErr)
			case tc.notice == "" && len(evErr) > 0:
				t.Errorf("intact run has EVIDENCE errors %q", evErr)
			case tc.notice != "" && (len(evErr) != 1 || !strings.Contains(evErr[0], tc.notice)):
				t.Errorf("JUnit EVIDENCE bodies %q; want one carrying %q", evErr, tc.notice)
			}

			var sum struct {
				Runs []struct {
					EvidenceProblems []string `json:"evidence_problems"`
				} `json:"runs"`
			}
			if err := json.Unmarshal(renderReport(t, load(t, a.Dir()), JSON), &sum); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(sum.Runs[0].EvidenceProblems, "\n")
			if (tc.notice == "") != (got == "") || !strings.Contains(got, tc.notice) {
				t.Errorf("JSON evidence_problems %q; want %q", got, tc.notice)
			}
		})
	}
}
