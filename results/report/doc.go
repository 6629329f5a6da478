// Package report turns runs recorded by package results into reports for
// the people who read them: a plain-text summary for a terminal, JUnit XML
// for CI, one self-contained HTML page for a retailer or a lab, and a JSON
// summary for machines (`bench report`).
//
// # Reading
//
// Load reads an archive (index.jsonl and runs/) or one run's folder into a
// Source: per Run its record and every evidence file the record lists,
// decoded by kind (console transcripts and power events, formats.md). A
// report must show what is there and say what is not, so Load fails only
// when the folder holds no results at all. Everything else becomes a notice
// in place: an evidence file missing or changed since the run, a malformed
// or torn line (skipped; the other lines are kept), a record that is not
// valid (its run is StateUnreadable and none of its verdicts are shown), a
// run the index names whose folder is gone (StateMissing), and a run cut off
// by a crash (StateIncomplete, with whatever evidence it wrote).
//
// # What a report trusts
//
// Load checks the archive with results.Verify, the one check `bench verify`
// makes (signatures against the keys given to Load, evidence digests, the
// index, its checkpoint, the inclusion proofs), and takes each run's state
// from it: a run whose record, signature, index lines or inclusion proof are
// wrong is StateTampered (none of its verdicts shown), one whose record is
// lost StateUnreadable, one cut off StateIncomplete. Its outcome is the
// first statement of every format (Source.Status): an archive that does not
// verify says so first (the text's first line, the HTML page's banner, the
// JSON summary's verified and verification, a JUnit <error> of type VERIFY
// before any other testcase) and states no PASS anywhere: Run.Verdict and
// Run.CaseVerdict state a PASS or NOT_APPLICABLE only of a run that is
// sealed in an archive that verifies (a FAIL is always stated: a problem
// found stays found). The same holds for a record written and never sealed:
// its PASS cases are counted nowhere as passes. Without a trusted key the
// report says nothing in it is verified, and JUnit has an <error> of type
// UNVERIFIED. Incomplete runs are allowed in this check (each is marked,
// and JUnit has an error for it). Every report prints the archive's signed
// checkpoint. Runs are listed failures first (Run.Rank), then by ID.
//
// # Excerpts and timelines
//
// A verdict is only as good as the evidence behind it, so each case shows
// the console lines that decided it (Excerpts): the transcript range its
// evidence names, or else the last lines before its verdict's time, with the
// run's power events of that window interleaved. Transcript chunks are
// joined and split into lines as a terminal would show them, and every
// string that came from a device is made visible (see Line): bytes that are
// not UTF-8 read \xNN, control characters and bidirectional overrides are
// spelt out. On top of that each format escapes for itself: html/template
// for the page (which also forbids scripts with its Content-Security-Policy),
// encoding/xml for JUnit. The HTML timeline is inline SVG built here: a lane
// per power switch, a lane per console, a lane of cases by verdict; the
// lane-name column is as wide as the longest name needs.
//
// # Verdicts in JUnit
//
// The output validates against the JUnit schema Jenkins documents
// (testdata/jenkins-junit.xsd): no <properties> inside a <testcase> (a
// case's references are properties of its testsuite, named "CASE DOC",
// and lines of its system-out), <skipped> holds its message as text, and
// the classname is FIXTURE.RUN_ID.SUITE, so Jenkins, which names cases by
// classname and name, never lists two as duplicates.
//
// JUnit knows pass, failure, error and skipped. FAIL is a failure, ERROR an
// error, INCONCLUSIVE an error of type INCONCLUSIVE (the bench could not
// decide: CI must not count it as a pass, and it is not the device's fault),
// NOT_APPLICABLE and NOT_RUN are skipped. A run without a sealed record adds
// an error testcase of its own, so a crash or a lost record fails a CI job
// instead of vanishing from it. So does a sealed run whose verdict is ERROR,
// NOT_RUN or INCONCLUSIVE when none of its cases is already a failure or an
// error (its cases are all PASS, NOT_APPLICABLE or NOT_RUN, or it has none):
// `bench run` exits 3 for it, and CI must not count its skipped NOT_RUN
// cases as green; a run whose ERROR or INCONCLUSIVE case is already an
// error is not counted twice. A sealed run whose evidence is
// not as recorded (changed after the run, missing, unreadable, incomplete)
// adds an error testcase of type EVIDENCE carrying the notices: `bench
// verify` fails it, and its verdicts do not rest on what was recorded. The
// JSON summary lists the same notices in a run's evidence_problems.
package report
