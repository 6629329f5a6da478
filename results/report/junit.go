package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certbench/certbench/results"
)

// JUnit XML, as Jenkins' junit step and GitLab's artifacts:reports:junit read
// it. One <testsuite> per suite within a run, one <testcase> per case.
//
// Verdicts map to JUnit's four outcomes so that nothing but PASS looks like a
// pass:
//
//	PASS            passed (no child element)
//	FAIL            <failure message=REASON type="FAIL">
//	ERROR           <error message=REASON type="ERROR">
//	INCONCLUSIVE    <error message="inconclusive: REASON" type="INCONCLUSIVE">:
//	                the bench could not decide, so CI must not count it as a
//	                pass, and it is not the device's fault either
//	NOT_APPLICABLE  <skipped message=REASON>
//	NOT_RUN         <skipped message=REASON or "not run">
//
// A run without a valid record (cut off by a crash, unreadable, missing)
// becomes one testsuite with a single <error> testcase saying so: a lost
// result must fail a CI job, not vanish from it. A run whose record was
// written but never sealed keeps its cases and gains that <error> testcase.
// So does a sealed run whose verdict is ERROR, NOT_RUN or INCONCLUSIVE
// (`bench run` exits 3) when none of its cases is already a <failure> or
// <error>: its NOT_RUN cases alone are only <skipped>, which CI counts as
// green (a case that is already an error is not counted twice). A run that
// is all NOT_APPLICABLE exits 0 and stays green.
// An archive that does not verify, or was not verified against a trusted
// key, gets a first testsuite "verification" with one <error> (type VERIFY,
// listing every problem, or UNVERIFIED), and each testsuite's "signatures"
// property says the same (Source.Status); a PASS that is not stated
// (Run.CaseVerdict) is <skipped>, never a pass. A run whose record is not
// the one the bench signed and sealed (StateTampered) is an <error>
// testcase of type TAMPERED. A sealed run any of whose evidence files
// changed after the run, is missing, unreadable or marked incomplete gains
// an <error> testcase of type EVIDENCE carrying the notices. References are
// <property> elements of the case's testsuite (name "CASE_ID EN 303 645"
// etc., one per ID) and lines of its <system-out>: Jenkins' schema allows no
// properties in a testcase. The classname is FIXTURE.RUN_ID.SUITE.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr,omitempty"`
	Suites   []junitSuite `xml:"testsuite"`
	skipped  int          // (Jenkins' schema has no skipped count on testsuites)
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	ID         int             `xml:"id,attr"`
	Package    string          `xml:"package,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
	ns         int64           // sum of the cases' durations
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitCase is a <testcase>; its children in the order Jenkins' schema
// has them (skipped, error, failure, system-out). Jenkins' schema allows no
// <properties> here: a case's references are properties of its testsuite
// and lines of its system-out.
type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
	refs      []junitProperty
	ns        int64
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"` // CDATA keeps newlines readable in the raw file
}

type junitText struct {
	Text string `xml:",cdata"`
}

// junitSkipped is <skipped>: text only in Jenkins' schema (xs:string), so
// the message is its content.
type junitSkipped struct {
	Message string `xml:",chardata"`
}

// WriteJUnit writes rep as JUnit XML.
func WriteJUnit(w io.Writer, rep *Source) error {
	doc := junitSuites{Name: "certbench " + rep.Dir}
	var total time.Duration
	add := func(s junitSuite) {
		s.ID = len(doc.Suites)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	// First, whether the archive verifies: an error CI cannot miss.
	if !rep.Intact() || !rep.Trusted() {
		s := junitSuite{Name: "verification", Package: "certbench", Properties: []junitProperty{{"signatures", x(rep.Status())}}}
		var body strings.Builder
		for _, p := range rep.Verification.Problems {
			fmt.Fprintf(&body, "%s\n", x(p.String()))
		}
		typ := "VERIFY"
		if rep.Intact() {
			typ = "UNVERIFIED"
			body.WriteString(x(results.NoTrustedKey) + "\n")
		}
		s.add(junitCase{Name: "archive " + x(rep.Dir), Classname: "certbench.verification", Time: "0",
			Error: &junitProblem{Message: x(rep.Status()), Type: typ, Body: body.String()}})
		add(s)
	}
	for _, run := range rep.Runs {
		for _, s := range junitRun(run, rep.Status()) {
			if c := rep.CheckpointLine(); c != "" {
				s.Properties = append(s.Properties, junitProperty{"checkpoint", x(c)})
			}
			add(s)
		}
		if rec := run.Record; rec != nil {
			total += rec.Finished.Sub(rec.Started)
		}
	}
	doc.Time = seconds(int64(total))
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write JUnit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write JUnit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write JUnit: %w", err)
	}
	return nil
}

