package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/certbench/certbench/results"
)

// Source is what a report is made from, as Load read it: one run or every
// run of an archive, each with its record and evidence, and a notice
// wherever something could not be read. Every format is written from a
// Source.
type Source struct {
	// Dir is the folder given to Load.
	Dir string
	// Kind is KindArchive or KindRun.
	Kind string
	// Runs are in the order of their IDs, which is the order they began.
	Runs []*Run
	// Notices are about the archive as a whole (an unreadable index, a run
	// the index names whose folder is gone is a Run with StateMissing).
	Notices []string
}

// What Load was given.
const (
	KindArchive = "archive" // ARCHIVE/index.jsonl and ARCHIVE/runs/
	KindRun     = "run"     // one runs/RUN_ID folder
)

// State is how complete a run is on disk, and whether its record is the one
// the archive sealed. It is not about signatures: a report does not check
// them (`bench verify` does), and says so in every format (NotVerified).
type State string

// Run states.
const (
	// StateSealed: record.json was written and the run's INCOMPLETE marker
	// removed; the run went through to its end.
	StateSealed State = "sealed"
	// StateIncomplete: the INCOMPLETE marker is still there: the bench
	// stopped (crash, power loss, kill) before the run was sealed. Record is
	// set only when sealing itself was cut off after record.json was written.
	StateIncomplete State = "incomplete"
	// StateUnreadable: no INCOMPLETE marker, but record.json is missing or
	// is not a valid record. Nothing of it is shown as a verdict.
	StateUnreadable State = "unreadable"
	// StateMissing: the archive's index names the run but its folder is gone.
	StateMissing State = "missing"
	// StateTampered: record.json is a valid record, but not the one the
	// archive sealed: its SHA-256, verdict or fixture differ from the
	// index's "sealed" line, the index has no such line for a record
	// without an INCOMPLETE marker (or has two), or its signature
	// (record.dsse.json) is gone or differs. The record or the index was
	// changed after sealing; Record is nil and none of its verdicts are
	// shown. The notices say what differs.
	StateTampered State = "tampered"
	// StateUnchecked: record.json is a valid record that claims to be
	// sealed, but nothing at hand vouches for it: there is no index to
	// compare it with (a run folder read without its archive, or an
	// archive whose index is gone), and its signature file's statement
	// does not name a digest for it (the file is not a DSSE envelope, or
	// names no record.json). Nothing shows it was changed either, so what
	// it says is shown, but like an unsealed record it is no verdict: only
	// a FAIL in it is stated (a problem found stays found).
	StateUnchecked State = "unchecked"
)

// NotVerified is what every report says about signatures, in every format:
// it reads the files as they are, and compares records only with the
// archive's index, which is not signed either.
func NotVerified(dir string) string {
	return fmt.Sprintf("signatures are not verified by reports: run `bench verify %s` to check them", dir)
}

// Run is one run as the report shows it.
type Run struct {
	ID    string
	Dir   string
	State State
	// Record is the parsed and validated record.json; nil when there is
	// none or it is invalid (see Notices).
	Record *results.Record
	// Bench, Fixture and Opened come from the record, or for a run cut off
	// before it had one, from its INCOMPLETE marker or the index.
	Bench   string
	Fixture string
	Opened  time.Time
	// Notices say what is wrong with the run as a whole.
	Notices []string
	// Sealed is the index's "sealed" line for the run, when the report had
	// the archive's index to read and it has one line sealing the run. It
	// is not signed: for a StateTampered run it says what was sealed, or
	// what the index was changed to say.
	Sealed *results.IndexEntry

	// files are the run's evidence files: those the record lists, in its
	// order, or for a run without a record, those found in its evidence
	// folder (listed is false then). They are read on first use and let go
	// by release, so a report on a large archive holds the evidence of one
	// run at a time.
	files    []results.File
	listed   bool
	evidence []*Evidence
	read     bool
}

