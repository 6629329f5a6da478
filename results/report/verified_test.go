package report

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/certbench/certbench/results"
)

// threeSealed is an archive of three sealed runs: cam-1 PASS, cam-2 FAIL,
// cam-3 PASS, in that order. It returns the archive and the run folders.
func threeSealed(t *testing.T) (string, []string) {
	t.Helper()
	a, err := results.OpenArchive(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{
		sealRun(t, a, "cam-1", testCase("1", results.Pass, "")),
		sealRun(t, a, "cam-2", testCase("1", results.Pass, ""), testCase("2", results.Fail, "admin/admin accepted")),
		sealRun(t, a, "cam-3", testCase("1", results.Pass, "")),
	}
	return a.Dir(), dirs
}

func indexLines(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, results.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
}

func writeIndex(t *testing.T, dir string, lines []string) {
	t.Helper()
	s := strings.Join(lines, "")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, results.IndexFile), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The three doctorings that once gave a clean report while bench verify
// failed. Each must now make every format say first that the archive does
// not verify, and state no PASS.
var doctorings = map[string]func(t *testing.T, dir string, runs []string){
	"swapped index lines": func(t *testing.T, dir string, _ []string) {
		l := indexLines(t, dir)
		l[1], l[3] = l[3], l[1] // the sealed lines of cam-1 and cam-2
		writeIndex(t, dir, l)
	},
	"extra evidence file": func(t *testing.T, dir string, runs []string) {
		if err := os.WriteFile(filepath.Join(runs[0], results.EvidenceDir, "later.txt"), []byte("added after sealing\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	},
	"FAIL run removed, chain rebuilt": func(t *testing.T, dir string, runs []string) {
		id := filepath.Base(runs[1])
		if err := os.RemoveAll(runs[1]); err != nil {
			t.Fatal(err)
		}
		var kept []string
		prev := ""
		for _, l := range indexLines(t, dir) {
			if strings.Contains(l, id) {
				continue
			}
			var e results.IndexEntry
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatal(err)
			}
			e.Seq, e.Prev = len(kept)+1, prev
			b, _ := json.Marshal(e)
			sum := sha256Of(b)
			prev = sum
			kept = append(kept, string(b)+"\n")
		}
		writeIndex(t, dir, kept)
	},
}

func sha256Of(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func keysOf(t *testing.T) []crypto.PublicKey { return []crypto.PublicKey{key(t).Public()} }

var rePassWord = regexp.MustCompile(`(^|[^A-Za-z_])PASS([^A-Za-z_]|$)`)

// noPass reports the first place out states PASS as a result: a verdict
// word PASS anywhere, except where the report says what was recorded and
// not stated, or quotes the index.
func noPass(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `"recorded_verdict"`) || strings.Contains(l, "{--vc:") {
			continue // what the record says, in JSON; the page's colours
		}
		l = strings.NewReplacer("recorded PASS", "", "verdict PASS)", "", "says PASS)", "").Replace(l)
		if rePassWord.MatchString(l) {
			return l
		}
	}
	return ""
}

func TestReportOfDoctoredArchive(t *testing.T) {
	for name, doctor := range doctorings {
		t.Run(name, func(t *testing.T) {
			dir, runs := threeSealed(t)
			doctor(t, dir, runs)
			if vr, _ := results.Verify(dir, results.VerifyOptions{Keys: keysOf(t)}); vr.Intact() {
				t.Fatal("bench verify's check does not catch it")
			}
			rep := load(t, dir)

			text := string(renderReport(t, rep, Text))
			if !strings.HasPrefix(text, "DOES NOT VERIFY: ") {
				t.Errorf("text: first line %q", text[:strings.IndexByte(text, '\n')])
			}
			if l := noPass(text); l != "" || strings.Contains(text, "No security problem found") {
				t.Errorf("text states a PASS: %q\n%s", l, text)
			}

			var doc struct {
				Suites []struct {
					Name  string `xml:"name,attr"`
					Cases []struct {
						Failure *struct{} `xml:"failure"`
						Error   *struct {
							Type string `xml:"type,attr"`
						} `xml:"error"`
						Skipped *struct{} `xml:"skipped"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal(renderReport(t, rep, JUnit), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Suites) == 0 || doc.Suites[0].Cases[0].Error == nil || doc.Suites[0].Cases[0].Error.Type != "VERIFY" {
				t.Errorf("JUnit: the first testcase is not a VERIFY error: %+v", doc.Suites)
			}
			for _, s := range doc.Suites {
				for _, c := range s.Cases {
					if c.Failure == nil && c.Error == nil && c.Skipped == nil {
						t.Errorf("JUnit: a testcase of %s passes", s.Name)
					}
				}
			}

			page := string(renderReport(t, rep, HTML))
			if i := strings.Index(page, `<section class="alarm" role="alert"><h1>DOES NOT VERIFY: `); i < 0 || i > strings.Index(page, `<header class="doc">`) {
				t.Error("HTML: no alarm banner before everything else")
			}
			if strings.Contains(page, "v-PASS\">") || strings.Contains(page, ">PASS<") {
				t.Error("HTML shows a PASS badge")
			}

			var sum struct {
				Verified bool `json:"verified"`
				Totals   struct {
					Cases map[string]int `json:"cases"`
				} `json:"totals"`
				Runs []struct {
					Verdict string `json:"verdict"`
					Cases   []struct {
						Verdict string `json:"verdict"`
					} `json:"cases"`
				} `json:"runs"`
				Verification struct {
					Problems []results.Problem `json:"problems"`
				} `json:"verification"`
			}
			if err := json.Unmarshal(renderReport(t, rep, JSON), &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Verified || len(sum.Verification.Problems) == 0 || sum.Totals.Cases["PASS"] > 0 {
				t.Errorf("JSON: verified %v, %d problems, totals %v", sum.Verified, len(sum.Verification.Problems), sum.Totals.Cases)
			}
			for _, r := range sum.Runs {
				for _, c := range r.Cases {
					if r.Verdict == "PASS" || c.Verdict == "PASS" {
						t.Errorf("JSON states a PASS: run %q case %q", r.Verdict, c.Verdict)
					}
				}
			}
		})
	}
}

// The same archive untouched: verified, its passes stated, failures first.
func TestReportOfVerifiedArchive(t *testing.T) {
	dir, runs := threeSealed(t)
	rep := load(t, dir)
	if !rep.Intact() || !rep.Trusted() {
		t.Fatalf("untouched archive: %v", rep.Verification.Problems)
	}
	text := string(renderReport(t, rep, Text))
	if !strings.HasPrefix(text, "Verified: ") || !strings.Contains(text, "Checkpoint: certbench/lab-1/") || !strings.Contains(text, "3 runs (1 FAIL, 2 PASS)") {
		t.Errorf("text:\n%s", text)
	}
	// Failures first across runs: cam-2 (FAIL) began second, reads first.
	if rep.Runs[0].Dir != runs[1] {
		t.Errorf("runs in order %s, %s, %s; want the FAIL run first", rep.Runs[0].Fixture, rep.Runs[1].Fixture, rep.Runs[2].Fixture)
	}
	if i, j := strings.Index(text, "== "+filepath.Base(runs[1])), strings.Index(text, "== "+filepath.Base(runs[0])); i < 0 || i > j {
		t.Error("text: the FAIL run is not first")
	}
	for f, want := range map[Format]string{HTML: "Checkpoint: certbench/lab-1/", JUnit: `name="checkpoint" value="Checkpoint: certbench/lab-1/`, JSON: `"origin": "certbench/lab-1/`} {
		if out := string(renderReport(t, rep, f)); !strings.Contains(out, want) {
			t.Errorf("%s report does not print the checkpoint (%q)", f, want)
		}
	}
	// Without the key: nothing is verified, and JUnit says so with an error.
	rep, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if text := string(renderReport(t, rep, Text)); !strings.HasPrefix(text, "NOT VERIFIED: no trusted key") {
		t.Errorf("text without a key:\n%s", text)
	}
	if out := renderReport(t, rep, JUnit); !bytes.Contains(out, []byte(`type="UNVERIFIED"`)) {
		t.Errorf("JUnit without a key has no UNVERIFIED error:\n%s", out)
	}
}

// A record written and never sealed (a crash during sealing): its FAIL
// shows, its PASS cases are counted nowhere as passes.
func TestUnsealedPassCountsNowhere(t *testing.T) {
	a, err := results.OpenArchive(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	run := unsealedRun(t, a, "cam-1", testCase("1", results.Pass, ""), testCase("2", results.Fail, "bad"))
	_ = run
	rep := load(t, a.Dir())
	tot := totals(rep)
	if tot.Cases[results.Pass] != 0 || tot.Unstated != 1 || tot.Cases[results.Fail] != 1 {
		t.Errorf("totals %+v", tot)
	}
	for _, f := range Formats {
		if l := noPass(string(renderReport(t, rep, f))); l != "" {
			t.Errorf("%s states a PASS of an unsealed record: %q", f, l)
		}
	}
}

// JUnit is checked against the schema Jenkins' JUnit support is written
// to (testdata/jenkins-junit.xsd, see testdata/README.md) with xmllint.
func TestJUnitValidatesAgainstJenkinsSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xmllint (Debian: libxml2-utils) is not installed")
		}
		t.Skip("xmllint (Debian: libxml2-utils) is not installed")
	}
	l := readOnlyLab(t)
	dir, _ := threeSealed(t)
	out := t.TempDir()
	for name, rep := range map[string]*Source{"lab": load(t, l.dir), "three": load(t, dir)} {
		p := filepath.Join(out, name+".xml")
		if err := os.WriteFile(p, renderReport(t, rep, JUnit), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "jenkins-junit.xsd"), p)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: JUnit does not validate against Jenkins' schema: %v\n%s", name, err, b)
		}
	}
}

// The bench program's version and revision, from the record, in every
// format a person reads.
func TestBenchVersionShown(t *testing.T) {
	a, err := results.OpenArchive(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Begin(results.Meta{Bench: "lab-1", Fixture: "cam-1"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &results.Record{
		Bench:        results.Bench{Software: "v1.4.0", Revision: "9f8e7d6c+modified"},
		Device:       results.Device{Model: "ACME Cam 2"},
		Declarations: results.Declarations{SHA256: strings.Repeat("ef", 32)},
		Cases:        []results.Case{testCase("1", results.Pass, "")},
	}
	if err := run.Seal(rec, key(t)); err != nil {
		t.Fatal(err)
	}
	rep := load(t, a.Dir())
	want := "certbench v1.4.0, revision 9f8e7d6c+modified"
	for _, f := range []Format{Text, HTML} {
		if out := html.UnescapeString(string(renderReport(t, rep, f))); !strings.Contains(out, want) {
			t.Errorf("%s report does not name the bench software %q", f, want)
		}
	}
	if out := string(renderReport(t, rep, JUnit)); !strings.Contains(out, `name="bench.revision" value="9f8e7d6c+modified"`) {
		t.Error("JUnit has no bench.revision property")
	}
	if out := string(renderReport(t, rep, JSON)); !strings.Contains(out, `"revision": "9f8e7d6c+modified"`) {
		t.Error("JSON has no bench revision")
	}
}