func junitRun(run *Run, status string) []junitSuite {
	defer run.release()
	rec := run.Record
	props := []junitProperty{{"run_id", run.ID}, {"run_state", string(run.State)}, {"signatures", x(status)}}
	add := func(name, value string) {
		if value != "" {
			props = append(props, junitProperty{name, x(value)})
		}
	}
	add("bench", run.Bench)
	add("fixture", run.Fixture)
	if rec != nil {
		add("run_verdict", string(run.Verdict()))
		add("device.model", rec.Device.Model)
		add("device.serial", rec.Device.Serial)
		add("firmware.version", rec.Device.Firmware.Version)
		add("firmware.sha256", rec.Device.Firmware.SHA256)
		add("declarations.sha256", rec.Declarations.SHA256)
		add("bench.software", rec.Bench.Software)
		add("bench.revision", rec.Bench.Revision)
		add("bench.key_id", rec.Bench.KeyID)
		if !rec.Clock.Synchronized {
			add("clock", "not synchronised: "+rec.Clock.Detail)
		}
	}
	stamp := ""
	if !run.Opened.IsZero() {
		stamp = run.Opened.UTC().Format("2006-01-02T15:04:05")
	}
	var suites []junitSuite
	bySuite := map[string]int{}
	if rec != nil {
		for i := range rec.Cases {
			c := &rec.Cases[i]
			k, ok := bySuite[c.Suite]
			if !ok {
				k = len(suites)
				bySuite[c.Suite] = k
				suites = append(suites, junitSuite{Name: suiteName(run, c.Suite), Package: x(c.Suite),
					Hostname: x(rec.Bench.Host), Timestamp: stamp, Properties: append([]junitProperty(nil), props...)})
			}
			jc := junitCaseOf(run, c)
			suites[k].Properties = append(suites[k].Properties, jc.refs...)
			suites[k].add(jc)
		}
	}
	if run.State == StateSealed && results.ExitCode(rec.Verdict) == 3 && !shownNotGreen(rec.Cases) {
		// Cases NOT_RUN are skipped, which CI counts as green; a run that
		// `bench run` would end with exit 3 must not be. When a case is
		// already an <error> or <failure>, CI is red and this testcase
		// would only count the same problem twice.
		s := junitSuite{Name: suiteName(run, "run"), Package: "run", Timestamp: stamp, Properties: props}
		why := "it did not complete"
		if rec.Abandoned != nil {
			why = "it was cut off and closed as abandoned: " + rec.Abandoned.Reason
		}
		switch rec.Verdict {
		case results.Error:
			why = "a fault on the test bench kept it from deciding"
		case results.Inconclusive:
			why = "it completed, but could not reach a decision"
		}
		msg := fmt.Sprintf("run %s has verdict %s: %s (bench run exits 3)", run.ID, rec.Verdict, why)
		var body strings.Builder
		for _, c := range casesBySeverity(rec.Cases) {
			if results.ExitCode(c.Verdict) == 3 {
				fmt.Fprintf(&body, "%s %s\n", x(c.ID), x(sentence(c)))
			}
		}
		if len(rec.Cases) == 0 {
			body.WriteString("The run has no cases: nothing was tested.\n")
		}
		s.add(junitCase{Name: x("run " + run.ID + ": " + string(rec.Verdict)), Classname: classname(run, "run"), Time: "0",
			Error: &junitProblem{Message: x(msg), Type: string(rec.Verdict), Body: body.String()}})
		suites = append(suites, s)
	}
	if problems := run.EvidenceProblems(); run.State == StateSealed && len(problems) > 0 {
		// Evidence changed, missing or incomplete: `bench verify` fails
		// the run, and its verdicts do not rest on what was recorded.
		// (A run that is not sealed has the error below, which carries
		// these notices too.)
		s := junitSuite{Name: suiteName(run, "evidence"), Package: "run", Timestamp: stamp, Properties: props}
		msg := fmt.Sprintf("run %s: its evidence is not as recorded (changed, missing, unreadable or incomplete), so its verdicts cannot be shown resting on it; run bench verify", run.ID)
		s.add(junitCase{Name: x("run " + run.ID + ": evidence"), Classname: classname(run, "run"), Time: "0",
			Error: &junitProblem{Message: x(msg), Type: "EVIDENCE", Body: x(strings.Join(problems, "\n"))}})
		suites = append(suites, s)
	}
	if run.State != StateSealed {
		// A run without its sealed record must not pass silently.
		s := junitSuite{Name: suiteName(run, "run"), Package: "run", Timestamp: stamp, Properties: props}
		msg := fmt.Sprintf("run %s is %s", run.ID, run.State)
		body := x(strings.Join(run.AllNotices(), "\n"))
		if rec == nil {
			body += "\n" + excerptsText(LastLines(run))
		}
		s.add(junitCase{Name: x("run " + run.ID + ": " + string(run.State)), Classname: classname(run, "run"), Time: "0",
			Error: &junitProblem{Message: x(msg), Type: strings.ToUpper(string(run.State)), Body: body}})
		suites = append(suites, s)
	}
	return suites
}