// Evidence returns the run's evidence files, read and decoded; each carries
// its own notices. The files are read on the first call.
func (r *Run) Evidence() []*Evidence {
	if !r.read {
		r.read = true
		r.evidence = make([]*Evidence, 0, len(r.files))
		for _, f := range r.files {
			r.evidence = append(r.evidence, readEvidence(r.Dir, f, r.listed))
		}
	}
	return r.evidence
}

// release lets the run's evidence go; Evidence reads it again if asked.
func (r *Run) release() {
	r.evidence, r.read = nil, false
}

// AllNotices are the run's notices followed by those of its evidence files.
func (r *Run) AllNotices() []string {
	out := append([]string(nil), r.Notices...)
	for _, ev := range r.Evidence() {
		out = append(out, ev.Notices...)
	}
	return out
}

// EvidenceProblems are the notices of the run's evidence files: a file
// changed after the run, missing or unreadable, marked incomplete by the
// bench, or with lines that cannot be decoded. Each means the run's
// verdicts cannot be shown resting on what was recorded; `bench verify`
// fails such a run, so no report may show it green.
func (r *Run) EvidenceProblems() []string {
	var out []string
	for _, ev := range r.Evidence() {
		out = append(out, ev.Notices...)
	}
	return out
}

// Verdict is the run's verdict as a report may state it: a sealed record's,
// or FAIL from a record that was written but never sealed, or that nothing
// vouches for (a problem found stays found). Otherwise it is "": an unsealed
// or unchecked PASS is not a result, and a run without a valid record has no
// verdict.
func (r *Run) Verdict() results.Verdict {
	switch {
	case r.Record == nil:
		return ""
	case r.State == StateSealed, r.Record.Verdict == results.Fail:
		return r.Record.Verdict
	}
	return ""
}

// EvidenceFile returns the evidence the report read at path ("evidence/x").
func (r *Run) EvidenceFile(path string) *Evidence {
	for _, e := range r.Evidence() {
		if e.Path == path {
			return e
		}
	}
	return nil
}

// ErrNotResults is wrapped by Load's error when dir is neither an archive nor
// a run folder.
var ErrNotResults = errors.New("neither an archive nor a run folder")

// Load reads the archive or the single run folder at dir. It fails only when
// dir cannot be read at all or holds no results; anything wrong inside (a
// missing record, a malformed transcript line) becomes a notice in place, so
// one bad file never hides the other runs' results.
func Load(dir string) (*Source, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("read results in %s: not a folder; give an archive or a run folder: %w", dir, ErrNotResults)
	}
	rep := &Source{Dir: dir}
	switch {
	case exists(filepath.Join(dir, results.IndexFile)) || exists(filepath.Join(dir, results.RunsDir)):
		rep.Kind = KindArchive
		loadArchive(rep)
	case exists(filepath.Join(dir, results.RecordFile)) || exists(filepath.Join(dir, results.IncompleteFile)):
		rep.Kind = KindRun
		rep.Runs = []*Run{loadRun(dir, filepath.Base(dir), archiveIndexOf(dir))}
	default:
		return nil, fmt.Errorf("read results in %s: no %s or %s/ (an archive), no %s or %s (a run folder): %w",
			dir, results.IndexFile, results.RunsDir, results.RecordFile, results.IncompleteFile, ErrNotResults)
	}
	return rep, nil
}

