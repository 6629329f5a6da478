package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbench/certbench/results"
)

// TestReportThroughTheBinary writes an archive with a failing run and a run
// cut off by a crash, and reads it back through `bench report` in each
// format, to stdout and to a file.
func TestReportThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	key, err := results.GenerateKey(results.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "archive")
	run := sealRun(t, archive, key, "cam-1", "<script>alert(1)</script>\r\nlogin: ", results.Case{
		ID: "demo/ok", Suite: "demo", Title: "passes", Verdict: results.Pass,
		References: results.References{EN303645: []string{"5.1-1"}},
	}, results.Case{
		ID: "demo/bad", Suite: "demo", Title: "default password", Verdict: results.Fail, Reason: "admin/admin accepted",
		References: results.References{EN303645: []string{"5.1-1"}, PSTI: []string{"1(2)"}},
		Evidence:   []results.EvidenceRef{{Path: "evidence/console-cam-1.jsonl"}},
	})
	a, err := results.OpenArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Begin(results.Meta{Bench: "test-bench", Fixture: "cam-2"}); err != nil { // never sealed
		t.Fatal(err)
	}

	pubPath := filepath.Join(dir, "bench.pub")
	pem, _ := results.MarshalPublicKey(key.Public())
	os.WriteFile(pubPath, pem, 0o644)
	code, out, errs := runBin(t, nil, "report", archive)
	if code != 0 || !strings.HasPrefix(out, "NOT VERIFIED: no trusted key was given") {
		t.Fatalf("report without a key: exit %d: %s\n%s", code, errs, out)
	}
	code, out, errs = runBin(t, nil, "report", "--key", pubPath, archive)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, errs)
	}
	if i, j := strings.Index(out, "\nFAIL "), strings.Index(out, "\nPASS "); i < 0 || j < 0 || i > j {
		t.Errorf("text report does not list the failure first:\n%s", out)
	}
	if !strings.Contains(out, "1 FAIL, 1 incomplete") || !strings.Contains(out, "admin/admin accepted") ||
		!strings.HasPrefix(out, "Verified: every signature") || !strings.Contains(out, "Checkpoint: certbench/test-bench/") {
		t.Errorf("text report:\n%s", out)
	}

	xmlPath := filepath.Join(dir, "results.xml")
	if code, _, errs := runBin(t, nil, "report", "--key", pubPath, "--format", "junit", "--out", xmlPath, archive); code != 0 {
		t.Fatalf("report --format junit: exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 1 { // the FAIL, the incomplete run
		t.Errorf("JUnit file: %v, %+v\n%s", err, doc, b)
	}

	htmlPath := filepath.Join(dir, "report.html")
	if code, _, errs := runBin(t, nil, "report", "--format", "html", "--out", htmlPath, run.Dir()); code != 0 {
		t.Fatalf("report --format html: exit %d: %s", code, errs)
	}
	if b, _ := os.ReadFile(htmlPath); !strings.Contains(string(b), "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(string(b), "<script>") {
		t.Error("the HTML report does not show the transcript's <script> as text")
	}

	// The failure edited into a PASS by hand: the report must not show it
	// as a result.
	recPath := filepath.Join(run.Dir(), results.RecordFile)
	recJSON, err := os.ReadFile(recPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recPath, []byte(strings.ReplaceAll(string(recJSON), `"FAIL"`, `"PASS"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runBin(t, nil, "report", "--key", pubPath, archive)
	if code != 0 || !strings.HasPrefix(out, "DOES NOT VERIFY: ") || !strings.Contains(out, ": TAMPERED ==") || strings.Contains(out, "No security problem found") {
		t.Errorf("report on an edited record: exit %d (%s):\n%s", code, errs, out)
	}

	for _, args := range [][]string{
		{"report", "--format", "pdf", archive},
		{"report", dir}, // holds no results
		{"report", "--out", filepath.Join(dir, "no-such-folder", "r.txt"), archive},
	} {
		if code, _, errs := runBin(t, nil, args...); code != exitUsage || errs == "" {
			t.Errorf("%v: exit %d (%q), want %d with a message", args, code, errs, exitUsage)
		}
	}
}

// reportJUnit runs `bench report -o junit --out FILE dir` and returns the
// file's counts, its run_state properties and the types of its errors.
func reportJUnit(t *testing.T, dir string) (errors, failures int, states, errTypes []string) {
	t.Helper()
	xmlPath := filepath.Join(t.TempDir(), "f.xml")
	if code, _, errs := runBin(t, nil, "report", "-o", "junit", "--out", xmlPath, dir); code != 0 {
		t.Fatalf("report -o junit %s: exit %d: %s", dir, code, errs)
	}
	b, err := os.ReadFile(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Error *struct {
					Type string `xml:"type,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JUnit file: %v\n%s", err, b)
	}
	for _, s := range doc.Suites {
		for _, p := range s.Properties {
			if p.Name == "run_state" {
				states = append(states, p.Value)
			}
		}
		for _, c := range s.Cases {
			if c.Error != nil {
				errTypes = append(errTypes, c.Error.Type)
			}
		}
	}
	return doc.Errors, doc.Failures, states, errTypes
}

// copyRunOut copies a run's folder out of its archive, as a lab mails one
// run to a retailer.
func copyRunOut(t *testing.T, run *results.Run) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), filepath.Base(run.Dir()))
	if err := os.CopyFS(dir, os.DirFS(run.Dir())); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReportJUnitLooseEditedRun: a FAIL run's folder copied out of its