// shownNotGreen says whether a case of cs is already a JUnit <failure> or
// <error> (FAIL, ERROR, INCONCLUSIVE), which keeps CI from going green.
func shownNotGreen(cs []results.Case) bool {
	for _, c := range cs {
		switch c.Verdict {
		case results.Fail, results.Error, results.Inconclusive:
			return true
		}
	}
	return false
}

// classname puts fixture and run before the suite, so that Jenkins, which
// groups and names cases by classname and name, tells apart one case run
// on several fixtures or several times: "cam-1.20261124T235000Z-cam-1-0a1b2c.credentials".
func classname(run *Run, suite string) string {
	return x(orDash(run.Fixture) + "." + run.ID + "." + suite)
}

// suiteName is unique across an archive, where one suite runs on many
// fixtures.
func suiteName(run *Run, suite string) string {
	return x(fmt.Sprintf("%s (fixture %s, run %s)", suite, orDash(run.Fixture), run.ID))
}

func (s *junitSuite) add(c junitCase) {
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Error != nil:
		s.Errors++
	case c.Skipped != nil:
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
	s.ns += c.ns
	s.Time = seconds(s.ns)
}

func junitCaseOf(run *Run, c *results.Case) junitCase {
	jc := junitCase{Name: x(c.ID + ": " + c.Title), Classname: classname(run, c.Suite), Time: seconds(c.Timing.DurationNs), ns: c.Timing.DurationNs}
	for _, g := range referenceGroups(c.References) {
		for _, id := range g.IDs {
			jc.refs = append(jc.refs, junitProperty{x(c.ID + " " + g.Doc), x(id)})
		}
	}
	var out strings.Builder
	if v := run.CaseVerdict(c); v == "" {
		fmt.Fprintf(&out, "Verdict: not stated (recorded %s)\n", c.Verdict)
	} else {
		fmt.Fprintf(&out, "Verdict: %s\n", v)
	}
	fmt.Fprintf(&out, "References: %s\n", x(referenceLine(c.References)))
	for _, ref := range c.Evidence {
		fmt.Fprintf(&out, "Evidence: %s/%s\n", x(run.ID), x(ref.Path))
	}
	reason := x(c.Reason)
	switch run.CaseVerdict(c) {
	case "":
		why := "its run was not sealed"
		if run.State == StateSealed {
			why = "the archive does not verify"
		}
		jc.Skipped = &junitSkipped{Message: fmt.Sprintf("not stated: recorded %s, but %s, so it is no pass", c.Verdict, why)}
	case results.Fail:
		jc.Failure = &junitProblem{Message: reason, Type: "FAIL", Body: x(sentence(c)) + "\n" + excerptText(run, c)}
	case results.Error:
		jc.Error = &junitProblem{Message: reason, Type: "ERROR", Body: x(sentence(c)) + "\n" + excerptText(run, c)}
	case results.Inconclusive:
		jc.Error = &junitProblem{Message: "inconclusive: " + reason, Type: "INCONCLUSIVE", Body: x(sentence(c))}
	case results.NotApplicable:
		jc.Skipped = &junitSkipped{Message: "not applicable: " + reason}
	case results.NotRun:
		if reason == "" {
			reason = "not reached"
		}
		jc.Skipped = &junitSkipped{Message: "not run: " + reason}
	}
	jc.SystemOut = &junitText{out.String()}
	return jc
}

// excerptText is the case's transcript excerpts as plain text.
func excerptText(run *Run, c *results.Case) string { return excerptsText(Excerpts(run, c)) }

func excerptsText(exs []Excerpt) string {
	var b strings.Builder
	for _, ex := range exs {
		fmt.Fprintf(&b, "\n%s, %s:\n", x(ex.Path), x(ex.What))
		for _, n := range ex.Notices {
			fmt.Fprintf(&b, "! %s\n", x(n))
		}
		if ex.Omitted > 0 {
			fmt.Fprintf(&b, "  (%d earlier lines not shown)\n", ex.Omitted)
		}
		for _, l := range ex.Lines {
			fmt.Fprintf(&b, "%10s %-5s %s\n", offset(l.MonoNs), l.Kind, l.Text)
		}
	}
	return b.String()
}

// x makes a record's string safe for XML: encoding/xml escapes markup but
// turns characters XML cannot hold into U+FFFD, which would hide what they
// were; visible spells them out first.
func x(s string) string { return clean(s, true) }

func seconds(ns int64) string { return fmt.Sprintf("%.3f", float64(ns)/1e9) }