func loadArchive(rep *Source) {
	// The index is read to find runs whose folder is gone (a report must
	// not let a lost result pass unnoticed) and to compare each record with
	// what was sealed. Checking its chain is bench verify's job.
	idx := readIndex(rep.Dir)
	rep.Notices = append(rep.Notices, idx.notices...)
	indexed := idx.named
	ids := map[string]bool{}
	ents, err := os.ReadDir(filepath.Join(rep.Dir, results.RunsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		rep.Notices = append(rep.Notices, fmt.Sprintf("%s/ cannot be read: %v", results.RunsDir, err))
	}
	for _, e := range ents {
		if e.IsDir() {
			ids[e.Name()] = true
		}
	}
	for id := range indexed {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		runDir := filepath.Join(rep.Dir, results.RunsDir, id)
		if !exists(runDir) {
			e := indexed[id]
			run := &Run{ID: id, Dir: runDir, State: StateMissing, Fixture: e.Fixture,
				Notices: []string{fmt.Sprintf("%s names this run but its folder %s/%s is gone: its results are lost from this archive", results.IndexFile, results.RunsDir, id)}}
			if sl := idx.sealed[id]; len(sl) == 1 {
				run.Sealed = &sl[0].e
				run.Notices[0] += fmt.Sprintf(" (line %d sealed it with verdict %s)", sl[0].n, sl[0].e.Verdict)
			}
			rep.Runs = append(rep.Runs, run)
			continue
		}
		run := loadRun(runDir, id, idx)
		if run.Fixture == "" {
			run.Fixture = indexed[id].Fixture
		}
		rep.Runs = append(rep.Runs, run)
	}
}

// loadRun reads one run folder and compares its record with what idx, the
// index of the archive around it, sealed (idx is nil for a run folder
// without an archive). It never fails: what cannot be read is a notice on
// the run or on one of its evidence files.
func loadRun(dir, id string, idx *index) *Run {
	run := &Run{ID: id, Dir: dir}
	marker, markerErr := os.ReadFile(filepath.Join(dir, results.IncompleteFile))
	marked := markerErr == nil
	if marked {
		var m struct {
			Bench   string    `json:"bench"`
			Fixture string    `json:"fixture"`
			Opened  time.Time `json:"opened"`
		}
		if err := json.Unmarshal(marker, &m); err != nil {
			run.Notices = append(run.Notices, fmt.Sprintf("its %s marker cannot be read: %v", results.IncompleteFile, err))
		}
		run.Bench, run.Fixture, run.Opened = m.Bench, m.Fixture, m.Opened
	}

	recJSON, recErr := os.ReadFile(filepath.Join(dir, results.RecordFile))
	switch {
	case recErr == nil:
		rec, perr := results.ParseRecord(recJSON)
		if perr != nil {
			run.Notices = append(run.Notices, fmt.Sprintf("%s is not a valid record, so none of its verdicts are shown: %s",
				results.RecordFile, strings.ReplaceAll(perr.Error(), "\n", "; ")))
			break
		}
		run.Record = rec
		run.Bench, run.Fixture, run.Opened = rec.Bench.Name, rec.Fixture.Name, rec.Started
		if rec.RunID != id {
			run.Notices = append(run.Notices, fmt.Sprintf("the record's run_id is %q but its folder is %q (moved or swapped? run bench verify)", rec.RunID, id))
		}
	case errors.Is(recErr, fs.ErrNotExist):
	default:
		run.Notices = append(run.Notices, fmt.Sprintf("%s cannot be read: %v", results.RecordFile, recErr))
	}

	// What the archive sealed. A record without a marker claims to be
	// sealed; a record with one may be too (a crash after the sealed line,
	// or a marker put there to hide a verdict): the index decides.
	sealed, tampered, unchecked := checkSeal(run, idx, marked, recJSON, recErr)
	if sealed != nil {
		run.Sealed = &sealed.e
		if sealed.e.Fixture != "" {
			run.Fixture = sealed.e.Fixture
		}
	}
	switch {
	case len(tampered) > 0:
		run.State, run.Record = StateTampered, nil
		head := "this run's record cannot be trusted: nothing shows it is the one the bench sealed, so none of its verdicts are shown (run bench verify)"
		if sealed != nil {
			head = fmt.Sprintf("this run's record is not the one the archive sealed (%s line %d sealed it with verdict %s): the record or the index was changed after sealing, so none of its verdicts are shown (run bench verify)",
				results.IndexFile, sealed.n, sealed.e.Verdict)
		}
		run.Notices = append(append([]string{head}, tampered...), run.Notices...)
	case unchecked != "":
		run.State = StateUnchecked
		run.Notices = append([]string{unchecked}, run.Notices...)
	case sealed != nil && run.Record == nil:
		// Sealed, and the record is gone or broken: a lost result, even
		// behind an INCOMPLETE marker.
		run.State = StateUnreadable
		what := "is missing"
		if recErr == nil || !errors.Is(recErr, fs.ErrNotExist) {
			what = "cannot be used"
		}
		run.Notices = append([]string{fmt.Sprintf("%s line %d sealed this run with verdict %s, but its %s %s: the run's results are lost",
			results.IndexFile, sealed.n, sealed.e.Verdict, results.RecordFile, what)}, run.Notices...)
	case sealed != nil:
		run.State = StateSealed
		if marked {
			run.Notices = append(run.Notices, fmt.Sprintf("its %s marker is stale: %s line %d sealed the run (a crash after sealing, or the marker was put there later); bench verify checks the run in full",
				results.IncompleteFile, results.IndexFile, sealed.n))
		}
	case marked && run.Record != nil:
		run.State = StateIncomplete
		run.Notices = append([]string{"the run went to its end, but sealing was cut off (crash, power loss or kill) after its record was written: the record is not signed"}, run.Notices...)
	case marked:
		run.State = StateIncomplete
		opened := "at an unknown time"
		if !run.Opened.IsZero() {
			opened = run.Opened.UTC().Format(time.RFC3339)
		}
		run.Notices = append([]string{fmt.Sprintf("the run began %s and was cut off (crash, power loss or kill) before it had a record: no case has a verdict; the evidence written until then is shown", opened)}, run.Notices...)
	case run.Record != nil:
		run.State = StateSealed
	default:
		run.State = StateUnreadable
		if errors.Is(recErr, fs.ErrNotExist) {
			run.Notices = append(run.Notices, fmt.Sprintf("%s is missing: the run's results are lost", results.RecordFile))
		}
	}
	switch {
	case run.State == StateUnchecked: // its notice says why
	case idx == nil && run.Record != nil:
		run.Notices = append(run.Notices, fmt.Sprintf("this run folder was read without the archive around it, so its record was compared only with the digest its %s names, not with what the archive's index sealed", results.EnvelopeFile))
	case idx != nil && !idx.ok && run.Record != nil:
		run.Notices = append(run.Notices, fmt.Sprintf("the archive's %s is missing or cannot be read, so this record was compared only with the digest its %s names, not with what was sealed", results.IndexFile, results.EnvelopeFile))
	}

	if run.Record != nil {
		run.files, run.listed = run.Record.Evidence, true
		return run
	}
	// No record: show what the evidence folder holds, its kind guessed from
	// the file name conventions of formats.md.
	ents, err := os.ReadDir(filepath.Join(dir, results.EvidenceDir))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			run.Notices = append(run.Notices, fmt.Sprintf("%s/ cannot be read: %v", results.EvidenceDir, err))
		}
		return run
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		run.files = append(run.files, results.File{Path: results.EvidenceDir + "/" + e.Name(), Kind: guessKind(e.Name())})
	}
	return run
}

