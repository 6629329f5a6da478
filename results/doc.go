// Package results is the bench's record of what happened: the record model
// and its JSON form, evidence files, signing, the archive and its
// verification. It imports no driver: drivers write evidence in the line
// formats of formats.md, and this package reads them as plain JSON.
//
// # Records and verdicts
//
// A Record is the outcome of one run on one fixture: which bench, fixture,
// device and firmware, the digest of the manufacturer's declarations, when it
// ran (and whether the bench clock could be trusted), and one Case per test
// case with its references (EN 303 645, TS 103 701, PSTI, EN 18031, CRA), its
// Verdict, the reason and pointers into the evidence. RunVerdict folds the
// cases into the run's verdict and ExitCode maps that to `bench run`'s exit
// code. The JSON form is versioned by schema_version (SchemaVersion) and
// described by schema/record.schema.json.
package results
