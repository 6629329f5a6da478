package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/certbench/certbench/results"
)

func load(t *testing.T, dir string) *Source {
	t.Helper()
	rep, err := Load(dir, key(t).Public())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func renderReport(t *testing.T, rep *Source, f Format) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, rep, f); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("CERTBENCH_REPORT_OUT"); out != "" {
		// For a person to look at: CERTBENCH_REPORT_OUT=/tmp/r go test -run X
		os.MkdirAll(out, 0o755)
		name := strings.NewReplacer("/", "_").Replace(t.Name()) + "-" + rep.Kind + "." + string(f)
		os.WriteFile(filepath.Join(out, name), b.Bytes(), 0o644)
	}
	return b.Bytes()
}

func TestLoadArchive(t *testing.T) {
	l := readOnlyLab(t)
	rep := load(t, l.dir)
	if rep.Kind != KindArchive || len(rep.Runs) != 3 {
		t.Fatalf("kind %s, %d runs; want archive with 3", rep.Kind, len(rep.Runs))
	}
	byID := map[string]*Run{}
	for _, r := range rep.Runs {
		byID[r.ID] = r
	}
	if r := byID[l.failRun]; r.State != StateSealed || r.Verdict() != results.Fail || len(r.Evidence()) != 3 {
		t.Errorf("fail run: %s %s, %d evidence files", r.State, r.Verdict(), len(r.Evidence()))
	}
	crash := byID[l.crashRun]
	if crash.State != StateIncomplete || crash.Record != nil || crash.Fixture != "cam-3" || crash.Verdict() != "" {
		t.Fatalf("crashed run: state %s, record %v, fixture %q", crash.State, crash.Record != nil, crash.Fixture)
	}
	con := crash.EvidenceFile("evidence/console-cam-3.jsonl")
	if con == nil || con.Kind != results.KindTranscript || len(con.Transcript) != 1 {
		t.Fatalf("crashed run's transcript: %+v", con)
	}
	if len(con.Notices) != 1 || !strings.Contains(con.Notices[0], "cut off") {
		t.Errorf("the torn last line has no notice: %q", con.Notices)
	}
	// One run folder alone.
	one := load(t, l.failRunDir)
	if one.Kind != KindRun || len(one.Runs) != 1 || one.Runs[0].ID != l.failRun {
		t.Errorf("run folder: kind %s, runs %d", one.Kind, len(one.Runs))
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNotResults) {
		t.Errorf("an empty folder: %v, want ErrNotResults", err)
	}
}