// checkSeal compares the run folder's record.json and record.dsse.json with
// what idx, the archive's index, sealed, and record.json with the digest
// the statement in record.dsse.json names for it. It returns the index's
// one "sealed" line for the run (nil if none), what differs (nothing: the
// record is the one sealed, or there is nothing to compare with), and for
// a record that claims to be sealed but that neither the index nor the
// envelope vouches for, why not (StateUnchecked). This is no signature
// check (the index and the envelope can be edited too; `bench verify`
// checks the signature), but it is what keeps a record edited by hand, a
// FAIL turned PASS, from reading as a result, with or without its archive.
func checkSeal(run *Run, idx *index, marked bool, recJSON []byte, recErr error) (*sealLine, []string, string) {
	rec := run.Record
	envJSON, envErr := os.ReadFile(filepath.Join(run.Dir, results.EnvelopeFile))
	var bad []string
	envelopeGone := func() {
		if errors.Is(envErr, fs.ErrNotExist) {
			bad = append(bad, fmt.Sprintf("its signature %s is missing: nothing shows the record is the one the bench signed", results.EnvelopeFile))
		} else if envErr != nil {
			bad = append(bad, fmt.Sprintf("its signature %s cannot be read: %v", results.EnvelopeFile, envErr))
		}
	}
	// What the envelope says of the record, as cosign checks an
	// attestation's subject: no key is needed to compare a digest.
	envVouches, envCannot := false, ""
	if rec != nil && envErr == nil {
		digest, why := recordDigest(envJSON)
		switch got := sha256Hex(recJSON); {
		case why != "":
			envCannot = why
		case digest != got:
			bad = append(bad, fmt.Sprintf("%s has SHA-256 %s, but the statement in its signature %s names %s: the record was changed after it was signed",
				results.RecordFile, short(got), results.EnvelopeFile, short(digest)))
		default:
			envVouches = true
		}
	}
	if idx == nil || !idx.ok {
		// No index to compare with; a record that claims to be sealed must
		// still have its signature, and the signature must name it.
		if rec == nil || marked {
			return nil, bad, ""
		}
		envelopeGone()
		if len(bad) > 0 || envVouches {
			return nil, bad, ""
		}
		without := "this run folder was read without the archive around it"
		if idx != nil {
			without = fmt.Sprintf("the archive's %s is missing or cannot be read", results.IndexFile)
		}
		return nil, nil, fmt.Sprintf("nothing vouches for this record: %s, and its signature %s %s; what it says is shown, but it is no verdict (run bench verify)",
			without, results.EnvelopeFile, envCannot)
	}
	lines := idx.sealedLines(run.ID, rec != nil && !marked)
	switch {
	case len(lines) > 1:
		return nil, append([]string{fmt.Sprintf("%s seals this run more than once (lines %d and %d)", results.IndexFile, lines[0].n, lines[1].n)}, bad...), ""
	case len(lines) == 0:
		if rec != nil && !marked {
			bad = append(bad, fmt.Sprintf("%s has no \"sealed\" line for this run, yet its folder holds a record and no %s marker: the record was not sealed into this archive (copied in?) or its index line was removed",
				results.IndexFile, results.IncompleteFile))
		}
		return nil, bad, ""
	}
	sl := &lines[0]
	if recErr != nil {
		return sl, nil, "" // the record is lost; loadRun says so
	}
	if got := sha256Hex(recJSON); got != sl.e.Record {
		bad = append(bad, fmt.Sprintf("%s has SHA-256 %s, but %s line %d sealed it with %s", results.RecordFile, short(got), results.IndexFile, sl.n, short(sl.e.Record)))
	}
	if rec == nil {
		return sl, nil, "" // not a valid record: loadRun says so; its verdicts are not shown anyway
	}
	if rec.Verdict != sl.e.Verdict {
		bad = append(bad, fmt.Sprintf("the record says verdict %s, but %s line %d sealed verdict %s", rec.Verdict, results.IndexFile, sl.n, sl.e.Verdict))
	}
	if rec.Fixture.Name != sl.e.Fixture {
		bad = append(bad, fmt.Sprintf("the record says fixture %q, but %s line %d sealed fixture %q", rec.Fixture.Name, results.IndexFile, sl.n, sl.e.Fixture))
	}
	envelopeGone()
	if envErr == nil {
		if got := sha256Hex(envJSON); got != sl.e.Envelope {
			bad = append(bad, fmt.Sprintf("its signature %s has SHA-256 %s, but %s line %d sealed it with %s", results.EnvelopeFile, short(got), results.IndexFile, sl.n, short(sl.e.Envelope)))
		}
	}
	return sl, bad, ""
}

