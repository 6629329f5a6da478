package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbench/certbench/results"
)

// editRecord turns every FAIL in the run's record.json into PASS and drops
// the failure's reason, as a hand edit would.
func editRecord(t *testing.T, runDir string) {
	t.Helper()
	p := filepath.Join(runDir, results.RecordFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(`"FAIL"`), []byte(`"PASS"`))
	b = bytes.ReplaceAll(b, []byte(`admin/admin accepted`), nil)
	if _, err := results.ParseRecord(b); err != nil {
		t.Fatalf("the edited record must still be a valid record: %v", err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRecordNotSealedNotTrusted: a record that is not the one the archive
// sealed (edited after sealing, its signature deleted, copied in without an
// index line, hidden behind an INCOMPLETE marker) must never read as a
// result, least of all as a PASS; and every format must say that a report
// does not verify signatures.
func TestRecordNotSealedNotTrusted(t *testing.T) {
	a, err := results.OpenArchive(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	failCases := []results.Case{testCase("1", results.Pass, ""), testCase("2", results.Fail, "admin/admin accepted")}
	edited := sealRun(t, a, "cam-1", failCases...)
	unsigned := sealRun(t, a, "cam-2", testCase("1", results.Pass, ""))
	hidden := sealRun(t, a, "cam-3", failCases...)
	stale := sealRun(t, a, "cam-4", failCases...)
	unindexed := sealRun(t, a, "cam-5", testCase("1", results.Pass, ""))
	good := sealRun(t, a, "cam-6", testCase("1", results.Pass, ""))

	// A copy of a good run with no archive around it can be compared with
	// nothing; so can one whose signature is gone, which is not trusted.
	loose := filepath.Join(t.TempDir(), "loose")
	if err := os.CopyFS(loose, os.DirFS(good)); err != nil {
		t.Fatal(err)
	}
	looseUnsigned := filepath.Join(t.TempDir(), "loose-unsigned")
	if err := os.CopyFS(looseUnsigned, os.DirFS(good)); err != nil {
		t.Fatal(err)
	}

	editRecord(t, edited)
	editRecord(t, hidden)
	marker := []byte(`{"run":"x","bench":"lab-1","fixture":"cam-3","opened":"2026-11-24T23:50:00Z","pid":1}` + "\n")
	for _, dir := range []string{hidden, stale} {
		if err := os.WriteFile(filepath.Join(dir, results.IncompleteFile), marker, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{unsigned, looseUnsigned} {
		if err := os.Remove(filepath.Join(dir, results.EnvelopeFile)); err != nil {
			t.Fatal(err)
		}
	}
	dropSealedLine(t, a.Dir(), filepath.Base(unindexed))

	rep := load(t, a.Dir())
	byDir := map[string]*Run{}
	for _, r := range rep.Runs {
		byDir[r.Dir] = r
	}
	for _, tc := range []struct {
		dir    string
		state  State
		notice string
	}{
		{edited, StateTampered, "record.json has SHA-256 "},
		{edited, StateTampered, "the record says verdict PASS, but index.jsonl line 2 sealed verdict FAIL"},
		{unsigned, StateTampered, "its signature record.dsse.json is missing"},
		{hidden, StateTampered, "the record says verdict PASS, but index.jsonl line 6 sealed verdict FAIL"},
		{stale, StateSealed, "its INCOMPLETE marker is stale: index.jsonl line 8 sealed the run"},
		{unindexed, StateTampered, `index.jsonl has no "sealed" line for this run`},
		{good, StateSealed, ""},
	} {
		r := byDir[tc.dir]
		if r == nil {
			t.Fatalf("run %s not reported", tc.dir)
		}
		if r.State != tc.state || (tc.state == StateTampered) != (r.Record == nil) {
			t.Errorf("run %s: state %s, record %v; want %s", r.Fixture, r.State, r.Record != nil, tc.state)
		}
		if all := strings.Join(r.Notices, "\n"); !strings.Contains(all, tc.notice) {
			t.Errorf("run %s: notices lack %q:\n%s", r.Fixture, tc.notice, all)
		}
		if tc.notice == "" && len(r.Notices) > 0 {
			t.Errorf("run %s untouched, yet: %q", r.Fixture, r.Notices)
		}
	}
	if r := byDir[edited]; r.Sealed == nil || r.Sealed.Verdict != results.Fail || headline(r) != "The record of this run is not the one the archive sealed (its index says FAIL): it was changed, and none of its verdicts can be trusted." {
		t.Errorf("the edited run does not say the index sealed FAIL: sealed %+v, headline %q", r.Sealed, headline(r))
	}
	if r := byDir[stale]; r.Verdict() != results.Fail {
		t.Errorf("the sealed FAIL behind a stale marker shows verdict %q", r.Verdict())
	}

	// What a reader sees: the edited run's PASS nowhere, TAMPERED, and that
	// signatures were not checked.
	section := func(page, dir string) string {
		i := strings.Index(page, `id="run-`+filepath.Base(dir)+`"`)
		if i < 0 {
			t.Fatalf("no section for %s", dir)
		}
		return page[i : i+strings.Index(page[i:], "</section>")]
	}
	text := string(renderReport(t, rep, Text))
	page := string(renderReport(t, rep, HTML))
	editedText := text[strings.Index(text, "== "+filepath.Base(edited)):]
	editedText = editedText[:strings.Index(editedText, "\n\n== ")]
	for f, out := range map[Format]string{Text: editedText, HTML: section(page, edited)} {
		if strings.Contains(out, "No security problem found") || strings.Contains(out, "check 2") || !strings.Contains(out, "TAMPERED") {
			t.Errorf("%s report shows the edited run as a result, or not as TAMPERED:\n%s", f, out)
		}
	}
	for f, out := range map[Format]string{Text: text, HTML: page} {
		if !strings.Contains(out, "Signatures are not verified by reports: run ") {
			t.Errorf("%s report does not say signatures were not verified", f)
		}
	}
	if !strings.Contains(text, "6 runs (1 FAIL, 1 PASS, 4 tampered)") {
		t.Errorf("text report's run counts:\n%s", text[:strings.Index(text, "\n")])
	}

	doc := junitOf(t, a.Dir())
	tampered, signatures := 0, 0
	for _, s := range doc.Suites {
		for _, p := range s.Properties {
			if p.Name == "signatures" && strings.HasPrefix(p.Value, "signatures are not verified by reports: run `bench verify ") {
				signatures++
			}
		}
		for _, c := range s.Cases {
			if c.Error != nil && c.Error.Type == "TAMPERED" {
				tampered++
			}
		}
	}
	if tampered != 4 || signatures != len(doc.Suites) {
		t.Errorf("JUnit: %d TAMPERED errors (want 4), %d of %d suites say signatures were not verified", tampered, signatures, len(doc.Suites))
	}
	var sum struct {
		Signatures string `json:"signatures"`
		Runs       []struct {
			Fixture string          `json:"fixture"`
			State   State           `json:"state"`
			Verdict results.Verdict `json:"verdict"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(renderReport(t, rep, JSON), &sum); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sum.Signatures, "signatures are not verified by reports") {
		t.Errorf("JSON signatures field: %q", sum.Signatures)
	}
	for _, r := range sum.Runs {
		if r.Fixture == "cam-1" && (r.State != StateTampered || r.Verdict != "") {
			t.Errorf("JSON: the edited run is %s with verdict %q", r.State, r.Verdict)
		}
	}

	// One run's folder: inside its archive it is compared all the same;
	// alone it cannot be, and says so; alone without a signature it is not
	// trusted.
	for _, tc := range []struct {
		dir    string
		state  State
		notice string
	}{
		{edited, StateTampered, "the record says verdict PASS, but index.jsonl line 2 sealed verdict FAIL"},
		{loose, StateSealed, "this run folder was read without the archive around it, so its record was compared only with the digest its record.dsse.json names"},
		{looseUnsigned, StateTampered, "its signature record.dsse.json is missing"},
	} {
		rep := load(t, tc.dir)
		r := rep.Runs[0]
		if r.State != tc.state || !strings.Contains(strings.Join(r.Notices, "\n"), tc.notice) {
			t.Errorf("run folder %s: state %s, notices %q; want %s and %q", tc.dir, r.State, r.Notices, tc.state, tc.notice)
		}
		if out := string(renderReport(t, rep, Text)); !strings.HasPrefix(out, "Signatures are not verified by reports: run `bench verify "+tc.dir+"`") {
			t.Errorf("text report on %s does not start by saying signatures were not verified:\n%s", tc.dir, out)
		}
	}
}

// TestLooseRunComparedWithItsEnvelope: a run folder read without its
// archive has no index to vouch for its record, but its signature file's
// statement names the record's SHA-256 (what cosign compares, no key
// needed). A copy of a FAIL run edited to PASS must be TAMPERED in every
// format, JUnit above all (CI reads nothing else); a record that neither
// index nor envelope vouches for is UNCHECKED, an error in JUnit, and its
// PASS no verdict.
func TestLooseRunComparedWithItsEnvelope(t *testing.T) {
	a, err := results.OpenArchive(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	sealed := sealRun(t, a, "cam-1", testCase("1", results.Pass, ""), testCase("2", results.Fail, "admin/admin accepted"))
	copyRun := func(name string) string {
		dir := filepath.Join(t.TempDir(), name)
		if err := os.CopyFS(dir, os.DirFS(sealed)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	edited, unvouched, editedUnvouched := copyRun("edited"), copyRun("unvouched"), copyRun("edited-unvouched")
	editRecord(t, edited)
	editRecord(t, editedUnvouched)
	for _, dir := range []string{unvouched, editedUnvouched} {
		// A DSSE envelope whose statement cannot be read: it names no
		// digest for the record.
		if err := os.WriteFile(filepath.Join(dir, results.EnvelopeFile), []byte(`{"payloadType":"text/plain","payload":"","signatures":[]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		dir     string
		state   State
		verdict results.Verdict
		notice  string
	}{
		{edited, StateTampered, "", "but the statement in its signature record.dsse.json names "},
		{unvouched, StateUnchecked, results.Fail, "nothing vouches for this record: this run folder was read without the archive around it, and its signature record.dsse.json holds no statement"},
		{editedUnvouched, StateUnchecked, "", "nothing vouches for this record"},
	} {
		rep := load(t, tc.dir)
		r := rep.Runs[0]
		if r.State != tc.state || r.Verdict() != tc.verdict || !strings.Contains(strings.Join(r.Notices, "\n"), tc.notice) {
			t.Errorf("%s: state %s, verdict %q, notices %q; want %s, %q and %q", filepath.Base(tc.dir), r.State, r.Verdict(), r.Notices, tc.state, tc.verdict, tc.notice)
		}
		doc := junitOf(t, tc.dir)
		if doc.Errors == 0 {
			t.Errorf("%s: JUnit has no error: CI would go green", filepath.Base(tc.dir))
		}
		runErr := ""
		for _, s := range doc.Suites {
			for _, p := range s.Properties {
				if p.Name == "run_state" && p.Value != string(tc.state) {
					t.Errorf("%s: JUnit run_state=%s, want %s", filepath.Base(tc.dir), p.Value, tc.state)
				}
				if p.Name == "run_verdict" && p.Value == string(results.Pass) {
					t.Errorf("%s: JUnit run_verdict=PASS", filepath.Base(tc.dir))
				}
			}
			for _, c := range s.Cases {
				if strings.HasPrefix(c.Name, "run ") && c.Error != nil {
					runErr = c.Error.Type
				}
			}
		}
		if want := strings.ToUpper(string(tc.state)); runErr != want {
			t.Errorf("%s: JUnit run-level error %q, want %q", filepath.Base(tc.dir), runErr, want)
		}
		text := string(renderReport(t, rep, Text))
		if strings.Contains(text, "No security problem found") || !strings.Contains(text, strings.ToUpper(string(tc.state))) {
			t.Errorf("%s: text report:\n%s", filepath.Base(tc.dir), text)
		}
	}
}
