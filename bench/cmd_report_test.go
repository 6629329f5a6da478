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

	code, out, errs := runBin(t, nil, "report", archive)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, errs)
	}
	if i, j := strings.Index(out, "\nFAIL "), strings.Index(out, "\nPASS "); i < 0 || j < 0 || i > j {
		t.Errorf("text report does not list the failure first:\n%s", out)
	}
	if !strings.Contains(out, "1 FAIL, 1 incomplete") || !strings.Contains(out, "admin/admin accepted") ||
		!strings.Contains(out, "Signatures are not verified by reports: run `bench verify "+archive+"`") {
		t.Errorf("text report:\n%s", out)
	}

	xmlPath := filepath.Join(dir, "results.xml")
	if code, _, errs := runBin(t, nil, "report", "--format", "junit", "--out", xmlPath, archive); code != 0 {
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
	if err := xml.Unmarshal(b, &doc); err != nil || doc.Tests != 3 || doc.Failures != 1 || doc.Errors != 1 {
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
	code, out, errs = runBin(t, nil, "report", archive)
	if code != 0 || !strings.Contains(out, ": TAMPERED ==") || strings.Contains(out, "No security problem found") {
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