// recordDigest returns the SHA-256 the statement in record.dsse.json names
// for record.json, or why it names none.
func recordDigest(envJSON []byte) (digest, why string) {
	env, err := results.ParseEnvelope(envJSON)
	if err != nil {
		return "", fmt.Sprintf("cannot be read (%v)", err)
	}
	st, err := env.Statement()
	if err != nil {
		return "", fmt.Sprintf("holds no statement (%v)", err)
	}
	d, ok := st.SubjectDigest(results.RecordSubject)
	if !ok || d == "" {
		return "", fmt.Sprintf("names no SHA-256 for %s", results.RecordSubject)
	}
	return d, ""
}

// index is what an archive's index.jsonl says, as far as a report needs it:
// the runs it names and the "sealed" lines of each. Its chain is bench
// verify's to check.
type index struct {
	dir     string // the archive
	ok      bool   // index.jsonl was read
	named   map[string]results.IndexEntry
	sealed  map[string][]sealLine
	notices []string
	reread  bool
}

// sealLine is a "sealed" line of the index and its number, from 1.
type sealLine struct {
	n int
	e results.IndexEntry
}

func readIndex(archive string) *index {
	idx := &index{dir: archive, named: map[string]results.IndexEntry{}, sealed: map[string][]sealLine{}}
	b, err := os.ReadFile(filepath.Join(archive, results.IndexFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		idx.notices = append(idx.notices, fmt.Sprintf("the archive has no %s; runs are listed from the %s folder and their records cannot be compared with what was sealed", results.IndexFile, results.RunsDir))
		return idx
	case err != nil:
		idx.notices = append(idx.notices, fmt.Sprintf("%s cannot be read: %v", results.IndexFile, err))
		return idx
	}
	idx.ok = true
	bad := 0
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e results.IndexEntry
		if err := json.Unmarshal(line, &e); err != nil || e.Run == "" {
			if bad++; bad <= 3 {
				idx.notices = append(idx.notices, fmt.Sprintf("%s line %d is not an index entry; skipped", results.IndexFile, i+1))
			}
			continue
		}
		if prev, ok := idx.named[e.Run]; !ok || prev.Fixture == "" {
			idx.named[e.Run] = e
		}
		if e.State == results.StateSealed {
			idx.sealed[e.Run] = append(idx.sealed[e.Run], sealLine{i + 1, e})
		}
	}
	if bad > 3 {
		idx.notices = append(idx.notices, fmt.Sprintf("%s: %d more lines are not index entries", results.IndexFile, bad-3))
	}
	return idx
}