func TestVisible(t *testing.T) {
	for in, want := range map[string]string{
		"plain text\r":           "plain text",
		"a\x1b[31mb":             `a\x1b[31mb`,
		"bad \xff\xfe":           `bad \xff\xfe`,
		"bidi \u202eevil":        `bidi \u{202e}evil`,
		"tab\tkept":              "tab\tkept",
		"héllo ✓":                "héllo ✓",
		"cr\rmid":                `cr\x0dmid`,
		strings.Repeat("x", 500): strings.Repeat("x", maxLineBytes) + " … (100 more bytes)",
	} {
		if got := visible([]byte(in)); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConsoleLinesJoinChunks(t *testing.T) {
	// A multi-byte character split across two chunks (each invalid alone,
	// so each was written as b64) and a line split across chunks must read
	// as the device sent them.
	tr := []results.TranscriptLine{
		{MonoNs: 1, Dir: "rx", B64: []byte("caf\xc3")},
		{MonoNs: 2, Dir: "rx", B64: []byte("\xa9 open\r\nlog")},
		{MonoNs: 3, Dir: "rx", Text: "in: "},
		{MonoNs: 4, Dir: "tx", Text: "root\r"},
		{MonoNs: 5, Dir: "event", Event: "lost", Detail: "EIO"},
	}
	got := consoleLines(tr)
	want := []Line{
		{1, "rx", "café open"},
		{2, "rx", "login: "},
		{4, "tx", "root"},
		{5, "event", "[lost] EIO"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("consoleLines:\n got %+v\nwant %+v", got, want)
	}
}

func TestExcerpts(t *testing.T) {
	l := readOnlyLab(t)
	rep := load(t, l.dir)
	var fail, pass *Run
	for _, r := range rep.Runs {
		switch r.ID {
		case l.failRun:
			fail = r
		case l.passRun:
			pass = r
		}
	}
	caseByID := func(r *Run, id string) *results.Case {
		for i := range r.Record.Cases {
			if r.Record.Cases[i].ID == id {
				return &r.Record.Cases[i]
			}
		}
		t.Fatalf("no case %s", id)
		return nil
	}
	// The range the case names: the login, nothing before or after.
	ex := Excerpts(fail, caseByID(fail, "default-credentials/uart-login"))
	if len(ex) != 1 {
		t.Fatalf("%d excerpts", len(ex))
	}
	var text []string
	for _, l := range ex[0].Lines {
		text = append(text, l.Kind+":"+l.Text)
	}
	want := []string{"rx:cam login: ", "tx:root", "rx:root", "rx:Password: ", "tx:xc3511", "rx:", "rx:BusyBox v1.36.1 built-in shell (ash)", "rx:# "}
	if !reflect.DeepEqual(text, want) {
		t.Errorf("excerpt of the named range:\n got %q\nwant %q", text, want)
	}
	// No range, no transcript named: the last lines before the verdict,
	// with the power events of that window.
	ex = Excerpts(fail, caseByID(fail, "resilience/power-loss"))
	if len(ex) != 1 || ex[0].Lines[len(ex[0].Lines)-1].Text != "[reopen] after 1.5s" {
		t.Fatalf("excerpt before the verdict: %+v", ex)
	}
	var sawPowerOff bool
	for _, l := range ex[0].Lines {
		if l.MonoNs > 6600*ms {
			t.Errorf("line after the verdict in the excerpt: %+v", l)
		}
		sawPowerOff = sawPowerOff || (l.Kind == "power" && strings.HasPrefix(l.Text, "GPIO17 off"))
	}
	if !sawPowerOff {
		t.Errorf("the power cut before the verdict is not in the excerpt: %+v", ex[0].Lines)
	}
	// 20 lines before the verdict at +2.5 s, and a mark where the case
	// began at +1 s.
	ex = Excerpts(pass, &pass.Record.Cases[0])
	if len(ex) != 1 || len(ex[0].Lines) != excerptLines+1 || ex[0].Omitted != 6 || ex[0].Lines[excerptLines].Text != "boot line Z" ||
		ex[0].Lines[4] != (Line{MonoNs: 1000 * ms, Kind: "mark", Text: "the check began"}) || ex[0].Lines[5].Text != "boot line K" {
		t.Errorf("last lines before the verdict at +2.5 s: %d lines, %d omitted, %+v", len(ex[0].Lines), ex[0].Omitted, ex[0].Lines)
	}
	// A case that never ran and names no transcript: no guess.
	if ex := Excerpts(fail, caseByID(fail, "config/http-admin")); len(ex) != 0 {
		t.Errorf("a NOT_RUN case got an excerpt: %+v", ex)
	}
}

func TestJUnit(t *testing.T) {
	l := readOnlyLab(t)
	out := renderReport(t, load(t, l.dir), JUnit)
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name       string `xml:"name,attr"`
			Tests      int    `xml:"tests,attr"`
			Failures   int    `xml:"failures,attr"`
			Errors     int    `xml:"errors,attr"`
			Skipped    int    `xml:"skipped,attr"`
			Properties []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Type    string `xml:"type,attr"`
					Body    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
					Type    string `xml:"type,attr"`
					Body    string `xml:",chardata"`
				} `xml:"error"`
				Skipped *struct {
					Message string `xml:",chardata"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, out)
	}
	for _, s := range doc.Suites {
		doc.Skipped += s.Skipped
	}
	names := map[string]bool{}
	// fail run: 6 cases (1 FAIL, 1 ERROR, 1 INCONCLUSIVE as error, 2
	// skipped, 1 pass); pass run: 1 pass; crashed run: 1 error.
	if doc.Tests != 8 || doc.Failures != 1 || doc.Errors != 3 || doc.Skipped != 2 {
		t.Errorf("totals: tests %d failures %d errors %d skipped %d; want 8 1 3 2", doc.Tests, doc.Failures, doc.Errors, doc.Skipped)
	}
	sum := 0
	type seen struct{ failure, error, skipped string }
	got := map[string]seen{}
	for _, s := range doc.Suites {
		fixture, runID := "", ""
		refs := map[string]bool{}
		for _, p := range s.Properties {
			switch p.Name {
			case "fixture":
				fixture = p.Value
			case "run_id":
				runID = p.Value
			}
			refs[p.Name+" "+p.Value] = true
		}
		n, f, e, k := 0, 0, 0, 0
		for _, c := range s.Cases {
			n++
			// Jenkins names a case by classname and name: each must be
			// unique, with fixture and run in the classname.
			if names[c.Classname+"|"+c.Name] {
				t.Errorf("testcase %s %s twice", c.Classname, c.Name)
			}
			names[c.Classname+"|"+c.Name] = true
			suite, ok := strings.CutPrefix(c.Classname, fixture+"."+runID+".")
			if !ok {
				t.Errorf("classname %q does not start with fixture %q and run %q", c.Classname, fixture, runID)
			}
			var sn seen
			if c.Failure != nil {
				f++
				sn.failure = c.Failure.Type + ":" + c.Failure.Message
			}
			if c.Error != nil {
				e++
				sn.error = c.Error.Type + ":" + c.Error.Message
				// Bytes XML cannot hold (ESC) are spelt out, not lost.
				if suite == "resilience" && !strings.Contains(c.Error.Body, `\x1b[31mred\x1b[0m \u{202e}evil`) {
					t.Errorf("the ERROR's excerpt does not show the escape sequence as text:\n%s", c.Error.Body)
				}
			}
			if c.Skipped != nil {
				k++
				sn.skipped = c.Skipped.Message
			}
			got[fixture+"|"+suite+"|"+c.Name] = sn
			if suite == "default-credentials" && c.Failure != nil {
				for _, want := range []string{"EN 303 645 5.1-1", "TS 103 701 5.1-1-2a", "TS 103 701 5.1-1-2c", "UK PSTI Sch. 1 1(2)", "EN 18031 AUM-5-1", "EU CRA Annex I I(2)(d)"} {
					if !refs["default-credentials/uart-login "+want] {
						t.Errorf("failure testcase's suite lacks property %q: %v", want, refs)
					}
				}
				if !strings.Contains(c.Failure.Body, "xc3511") || !strings.Contains(c.Failure.Body, hostileScript) {
					t.Errorf("failure body has no transcript excerpt: %q", c.Failure.Body)
				}
			}
		}
		if n != s.Tests || f != s.Failures || e != s.Errors || k != s.Skipped {
			t.Errorf("suite %s: attributes say %d/%d/%d/%d, children %d/%d/%d/%d", s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, n, f, e, k)
		}
		sum += n
	}
	if sum != doc.Tests {
		t.Errorf("testsuites tests=%d, cases %d", doc.Tests, sum)
	}
	for key, want := range map[string]seen{
		"cam-1|default-credentials|default-credentials/uart-login: No default password on the UART login": {failure: `FAIL:login "root"/"xc3511" accepted on the UART ` + hostileScript},
		"cam-1|resilience|resilience/power-loss: Recovers cleanly from power loss":                        {error: "ERROR:console lost: read /dev/ttyUSB0: input/output error"},
		"cam-1|update|update/rollback: Older signed image refused":                                        {error: "INCONCLUSIVE:inconclusive: no older signed image was supplied"},
		"cam-1|uart-shell|uart-shell/auth: UART shell requires authentication":                            {skipped: "not applicable: declarations: no UART exposed on the product"},
		"cam-1|config|config/http-admin: Admin page requires authentication":                              {skipped: "not run: run cancelled"},
		"cam-1|update|update/tampered: Tampered image refused":                                            {},
		"cam-3|run|run " + l.crashRun + ": incomplete":                                                    {error: "INCOMPLETE:run " + l.crashRun + " is incomplete"},
	} {
		if g, ok := got[key]; !ok || g != want {
			t.Errorf("testcase %s: %+v (present %v), want %+v", key, g, ok, want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	l := readOnlyLab(t)
	rep := load(t, l.dir)
	out := renderReport(t, rep, JSON)
	var s Summary
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	again, err := json.MarshalIndent(&s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(out), again) {
		t.Errorf("JSON summary does not round-trip:\n%s\n---\n%s", out, again)
	}
	if s.Format != SummaryFormat || s.Totals.Runs != 3 || s.Totals.States[StateIncomplete] != 1 ||
		s.Totals.Verdicts[results.Fail] != 1 || s.Totals.Verdicts[results.Pass] != 1 || s.Totals.Cases[results.Fail] != 1 {
		t.Errorf("totals: %+v", s.Totals)
	}
	for _, r := range s.Runs {
		if r.RunID == l.failRun {
			if r.Cases[0].Verdict != results.Fail || r.Counts[results.NotRun] != 1 || r.Device.Serial != "AC2-000123" {
				t.Errorf("fail run summary: first case %s, counts %v", r.Cases[0].Verdict, r.Counts)
			}
			if !reflect.DeepEqual(r.Cases[0].References, l.failCases[1].References) {
				t.Errorf("references: %+v", r.Cases[0].References)
			}
		}
	}
}

func TestTextListsFailuresFirst(t *testing.T) {
	l := readOnlyLab(t)
	out := string(renderReport(t, load(t, l.failRunDir), Text))
	order := []string{"FAIL ", "ERROR ", "INCONCLUSIVE ", "NOT RUN ", "PASS ", "NOT APPLICABLE "}
	last := -1
	for _, w := range order {
		i := strings.Index(out, "\n"+w)
		if i < 0 {
			t.Fatalf("no line starting %q in:\n%s", w, out)
		}
		if i < last {
			t.Errorf("%q comes before a more severe verdict:\n%s", w, out)
		}
		last = i
	}
	for _, want := range []string{"== " + l.failRun + ": FAIL ==", "ACME Cam 2, serial AC2-000123, firmware 2.1.0", "1 of 6 checks found a security problem",
		"EN 303 645 5.1-1; TS 103 701 5.1-1-2a, 5.1-1-2c; UK PSTI Sch. 1 1(2)"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	archive := string(renderReport(t, load(t, l.dir), Text))
	for _, want := range []string{"Archive " + l.dir + ": 3 runs (1 FAIL, 1 PASS, 1 incomplete)", "== " + l.crashRun + ": INCOMPLETE ==", "cut off"} {
		if !strings.Contains(archive, want) {
			t.Errorf("archive text lacks %q:\n%s", want, archive)
		}
	}
	if strings.Contains(archive, "\x1b") {
		t.Error("an escape sequence from the record reached the terminal")
	}
}

func TestHTMLEscapesAndReferences(t *testing.T) {
	l := readOnlyLab(t)
	out := string(renderReport(t, load(t, l.dir), HTML))
	for _, bad := range []string{"<script", "<img", "\x1b", "\u202e", "\xff"} {
		if strings.Contains(out, bad) {
			t.Errorf("the HTML holds %q raw", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;", // the transcript line and the reason, as text
		"Evil&lt;img src=x onerror=alert(1)&gt; Cam",
		`\x1b[31mred\x1b[0m \u{202e}evil\u{202c}`,
		`bad \xff\xfe`,
		"default-src &#39;none&#39;", // never: it is in a meta tag, escaped by nobody
	} {
		if want == "default-src &#39;none&#39;" {
			want = "default-src 'none'"
		}
		if !strings.Contains(out, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	// Every case's references, under each case.
	rep := load(t, l.failRunDir)
	page := string(renderReport(t, rep, HTML))
	for i, c := range casesBySeverity(rep.Runs[0].Record.Cases) {
		start := strings.Index(page, `id="run-`+l.failRun+`-case-`)
		if start < 0 {
			t.Fatal("no case sections")
		}
		art := page[strings.Index(page, fmtCaseID(l.failRun, i)):]
		art = art[:strings.Index(art, "</article>")]
		if !strings.Contains(art, c.Title) {
			t.Errorf("case section %d is not %q", i, c.Title)
		}
		for _, g := range referenceGroups(c.References) {
			for _, id := range g.IDs {
				if !strings.Contains(art, "<th>"+g.Doc+"</th>") || !strings.Contains(art, id) {
					t.Errorf("case %s: reference %s %s missing", c.ID, g.Doc, id)
				}
			}
		}
	}
	for _, no := range []string{"http://", "https://", "<link", "src="} {
		if i := strings.Index(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), no); i >= 0 {
			t.Errorf("the page refers outside itself (%q at %d)", no, i)
		}
	}
}

func fmtCaseID(run string, i int) string {
	return `id="run-` + run + `-case-` + strconv.Itoa(i) + `"`
}

// TestEvidenceLetGo: every format reads a run's evidence when it comes to
// the run and lets it go after, so a report on a large archive holds one
// run's evidence at a time.
func TestEvidenceLetGo(t *testing.T) {
	l := readOnlyLab(t)
	rep := load(t, l.dir)
	for _, r := range rep.Runs {
		if r.read {
			t.Fatalf("Load read the evidence of run %s", r.ID)
		}
	}
	for _, f := range Formats {
		renderReport(t, rep, f)
		for _, r := range rep.Runs {
			if r.read || r.evidence != nil {
				t.Errorf("%s: run %s still holds its evidence", f, r.ID)
			}
		}
	}
}

// FuzzVisible: whatever a device sends, what a reader is shown is valid
// UTF-8 with no control character but tab and no invisible reordering.
func FuzzVisible(f *testing.F) {
	for _, s := range []string{"login: ", "\x1b[2J\x1b[H", "\xff\xfe\xc3", "a\u202eb\u200bc\ufeff", "\r\n\t\x00\x7f\u0085"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range []string{visible(b), clean(string(b), false)} {
			if !utf8.ValidString(s) {
				t.Fatalf("visible(%q) = %q is not UTF-8", b, s)
			}
			for _, r := range s {
				if (r < 0x20 && r != '\t') || r == 0x7f || hidden(r) {
					t.Fatalf("visible(%q) = %q holds %U", b, s, r)
				}
			}
		}
		// Nothing is lost: every byte of a short input is shown, as itself
		// or spelt out.
		if len(b) < maxLineBytes && len(visible(b)) < len(bytes.TrimRight(b, "\r")) {
			t.Fatalf("visible(%q) = %q is shorter than its input", b, visible(b))
		}
	})
}
