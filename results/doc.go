// Package results is the bench's record of what happened: the record model
// and its JSON form, evidence files, signing, the archive and its
// verification. It imports no driver: drivers write evidence in the line
// formats of formats.md, and this package reads them as plain JSON.
//
// # Records and verdicts
//
// A Record is the outcome of one run on one fixture: which bench, fixture,
// device and firmware, the digest of the manufacturer's declarations, when it
// ran (and whether the bench clock could be trusted, see Clock), and one Case
// per test case with its References (EN 303 645, TS 103 701, PSTI, EN 18031,
// CRA), its Verdict, the reason, pointers into the evidence and its Timing.
//
// RunVerdict folds the cases into the run's verdict with the precedence
// FAIL > ERROR > NOT_RUN > INCONCLUSIVE > PASS > NOT_APPLICABLE: a device
// fault is never hidden behind a bench fault; a bench fault is named before
// a missing or undecided case. A run whose cases are all NOT_APPLICABLE is
// NOT_APPLICABLE, not PASS (nothing was tested), and a run without cases is
// NOT_RUN. ExitCode maps the run verdict to `bench run`'s exit code (0, 1, 3).
//
// The JSON form (Record.Marshal, ParseRecord) carries schema_version
// (SchemaVersion) and is described by schema/record.schema.json. ParseRecord
// refuses unknown fields, unknown verdicts and versions it does not know.
//
// # The archive
//
//	ARCHIVE/
//	  index.jsonl                   one line per event: a run opened, a run sealed
//	  checkpoint.dsse.json          the signed checkpoint of the index's Merkle tree
//	  index.lock                    flock'd while a line is appended
//	  keys/KEYID.pub                public keys that signed runs here
//	  tmp/RUN_ID/                   a run being begun, until it moves into runs/
//	  runs/RUN_ID/INCOMPLETE        present from Begin until Seal has finished
//	  runs/RUN_ID/evidence/NAME     written while the run goes
//	  runs/RUN_ID/record.json       the record, written by Seal
//	  runs/RUN_ID/record.dsse.json  its signature, written by Seal
//	  runs/RUN_ID/inclusion.json    its sealed line's inclusion proof, written by Seal
//
// The runner uses it like this:
//
//	a, err := results.OpenArchive(dir)
//	run, err := a.Begin(results.Meta{Bench: "lab-1", Fixture: "cam-1", Epoch: start})
//	w, err := run.Evidence("console-cam-1.jsonl", results.KindTranscript)
//	// ... hand w to the console recorder; w.Close() when the run ends
//	err = run.Seal(&results.Record{Device: ..., Cases: ...}, key)
//
// Begin makes the run's folder with an INCOMPLETE marker in tmp/, moves it
// into runs/ whole (so runs/ never holds a run folder without its marker)
// and appends an "open" line to the index before anything else, so from then
// on a crash or power cut leaves a run that is visibly incomplete.
// OpenArchive removes folders left in tmp/ for over an hour by a Begin cut
// off before the move; nothing of them was recorded. Evidence files are
// written straight into the run's folder (what was written before a crash
// is kept); each writer's Close syncs the file and records its size and
// SHA-256, computed from the bytes written. A file whose write, sync or close
// failed, or that the runner names with MarkIncomplete (a recorder's own
// fault), is listed as incomplete, and Validate refuses a PASS or
// NOT_APPLICABLE run over incomplete evidence (IncompleteEvidenceError: the
// runner records an ERROR and seals again). Seal fills in what the archive
// owns (run ID, clock, evidence list, run verdict, key ID, index position),
// writes record.json and record.dsse.json (temp file, fsync, rename, fsync
// the folder), appends the "sealed" line, and only then removes the marker.
// The "sealed" line is the point of commit: a crash before it leaves the
// marker and no sealed line, so a half-sealed run never verifies as
// complete; a crash after it leaves a signed, indexed result with a stale
// marker, which verify checks in full (and names the marker,
// ProblemStaleMarker) and the next OpenArchive removes after verifying the
// run with the archive's keys. Epoch is the time (with its monotonic reading) that
// every recorder of the run counts mono_ns from.
//
// Several runs, in one process or several, may write the same archive at
// once: each run has its own folder, and index appends are serialised by a
// mutex and by flock on index.lock. Each index line holds the SHA-256 of the
// line before it, and every sealed record names (under its signature) the
// seq and prev of its own "sealed" line, so lines deleted, inserted or
// reordered are found even if the chain was recomputed.
//
// # The log and its checkpoints
//
// The index is also an append-only transparency log (formats.md,
// "Checkpoint"): its lines are the leaves of an RFC 6962 Merkle tree
// (golang.org/x/mod/sumdb/tlog), and at every seal the bench signs a
// Checkpoint (origin, size, root hash: a C2SP tlog-checkpoint body, in a
// DSSE envelope like the records, so a P-256 key signs it) into
// checkpoint.dsse.json and writes the run's Inclusion proof against it.
// Lines cut off the end of the index (the newest runs deleted with their
// lines) then show against the checkpoint; an older copy of the whole
// archive, its older checkpoint with it, shows against a checkpoint kept
// elsewhere (VerifyOptions.Checkpoint: what a lab hands its customer, what
// the fleet controller keeps). A seal first checks the index against the
// checkpoint and refuses (ErrIndexChanged) to sign over an index that does
// not extend it. The checkpoint is written after the sealed line, so a
// crash between them leaves an index that extends the checkpoint: verify
// names the run sealed after it, and the next seal or Archive.Checkpoint
// signs over it and writes the proofs runs lack (also what an archive
// written before checkpoints needs once).
//
// # Abandoned runs
//
// A run cut off by a crash keeps its INCOMPLETE marker, and the archive
// fails verification (unless incomplete runs are allowed) until
// CloseAbandoned seals it with a record that says only what is known
// (Record.Abandoned): NOT_RUN, or the FAIL cases of a record written but
// never sealed, every evidence file marked incomplete.
//
// # Signing
//
// Seal signs with a crypto.Signer whose public key is ECDSA P-256 (the
// default, made by `bench keygen`) or Ed25519: a key loaded by
// LoadPrivateKey, or one held in a TPM or a PKCS#11 token through their Go
// bindings, so the private key need not be in memory. LoadPrivateKey refuses
// a file that group or others can read.
//
// The signature is a DSSE envelope (payloadType application/vnd.in-toto+json)
// over an in-toto Statement v1 whose subjects are record.json (by SHA-256)
// and every firmware image the record names, with in-toto's test-result
// predicate (https://in-toto.io/attestation/test-result/v0.1): PASSED for a
// PASS run, FAILED for FAIL, WARNED for anything else, the case IDs listed by
// outcome. The record itself is bound by its digest, so a third party
// verifies it with cosign and the bench's public key, offline:
//
//	SIGSTORE_REKOR_PUBLIC_KEY=bench.pub cosign verify-blob-attestation \
//	    --key bench.pub --insecure-ignore-tlog \
//	    --type https://in-toto.io/attestation/test-result/v0.1 \
//	    --signature runs/ID/record.dsse.json runs/ID/record.json
//
// (Naming a Rekor key stops cosign fetching Sigstore's TUF root, which it
// otherwise tries even offline; with the transparency log ignored the key is
// never used.)
//
// # The clock
//
// A Raspberry Pi has no real-time clock and boots in 1970 until NTP
// answers. Begin and Seal check the clock: a date before the bench software
// was built is wrong, and on Linux adjtimex's STA_UNSYNC says the kernel has
// not synchronised it. The record then says clock.synchronized false and why,
// rather than signing a time that is not true. If the wall clock went back
// during a run (NTP stepping a clock that was ahead), Seal does not refuse
// the record: finished becomes started plus the run's duration on the
// monotonic clock, and clock says so.
//
// # Verification
//
// Verify checks an archive or one run's folder and returns a Report whose
// Problems each name a kind, a file, an index line and a run: a signature
// that does not verify with the given keys, an evidence file whose size or
// digest differs, a file or run that is missing or extra, an index line that
// breaks the chain, a checkpoint missing or not matching the index, an
// inclusion proof that fails, a run that is incomplete, two keys signing
// one archive. Signatures are checked against VerifyOptions.Keys, the keys
// the caller trusts; without any, against the archive's own keys/ copy,
// and then Report.OK is false whatever else holds (Report.Trusted, Intact):
// a forger who rewrote the archive would have replaced that copy too. A run the index seals is
// verified in full whatever markers its folder holds, so a marker cannot
// hide a sealed verdict. A problem the index has with a run (its lines out
// of order, changed, missing) also keeps that run from being "verified".
// It returns an error only when
// the folder cannot be examined at all.
package results
