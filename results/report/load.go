package report

import (
	"bytes"
	"crypto"
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
	// Runs are failures first, then by how far from a pass they are
	// (Rank), and in the order of their IDs (the order they began) within
	// one rank: a green run never comes before a red one.
	Runs []*Run
	// Notices are about the archive as a whole (an unreadable index, a run
	// the index names whose folder is gone is a Run with StateMissing).
	Notices []string
	// Verification is what results.Verify found, the same check as `bench
	// verify` (with incomplete runs allowed: the report marks them). Unless
	// it is Intact, no run of the report states a PASS; unless it is
	// Trusted (Load was given the bench key), nothing is shown as verified.
	Verification *results.Report
}

// Intact reports whether the archive verifies (whatever keys).
func (s *Source) Intact() bool { return s.Verification.Intact() }

// Trusted reports whether signatures were checked against keys given to
// Load, rather than the archive's own copy.
func (s *Source) Trusted() bool { return s.Verification.Trusted }

// Status is the report's first statement, in every format: whether the
// archive verifies, and against what.
func (s *Source) Status() string {
	v := s.Verification
	switch {
	case !v.Intact():
		return fmt.Sprintf("DOES NOT VERIFY: %d problem(s) (the same `bench verify %s` finds); no result in this report is stated as passed", len(v.Problems), s.Dir)
	case !v.Trusted:
		return "NOT VERIFIED: no trusted key was given (--key bench.pub or -c BENCH.yaml); signatures were checked only against the archive's own keys/, which a forger would have replaced, so no result here is verified"
	}
	keys := make([]string, len(v.Keys))
	for i, k := range v.Keys {
		keys[i] = short(k)
	}
	if v.Mode == "run" {
		return fmt.Sprintf("Verified: the signature (key %s), every evidence file and the inclusion proof, as `bench verify` checks them (this run's folder alone: verify the archive for its index)", strings.Join(keys, ", "))
	}
	return fmt.Sprintf("Verified: every signature (key %s), evidence file and index line and the checkpoint, as `bench verify` checks them", strings.Join(keys, ", "))
}

// CheckpointLine says which signed checkpoint the archive is at, for the
// lab to hand its customer; "" when it has none.
func (s *Source) CheckpointLine() string {
	c := s.Verification.Checkpoint
	if c == nil {
		return ""
	}
	return fmt.Sprintf("Checkpoint: %s, %d index lines, root %s (signed by key %s; `bench verify --checkpoint %s` shows a later copy of the archive extends it)",
		c.Origin, c.Size, c.Root, short(c.KeyID), results.CheckpointFile)
}

// What Load was given.
const (
	KindArchive = "archive" // ARCHIVE/index.jsonl and ARCHIVE/runs/
	KindRun     = "run"     // one runs/RUN_ID folder
)

// State is how complete a run is on disk, and whether its record is the one
// the bench signed and sealed, as results.Verify decided.
type State string

// Run states.
const (
	// StateSealed: the run was sealed and its record is the one the bench
	// signed (its evidence may still have problems, named in its notices;
	// and unless the whole archive verifies, no PASS of it is stated).
	StateSealed State = "sealed"
	// StateIncomplete: the INCOMPLETE marker is still there and the index
	// has no "sealed" line: the bench stopped (crash, power loss, kill)
	// before the run was sealed. Record is set only when sealing itself was
	// cut off after record.json was written.
	StateIncomplete State = "incomplete"
	// StateUnreadable: record.json is missing or is not a valid record.
	// Nothing of it is shown as a verdict.
	StateUnreadable State = "unreadable"
	// StateMissing: the archive's index names the run but its folder is gone.
	StateMissing State = "missing"
	// StateTampered: record.json is a valid record, but not the one the
	// bench signed and sealed: its signature does not verify, it differs
	// from the digest its statement or the index's "sealed" line names,
	// its index lines or inclusion proof are wrong. Record is nil and none
	// of its verdicts are shown; the notices say what differs.
	StateTampered State = "tampered"
)

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
	// stated is whether the run's verdicts are results: its record is
	// sealed and the archive verifies. Otherwise only FAIL is stated (a
	// problem found stays found); see CaseVerdict.
	stated bool
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
	changed  map[string]string // evidence path → what results.Verify found changed
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
			r.evidence = append(r.evidence, readEvidence(r.Dir, f, r.listed, r.changed[f.Path]))
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