// archive and edited to PASS is reported without an index to compare
// with; its signature file's statement still names the record's real
// digest, so JUnit must fail CI with TAMPERED, not read sealed and green.
func TestReportJUnitLooseEditedRun(t *testing.T) {
	key, err := results.GenerateKey(results.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	run := sealRun(t, filepath.Join(t.TempDir(), "archive"), key, "cam-1", "login: ",
		results.Case{ID: "demo/ok", Suite: "demo", Title: "passes", Verdict: results.Pass, References: results.References{EN303645: []string{"5.1-1"}}},
		results.Case{ID: "demo/bad", Suite: "demo", Title: "default password", Verdict: results.Fail, Reason: "admin/admin accepted",
			References: results.References{EN303645: []string{"5.1-1"}}})
	loose := copyRunOut(t, run)
	recPath := filepath.Join(loose, results.RecordFile)
	b, err := os.ReadFile(recPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(recPath, []byte(strings.ReplaceAll(string(b), `"FAIL"`, `"PASS"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	errs, _, states, types := reportJUnit(t, loose)
	if errs == 0 || strings.Join(types, ",") != "VERIFY,TAMPERED" || strings.Join(states, ",") != "tampered" {
		t.Errorf("JUnit on an edited run folder: %d errors of types %v, run_state %v; want VERIFY then TAMPERED", errs, types, states)
	}
}

// TestReportJUnitChangedEvidence: one byte of a sealed PASS run's
// transcript changed makes `bench verify` exit 1; `bench report -o junit`
// must not be green on it.
func TestReportJUnitChangedEvidence(t *testing.T) {
	key, err := results.GenerateKey(results.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "archive")
	run := sealRun(t, archive, key, "cam-1", "login: ",
		results.Case{ID: "demo/ok", Suite: "demo", Title: "passes", Verdict: results.Pass, References: results.References{EN303645: []string{"5.1-1"}}})
	p := filepath.Join(run.Dir(), "evidence", "console-cam-1.jsonl")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x01 // inside "login: "
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runBin(t, nil, "verify", archive); code != 1 {
		t.Fatalf("bench verify on changed evidence: exit %d, want 1", code)
	}
	if errs, _, _, types := reportJUnit(t, archive); errs != 2 || strings.Join(types, ",") != "VERIFY,EVIDENCE" {
		t.Errorf("JUnit on changed evidence: %d errors of types %v; want VERIFY then EVIDENCE", errs, types)
	}
}
