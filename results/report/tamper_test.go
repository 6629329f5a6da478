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
	good := sealRun(t, a, "cam-6", testCase("1", results.Pass, ""))
	// Sealed last: removing its sealed line moves no other run's lines.
	unindexed := sealRun(t, a, "cam-5", testCase("1", results.Pass, ""))

	// A copy of a good run with no archive around it is checked against
	// the checkpoint it carries; one whose signature is gone is not trusted.
	loose := filepath.Join(t.TempDir(), filepath.Base(good))
	if err := os.CopyFS(loose, os.DirFS(good)); err != nil {
		t.Fatal(err)
	}
	looseUnsigned := filepath.Join(t.TempDir(), "x", filepath.Base(good))
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
		{edited, StateTampered, "the record was changed after signing"},
		{edited, StateTampered, "the sealed line says verdict \"FAIL\", the signed record says PASS"},
		{unsigned, StateTampered, "record.dsse.json: missing"},
		{hidden, StateTampered, "the record was changed after signing"},
		{stale, StateSealed, "marker left after sealing: index.jsonl line 8 seals this run"},
		{unindexed, StateTampered, `the run folder is sealed but the index has no "sealed" line for it`},
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
	if r := byDir[edited]; r.Sealed == nil || r.Sealed.Verdict != results.Fail || headline(r) != "The record of this run is not the one the archive sealed (its index says FAIL): the record, its signature or the index was changed, and none of its verdicts can be trusted." {
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
		if !strings.Contains(out, "DOES NOT VERIFY: ") {
			t.Errorf("%s report does not say the archive does not verify", f)
		}
	}
	if !strings.HasPrefix(text, "DOES NOT VERIFY: ") {
		t.Errorf("text report does not start by saying the archive does not verify:\n%s", text)
	}
	if !strings.Contains(text, "6 runs (1 FAIL, 1 unverified, 4 tampered)") {
		t.Errorf("text report's run counts:\n%s", text[:strings.Index(text, "\n")])
	}

	doc := junitOf(t, a.Dir())
	tampered, signatures := 0, 0
	for _, s := range doc.Suites {
		for _, p := range s.Properties {
			if p.Name == "signatures" && strings.HasPrefix(p.Value, "DOES NOT VERIFY: ") {
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
		Verified bool   `json:"verified"`
		Status   string `json:"status"`
		Runs     []struct {
			Fixture string          `json:"fixture"`
			State   State           `json:"state"`
			Verdict results.Verdict `json:"verdict"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(renderReport(t, rep, JSON), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Verified || !strings.HasPrefix(sum.Status, "DOES NOT VERIFY: ") {
		t.Errorf("JSON verified %v, status %q", sum.Verified, sum.Status)
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
		first  string
	}{
		{edited, StateTampered, "the record was changed after signing", "DOES NOT VERIFY: "},
		{loose, StateSealed, "this run folder was read without the archive around it", "Verified: "},
		{looseUnsigned, StateTampered, "missing: file is missing", "DOES NOT VERIFY: "},
	} {
		rep := load(t, tc.dir)
		r := rep.Runs[0]
		if r.State != tc.state || !strings.Contains(strings.Join(r.Notices, "\n"), tc.notice) {
			t.Errorf("run folder %s: state %s, notices %q; want %s and %q", tc.dir, r.State, r.Notices, tc.state, tc.notice)
		}
		if out := string(renderReport(t, rep, Text)); !strings.HasPrefix(out, tc.first) {
			t.Errorf("text report on %s does not start with %q:\n%s", tc.dir, tc.first, out)
		}
	}
}

// TestLooseRunComparedWithItsEnvelope: a run folder read without its
// archive has no index to vouch for its record, but its signature file's
// statement names the record's SHA-256 (what cosign compares, no key
// needed). A copy of a FAIL run edited to PASS must be TAMPERED in every
// format, JUnit above all (CI reads nothing else); so must a record whose
// envelope does not verify (bench verify's check, the report's too).
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
		{edited, StateTampered, "", "the record was changed after signing"},
		{unvouched, StateTampered, "", "not the one the bench signed"},
		{editedUnvouched, StateTampered, "", "not the one the bench signed"},
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