// Verdict is the run's verdict as a report may state it: a sealed record's
// in an archive that verifies (Stated), or FAIL from any record shown (one
// written but never sealed, one in an archive that does not verify: a
// problem found stays found). Otherwise it is "": such a PASS is not a
// result, and a run without a valid record has no verdict.
func (r *Run) Verdict() results.Verdict {
	switch {
	case r.Record == nil:
		return ""
	case r.stated, r.Record.Verdict == results.Fail:
		return r.Record.Verdict
	}
	return ""
}

// Stated reports whether the run's verdicts are results: it is sealed and
// the archive verifies.
func (r *Run) Stated() bool { return r.stated }

// CaseVerdict is a case's verdict as a report may state it: its own, except
// that a PASS or NOT_APPLICABLE of a run whose results are not stated (not
// sealed, or in an archive that does not verify) is "": no report counts it
// as a pass.
func (r *Run) CaseVerdict(c *results.Case) results.Verdict {
	if !r.stated && (c.Verdict == results.Pass || c.Verdict == results.NotApplicable) {
		return ""
	}
	return c.Verdict
}

// Rank orders runs for a reader, most in need of action first: 0 FAIL,
// 1 a record that cannot be trusted or is lost, 2 ERROR, 3 INCONCLUSIVE,
// 4 NOT_RUN or cut off, 5 a result not stated (not verified), 6 PASS,
// 7 NOT_APPLICABLE.
func (r *Run) Rank() int {
	switch {
	case r.Verdict() == results.Fail:
		return 0
	case r.State == StateTampered, r.State == StateUnreadable, r.State == StateMissing:
		return 1
	case r.Record == nil, r.State == StateIncomplete:
		return 4
	case !r.stated:
		return 5
	}
	switch r.Record.Verdict {
	case results.Error:
		return 2
	case results.Inconclusive:
		return 3
	case results.NotRun:
		return 4
	case results.Pass:
		return 6
	}
	return 7
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
//
// Load checks the archive with results.Verify, the check `bench verify`
// makes, against keys (the bench's public key; none: the archive's own
// keys/ copy, and the report says nothing is verified). The run states come
// from that check, not from a second one.
func Load(dir string, keys ...crypto.PublicKey) (*Source, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("read results in %s: not a folder; give an archive or a run folder: %w", dir, ErrNotResults)
	}
	rep := &Source{Dir: dir}
	isArchive := exists(filepath.Join(dir, results.IndexFile)) || exists(filepath.Join(dir, results.RunsDir))
	if !isArchive && !exists(filepath.Join(dir, results.RecordFile)) && !exists(filepath.Join(dir, results.IncompleteFile)) {
		return nil, fmt.Errorf("read results in %s: no %s or %s/ (an archive), no %s or %s (a run folder): %w",
			dir, results.IndexFile, results.RunsDir, results.RecordFile, results.IncompleteFile, ErrNotResults)
	}
	vr, err := results.Verify(dir, results.VerifyOptions{Keys: keys, AllowIncomplete: true})
	if err != nil {
		return nil, fmt.Errorf("read results in %s: %w", dir, err)
	}
	rep.Verification = vr
	view := newView(vr)
	if isArchive {
		rep.Kind = KindArchive
		loadArchive(rep, view)
	} else {
		rep.Kind = KindRun
		id := filepath.Base(dir)
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			id = filepath.Base(real)
		}
		rep.Runs = []*Run{loadRun(dir, id, archiveIndexOf(dir), view)}
	}
	for _, run := range rep.Runs {
		run.stated = run.State == StateSealed && vr.Intact()
	}
	sort.SliceStable(rep.Runs, func(i, j int) bool { return rep.Runs[i].Rank() < rep.Runs[j].Rank() })
	return rep, nil
}

// view is a results.Report by run.
type view struct {
	status   map[string]results.RunStatus
	problems map[string][]results.Problem
}

func newView(vr *results.Report) *view {
	v := &view{status: map[string]results.RunStatus{}, problems: map[string][]results.Problem{}}
	for _, st := range vr.Runs {
		v.status[st.ID] = st
	}
	for _, p := range vr.Problems {
		if p.Run != "" {
			v.problems[p.Run] = append(v.problems[p.Run], p)
		}
	}
	return v
}

