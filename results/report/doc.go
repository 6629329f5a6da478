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
// Signatures are not checked here; that is `bench verify`, and every format
// says so (NotVerified). But a record edited after sealing must not read as
// a result: each record is compared with the "sealed" line the archive's
// index holds for its run (the SHA-256 of record.json and record.dsse.json,
// the verdict and the fixture), and a sealed record must have its
// signature file. A record that differs, that the index never sealed, or
// whose signature is gone is StateTampered: none of its verdicts are shown,
// and the notices say what differs. The index decides whether a run was
// sealed, whatever INCOMPLETE marker its folder holds, so a marker can hide
// neither a verdict nor an edit. Every record is also compared with the
// SHA-256 the statement in its record.dsse.json names for record.json (no
// key is needed to compare a digest; it is what cosign checks of an
// attestation's subject): a record that differs is StateTampered, with or
// without the archive around it. A run folder read without its archive
// (ARCHIVE/runs/RUN_ID) has no index to be compared with, and says so; when
// its envelope names no digest either, nothing vouches for the record and
// the run is StateUnchecked: what it says is shown, but only a FAIL in it
// is stated as a verdict, and JUnit has an error of type UNCHECKED. None of
// this replaces `bench verify`: neither the index nor the envelope's
// signature is checked here.
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
// per power switch, a lane per console, a lane of cases by verdict.
//
// # Verdicts in JUnit
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