// sealedLines returns the index's "sealed" lines for run. With need (the
// run's folder says it was sealed) and none found, the index is read once
// more: a run sealed while Load was reading has its sealed line appended
// before its marker goes, so after the first read of the index.
func (idx *index) sealedLines(run string, need bool) []sealLine {
	if len(idx.sealed[run]) == 0 && need && !idx.reread {
		idx.reread = true
		if again := readIndex(idx.dir); again.ok {
			idx.sealed = again.sealed
		}
	}
	return idx.sealed[run]
}

// archiveIndexOf reads the index of the archive around the run folder dir
// (ARCHIVE/runs/RUN_ID), or returns nil when dir is not in one.
func archiveIndexOf(dir string) *index {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	runs := filepath.Dir(abs)
	archive := filepath.Dir(runs)
	if filepath.Base(runs) != results.RunsDir || !exists(filepath.Join(archive, results.IndexFile)) {
		return nil
	}
	return readIndex(archive)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// short is a digest as a person compares it.
func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12] + "…"
	}
	if digest == "" {
		return "(none)"
	}
	return digest
}

func guessKind(name string) results.Kind {
	switch {
	case strings.HasPrefix(name, "console-") && strings.HasSuffix(name, ".jsonl"):
		return results.KindTranscript
	case strings.HasPrefix(name, "power-") && strings.HasSuffix(name, ".jsonl"):
		return results.KindPower
	}
	return results.KindAttachment
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