// untrusted returns the problems that make a run's record not the one the
// bench signed and sealed: anything about its signature, record, envelope,
// index lines or checkpoint. Evidence problems and a stale marker leave the
// record standing (the report shows the evidence problems in place).
func untrusted(id string, ps []results.Problem) []results.Problem {
	var out []results.Problem
	for _, p := range ps {
		switch p.Kind {
		case results.ProblemStaleMarker, results.ProblemIncomplete, results.ProblemExtra:
			continue
		case results.ProblemDigest, results.ProblemSize, results.ProblemMissing:
			if strings.HasPrefix(p.File, evidencePrefix(id)) || strings.HasPrefix(p.File, results.EvidenceDir+"/") {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

func evidencePrefix(id string) string {
	return results.RunsDir + "/" + id + "/" + results.EvidenceDir + "/"
}

// isEvidence says whether a problem's file (relative to an archive, or to
// the run's folder) is one of run id's evidence files.
func isEvidence(id, file string) bool {
	return strings.HasPrefix(file, evidencePrefix(id)) || strings.HasPrefix(file, results.EvidenceDir+"/")
}

// evidencePath is file as the record lists it: "evidence/NAME".
func evidencePath(id, file string) string {
	return strings.TrimPrefix(file, results.RunsDir+"/"+id+"/")
}

func loadArchive(rep *Source, view *view) {
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
		run := loadRun(runDir, id, idx, view)
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
func loadRun(dir, id string, idx *index, view *view) *Run {
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

	// What the archive's index sealed, for the reader (it is not signed);
	// whether the record is that one, results.Verify decided.
	if idx != nil && idx.ok {
		if sl := idx.sealedLines(id, run.Record != nil && !marked); len(sl) == 1 {
			run.Sealed = &sl[0].e
			if sl[0].e.Fixture != "" {
				run.Fixture = sl[0].e.Fixture
			}
		}
	}
	st, verified := view.status[id]
	probs := view.problems[id]
	var shown []string
	run.changed = map[string]string{}
	for _, p := range probs {
		switch {
		case p.Kind == results.ProblemIncomplete:
		case (p.Kind == results.ProblemDigest || p.Kind == results.ProblemSize) && isEvidence(id, p.File):
			// Its evidence file's own notice says so, in place.
			run.changed[evidencePath(id, p.File)] = p.Message
		case p.Kind == results.ProblemMissing && isEvidence(id, p.File):
			// Its evidence file's notice says it cannot be read.
		default:
			shown = append(shown, "bench verify: "+p.String())
		}
	}
	sealedAs := ""
	if run.Sealed != nil {
		sealedAs = fmt.Sprintf(" (its index sealed it with verdict %s)", run.Sealed.Verdict)
	}
	switch {
	case !verified:
		run.State = StateUnreadable
		run.Notices = append(run.Notices, "bench verify did not list this run")
	case st.State == results.RunIncomplete && run.Record != nil:
		run.State = StateIncomplete
		run.Notices = append([]string{"the run went to its end, but sealing was cut off (crash, power loss or kill) after its record was written: the record is not signed"}, run.Notices...)
	case st.State == results.RunIncomplete:
		run.State = StateIncomplete
		opened := "at an unknown time"
		if !run.Opened.IsZero() {
			opened = run.Opened.UTC().Format(time.RFC3339)
		}
		run.Notices = append([]string{fmt.Sprintf("the run began %s and was cut off (crash, power loss or kill) before it had a record: no case has a verdict; the evidence written until then is shown; `bench archive close-abandoned` closes it", opened)}, run.Notices...)
	case st.State == results.RunVerified:
		run.State = StateSealed
	case run.Record == nil:
		run.State = StateUnreadable
		what := "is missing"
		if !errors.Is(recErr, fs.ErrNotExist) {
			what = "cannot be used"
		}
		run.Notices = append([]string{fmt.Sprintf("its %s %s%s: the run's results are lost", results.RecordFile, what, sealedAs)}, run.Notices...)
	case len(untrusted(id, probs)) > 0:
		run.State, run.Record = StateTampered, nil
		run.Notices = append([]string{fmt.Sprintf("this run's record is not the one the bench signed and sealed%s: the record, its signature or the index was changed, so none of its verdicts are shown", sealedAs)}, run.Notices...)
	default:
		// Its record is the one sealed; what is wrong is beside it (its
		// evidence, a stale marker, an extra file), named below.
		run.State = StateSealed
	}
	run.Notices = append(run.Notices, shown...)
	if idx == nil && run.Record != nil {
		run.Notices = append(run.Notices, "this run folder was read without the archive around it: it was checked against the checkpoint its inclusion proof carries, not against the archive's index")
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
