// Package suite is the contract between certification cases and the runner
// that executes them: what a case is (Case), what it is given (Session), and
// how its outcome becomes a verdict (Classify). The suites (suites/NAME)
// hold cases only; the runner (bench/runner) wires drivers into a Session,
// reaches the state a case starts from, and seals the record.
//
// # A case
//
// A Case names its references (EN 303 645 provisions, TS 103 701 test units,
// and where they apply PSTI, EN 18031 and CRA points, in the forms
// results.References documents), says what it needs
// (a reset button, a network service, profile procedures, firmware images),
// decides from the manufacturer's declarations whether it applies, and has a
// body. The body tests the device through the Session and ends in one of
// three ways:
//
//   - it returns nil after at least one check: PASS. A body that returns nil
//     having checked nothing is the suite's bug and ERROR: a PASS must rest
//     on something shown, never on a stub;
//   - it states a verdict: a failed assertion (Session.Expect, gomega) or
//     Session.Fail is FAIL with the message; Session.NotApplicable and
//     Session.Inconclusive give those verdicts with their reason;
//   - it returns an error, or panics: Classify decides whose fault it is.
//
// # Whose fault
//
// LAVA's lesson: every error knows whether it is the lab's, the job's or the
// device's. Here a device's fault is only ever FAIL when a case judged it so:
// an error the body returns is never FAIL, because an unjudged error is no
// indication about the device. Classify sorts errors into parties:
//
//   - bench: a lost or closed console, an unwritable transcript, a power
//     switch or button that failed, anything wrapped with Bench;
//   - configuration: the bench file, profile or declarations cannot support
//     the case (wrapped with Config);
//   - suite: a panic (its stack is kept as evidence), a body that checked
//     nothing, or an error from the device's behaviour (a console timeout, a
//     refused login) that the case returned instead of judging;
//   - cancelled: the run's context ended before the case did: NOT_RUN.
//
// Every one but the last is ERROR, its reason naming the party, so a lab can
// tell a broken bench from a broken device from a broken suite.
package suite
