package results

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// What a Problem is about. Each names one way an archive can be wrong, so a
// machine reading `bench verify -o json` can act on it.
const (
	ProblemSignature  = "signature"  // the envelope does not verify with any trusted key
	ProblemDigest     = "digest"     // a file's SHA-256 differs from the one recorded
	ProblemSize       = "size"       // a file's size differs from the one recorded
	ProblemMissing    = "missing"    // a file or run folder the record or index names is gone
	ProblemExtra      = "extra"      // a file or run folder nothing names
	ProblemRecord     = "record"     // record.json is not a valid record
	ProblemEnvelope   = "envelope"   // record.dsse.json is not a valid envelope or statement
	ProblemIndex      = "index"      // index.jsonl is damaged, or disagrees with the runs
	ProblemIncomplete = "incomplete" // a run was opened and never sealed
	ProblemKey        = "key"        // no key to verify with
)

// ProblemStaleMarker: a run the index seals still has its INCOMPLETE marker
// (a crash between the "sealed" line and the marker's removal, or a marker
// added later). The run is verified in full all the same, so a marker can
// neither hide its verdict nor cost its signed result; opening the archive
// with the bench (OpenArchive) removes the marker. Not forgiven by
// AllowIncomplete: the run is not incomplete.
const ProblemStaleMarker = "stale-marker"

// Problem is one thing wrong with an archive: what, where, and in which run.
type Problem struct {
	Kind string `json:"kind"`
	// File is relative to the folder verified: "runs/ID/evidence/x.jsonl",
	// "index.jsonl".
	File string `json:"file,omitempty"`
	// Line is the 1-based line of index.jsonl, when the problem is there.
	Line    int    `json:"line,omitempty"`
	Run     string `json:"run,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var where []string
	if p.File != "" {
		w := p.File
		if p.Line > 0 {
			w += fmt.Sprintf(" line %d", p.Line)
		}
		where = append(where, w)
	}
	if p.Run != "" && !strings.Contains(p.File, p.Run) {
		where = append(where, "run "+p.Run)
	}
	if len(where) == 0 {
		return fmt.Sprintf("%s: %s", p.Kind, p.Message)
	}
	return fmt.Sprintf("%s: %s: %s", strings.Join(where, ", "), p.Kind, p.Message)
}

// RunStatus is what verification found for one run.
type RunStatus struct {
	ID string `json:"id"`
	// State: "verified", "incomplete", "invalid" (something is wrong, see
	// the problems), "missing" (in the index, no folder).
	State    string  `json:"state"`
	Fixture  string  `json:"fixture,omitempty"`
	Verdict  Verdict `json:"verdict,omitempty"`
	KeyID    string  `json:"key_id,omitempty"`
	Evidence int     `json:"evidence_files,omitempty"`
}

// Report is the outcome of Verify.
type Report struct {
	Dir string `json:"dir"`
	// Mode is "archive" (index and runs) or "run" (one run's folder).
	Mode string `json:"mode"`
	// Keys are the IDs of the keys signatures were checked against, and
	// KeySource where they came from.
	Keys      []string `json:"keys"`
	KeySource string   `json:"key_source"`
	// Trusted is true when the keys were given by the caller
	// (VerifyOptions.Keys): only then do signatures show authenticity.
	// Without, they are checked against the archive's own keys/ copy,
	// which shows consistency only, and OK is false.
	Trusted    bool `json:"trusted"`
	IndexLines int  `json:"index_lines,omitempty"`
	// Checkpoint is the archive's signed checkpoint, when it has one whose
	// signature verifies.
	Checkpoint *CheckpointInfo `json:"checkpoint,omitempty"`
	// Held is what the checkpoint given in VerifyOptions.Checkpoint showed.
	Held     *HeldCheckpoint `json:"held_checkpoint,omitempty"`
	Runs     []RunStatus     `json:"runs"`
	Problems []Problem       `json:"problems"`
}

// CheckpointInfo is a signed checkpoint as a report shows it.
type CheckpointInfo struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	Root   string `json:"root"` // base64, as in the checkpoint body
	KeyID  string `json:"key_id"`
	// Body is the C2SP checkpoint text the signature covers.
	Body string `json:"body"`
}

func checkpointInfo(c Checkpoint, keyID string) *CheckpointInfo {
	return &CheckpointInfo{Origin: c.Origin, Size: c.Size, Root: base64.StdEncoding.EncodeToString(c.Root[:]), KeyID: keyID, Body: string(c.Body())}
}

// HeldCheckpoint is the outcome of comparing the archive with a checkpoint
// kept elsewhere (VerifyOptions.Checkpoint).
type HeldCheckpoint struct {
	CheckpointInfo
	// Extends is true when the archive's index is the log the checkpoint
	// signed, or an extension of it, with a consistency proof from it to
	// the archive's own checkpoint.
	Extends bool `json:"extends"`
}

// OK reports whether everything verified, against keys the caller trusts.
func (r *Report) OK() bool { return len(r.Problems) == 0 && r.Trusted }

// Intact reports whether nothing is wrong with the archive, whatever keys
// its signatures were checked with: with Trusted false, a forger with their
// own key could have made an intact archive.
func (r *Report) Intact() bool { return len(r.Problems) == 0 }

// NoTrustedKey is what a verification without a trusted key says.
const NoTrustedKey = "cannot check authenticity: no trusted key was given (give --key bench.pub, -c BENCH.yaml or --trusted DIR); signatures were checked only against the archive's own keys/, which a forger would have replaced"

// Run states in a Report.
const (
	RunVerified   = "verified"
	RunIncomplete = "incomplete"
	RunInvalid    = "invalid"
	RunMissing    = "missing"
)

// VerifyOptions says what to trust and what to forgive.
type VerifyOptions struct {
	// Keys are the public keys a signature may verify with. Empty means the
	// keys in the archive's keys/ folder, which only shows the archive is
	// self-consistent: pass the bench key you hold to show it is authentic.
	Keys []crypto.PublicKey
	// AllowIncomplete lists runs cut off by a crash as incomplete without
	// counting them as problems (sealed runs are still checked in full).
	AllowIncomplete bool
	// Checkpoint is a signed checkpoint (checkpoint.dsse.json) kept
	// elsewhere, by a customer or the fleet controller: the archive must be
	// the log it signed or an extension of it.
	Checkpoint []byte
}

// Verify checks the archive or run folder at dir: every signature against
// the trusted keys, every evidence file's size and digest, the index's
// chain, and that the index and the run folders name each other. It returns
// an error only when dir cannot be examined at all; everything wrong inside
// is a Problem in the report.
func Verify(dir string, opts VerifyOptions) (*Report, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", dir, unwrapPath(err))
	}
	// The run ID is the folder's name, and a run's archive is two levels up:
	// both must come from the real path, not a link to it.
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", dir, unwrapPath(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("verify %s: not a folder; give an archive (a folder with %s and %s/) or a run's folder (%s/RUN_ID, with %s or %s)", dir, IndexFile, RunsDir, RunsDir, RecordFile, IncompleteFile)
	}
	v := &verifier{rep: &Report{Dir: dir, Runs: []RunStatus{}, Problems: []Problem{}}, opts: opts}
	switch {
	case exists(filepath.Join(dir, IndexFile)) || exists(filepath.Join(dir, RunsDir)):
		v.rep.Mode = "archive"
		v.loadKeys(dir)
		v.archive(dir)
	case exists(filepath.Join(dir, RecordFile)) || exists(filepath.Join(dir, EnvelopeFile)) || exists(filepath.Join(dir, IncompleteFile)):
		if opts.Checkpoint != nil {
			return nil, fmt.Errorf("verify %s: a checkpoint is compared with a whole archive, and this is one run's folder: give the archive", dir)
		}
		v.rep.Mode = "run"
		// A run inside an archive can use the archive's keys/.
		v.loadKeys(filepath.Dir(filepath.Dir(real)))
		// The archive around it, if any, says whether the run was sealed.
		id := filepath.Base(real)
		sealLine := 0
		if filepath.Base(filepath.Dir(real)) == RunsDir {
			sealLine = sealedLine(filepath.Dir(filepath.Dir(real)), id)
		}
		st, _ := v.run(dir, id, "", sealLine)
		if st.State != RunIncomplete {
			recJSON, _ := os.ReadFile(filepath.Join(dir, RecordFile))
			before := len(v.rep.Problems)
			v.checkLooseInclusion(dir, id, recJSON)
			if len(v.rep.Problems) > before && st.State == RunVerified {
				st.State = RunInvalid
			}
		}
		v.rep.Runs = append(v.rep.Runs, st)
	default:
		return nil, fmt.Errorf("verify %s: neither an archive (no %s or %s/ in it) nor a run's folder (no %s, %s or %s in it)", dir, IndexFile, RunsDir, RecordFile, EnvelopeFile, IncompleteFile)
	}
	return v.rep, nil
}

type verifier struct {
	rep  *Report
	opts VerifyOptions
	keys []crypto.PublicKey
	// tree and lines are the index as a Merkle tree and its lines; head
	// is the archive's checkpoint, when it verified.
	tree  *tree
	lines [][]byte
	head  *Checkpoint
	// signers lists, by key ID, what each key signed.
	signers map[string][]string
	// indexBad names the runs an index problem is about: they are not
	// "verified" even when their own folder is.
	indexBad map[string]bool
}

func (v *verifier) problem(p Problem) { v.rep.Problems = append(v.rep.Problems, p) }

func (v *verifier) loadKeys(archive string) {
	if len(v.opts.Keys) > 0 {
		v.keys = v.opts.Keys
		v.rep.KeySource = "given"
		v.rep.Trusted = true
	} else {
		v.rep.KeySource = filepath.Join(archive, KeysDir) + " (the archive's own copy: shows consistency, not authenticity)"
		paths, _ := filepath.Glob(filepath.Join(archive, KeysDir, "*.pub"))
		sort.Strings(paths)
		for _, p := range paths {
			pub, err := LoadPublicKey(p)
			if err != nil {
				v.problem(Problem{Kind: ProblemKey, File: rel(archive, p), Message: err.Error()})
				continue
			}
			v.keys = append(v.keys, pub)
		}
	}
	v.rep.Keys = []string{}
	for _, k := range v.keys {
		if id, err := KeyID(k); err == nil {
			v.rep.Keys = append(v.rep.Keys, id)
		}
	}
	if len(v.keys) == 0 {
		v.problem(Problem{Kind: ProblemKey, Message: "no public key to verify signatures with: pass the bench's public key (--key bench.pub)"})
	}
}

// indexRun is what the index says about one run.
type indexRun struct { // lines are 1-based; 0 is "no such line"
	openLine, sealLine int
	sealed             IndexEntry
	fixture            string
}

func (v *verifier) archive(dir string) {
	runs, haveIndex := v.index(dir)
	v.signers = map[string][]string{}
	v.checkpoint(dir, runs)

	entries, err := os.ReadDir(filepath.Join(dir, RunsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		v.problem(Problem{Kind: ProblemMissing, File: RunsDir, Message: err.Error()})
	}
	onDisk := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			v.problem(Problem{Kind: ProblemExtra, File: RunsDir + "/" + e.Name(), Message: "not a run folder"})
			continue
		}
		onDisk[e.Name()] = true
	}
	if !haveIndex && len(onDisk) > 0 {
		v.problem(Problem{Kind: ProblemMissing, File: IndexFile, Message: fmt.Sprintf("the archive has %d run folders and no index", len(onDisk))})
	}
	ids := make([]string, 0, len(runs)+len(onDisk))
	for id := range runs {
		ids = append(ids, id)
	}
	for id := range onDisk {
		if _, ok := runs[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		ir, inIndex := runs[id]
		if !inIndex {
			ir = &indexRun{}
		}
		runRel := RunsDir + "/" + id
		if !onDisk[id] {
			line := ir.openLine
			if ir.sealLine > 0 {
				line = ir.sealLine
			}
			v.problem(Problem{Kind: ProblemMissing, File: runRel, Run: id,
				Message: fmt.Sprintf("the index names this run (%s line %d) but its folder is gone", IndexFile, line)})
			v.rep.Runs = append(v.rep.Runs, RunStatus{ID: id, State: RunMissing, Fixture: ir.fixture})
			continue
		}
		before := len(v.rep.Problems)
		st, rec := v.run(filepath.Join(dir, RunsDir, id), id, runRel+"/", ir.sealLine)
		if !inIndex && st.State != RunIncomplete {
			// (An incomplete run may miss its line: cut off between mkdir
			// and the index append. v.run has said it is incomplete.)
			v.problem(Problem{Kind: ProblemIndex, File: runRel, Run: id,
				Message: fmt.Sprintf("run folder not in %s (added from elsewhere, or its index line was removed)", IndexFile)})
		} else if st.State != RunIncomplete {
			switch {
			case ir.sealLine == 0:
				v.problem(Problem{Kind: ProblemIndex, File: IndexFile, Line: ir.openLine, Run: id,
					Message: "the run folder is sealed but the index has no \"sealed\" line for it"})
			default:
				v.checkSealLine(dir, id, rec, *ir)
				v.checkIndexLink(id, rec, *ir)
				v.checkInclusion(dir, id, *ir)
			}
		}
		if st.KeyID != "" {
			v.signers[st.KeyID] = append(v.signers[st.KeyID], "run "+id)
		}
		if (len(v.rep.Problems) > before || v.indexBad[id]) && st.State == RunVerified {
			st.State = RunInvalid
		}
		v.rep.Runs = append(v.rep.Runs, st)
	}
	v.held()
	if len(v.signers) > 1 {
		var parts []string
		for _, id := range sortedKeys(v.signers) {
			what := v.signers[id]
			more := ""
			if len(what) > 3 {
				what, more = what[:3], fmt.Sprintf(" and %d more", len(v.signers[id])-3)
			}
			parts = append(parts, fmt.Sprintf("%s (%s%s)", short(id), strings.Join(what, ", "), more))
		}
		v.problem(Problem{Kind: ProblemKey, Message: fmt.Sprintf("signed by %d different keys, where an archive has one bench key: %s; a key rotated starts a new archive", len(v.signers), strings.Join(parts, "; "))})
	}
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkSealLine compares what the index's "sealed" line says of a run (the
// digests of its files, its verdict and fixture) with the run. The verdict
// and fixture are outside any signature, and a reader taking "the quick look
// without opening the record" must not be shown a verdict the record does
// not have.
func (v *verifier) checkSealLine(dir, id string, rec *Record, ir indexRun) {
	if rec != nil {
		if ir.sealed.Verdict != rec.Verdict {
			v.problem(Problem{Kind: ProblemIndex, File: IndexFile, Line: ir.sealLine, Run: id,
				Message: fmt.Sprintf("the sealed line says verdict %q, the signed record says %s: the index line was changed", ir.sealed.Verdict, rec.Verdict)})
		}
		if ir.sealed.Fixture != rec.Fixture.Name {
			v.problem(Problem{Kind: ProblemIndex, File: IndexFile, Line: ir.sealLine, Run: id,
				Message: fmt.Sprintf("the sealed line says fixture %q, the signed record says %q: the index line was changed", ir.sealed.Fixture, rec.Fixture.Name)})
		}
	}
	for _, f := range []struct{ name, want string }{
		{RecordFile, ir.sealed.Record}, {EnvelopeFile, ir.sealed.Envelope},
	} {
		b, err := os.ReadFile(filepath.Join(dir, RunsDir, id, f.name))
		if err != nil {
			continue // v.run reported it
		}
		if got := sha256Hex(b); got != f.want {
			v.problem(Problem{Kind: ProblemDigest, File: RunsDir + "/" + id + "/" + f.name, Run: id,
				Message: fmt.Sprintf("SHA-256 %s, but %s line %d says %s", short(got), IndexFile, ir.sealLine, short(f.want))})
		}
	}
}

// checkIndexLink compares where the signed record says its "sealed" line is
// with where it is. The chain alone can be recomputed by anyone after
// deleting or reordering lines; this link cannot, without the bench key.
func (v *verifier) checkIndexLink(id string, rec *Record, ir indexRun) {
	if rec == nil {
		return // v.run reported why
	}
	if rec.Index == nil {
		v.problem(Problem{Kind: ProblemRecord, File: RunsDir + "/" + id + "/" + RecordFile, Run: id,
			Message: "the record does not name its index line (sealed outside an archive?)"})
		return
	}
	if rec.Index.Seq != ir.sealed.Seq || rec.Index.Prev != ir.sealed.Prev {
		v.problem(Problem{Kind: ProblemIndex, File: IndexFile, Line: ir.sealLine, Run: id,
			Message: fmt.Sprintf("the signed record puts this run's sealed line at seq %d after a line with SHA-256 %s; the index has seq %d after %s: the index before this line was rewritten",
				rec.Index.Seq, short(rec.Index.Prev), ir.sealed.Seq, short(ir.sealed.Prev))})
	}
}

// index reads and checks index.jsonl and returns what it says per run. A
// break in the chain is reported at the line where it shows: a changed line
// k shows at line k+1, removed lines at the first line after the gap,
// swapped lines at each of them.
func (v *verifier) index(dir string) (map[string]*indexRun, bool) {
	runs := map[string]*indexRun{}
	v.indexBad = map[string]bool{}
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			v.problem(Problem{Kind: ProblemIndex, File: IndexFile, Message: unwrapPath(err).Error()})
		}
		return runs, false
	}
	v.tree, v.lines = treeOf(b)
	lines := bytes.Split(b, []byte{'\n'})
	torn := lines[len(lines)-1]
	lines = lines[:len(lines)-1] // what follows the last newline
	prevHash, prevSeq, prevRun := "", 0, ""
	bad := func(line int, run, format string, a ...any) {
		v.problem(Problem{Kind: ProblemIndex, File: IndexFile, Line: line, Run: run, Message: fmt.Sprintf(format, a...)})
		if run != "" {
			v.indexBad[run] = true
		}
	}
	for i, line := range lines {
		n := i + 1
		var e IndexEntry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			bad(n, "", "not a valid index line: %v", err)
			prevHash, prevSeq, prevRun = sha256Hex(line), prevSeq+1, ""
			continue
		}
		if e.Seq != prevSeq+1 {
			bad(n, e.Run, "seq %d follows seq %d: lines were removed, inserted or reordered", e.Seq, prevSeq)
		}
		if e.Prev != prevHash {
			if n == 1 {
				bad(n, e.Run, "the first line must have an empty prev, has %s: lines before it were removed", short(e.Prev))
			} else {
				bad(n, e.Run, "prev %s is not the SHA-256 of line %d (%s): line %d was changed, or lines were removed, inserted or reordered", short(e.Prev), n-1, short(prevHash), n-1)
				// With seq in order, nothing was removed or moved: the
				// line before was changed, and its run is in doubt too.
				if e.Seq == prevSeq+1 && prevRun != "" {
					v.indexBad[prevRun] = true
				}
			}
		}
		prevHash, prevSeq, prevRun = sha256Hex(line), e.Seq, e.Run
		ir := runs[e.Run]
		switch e.State {
		case StateOpen:
			if ir != nil && ir.openLine > 0 {
				bad(n, e.Run, "run opened again (first on line %d)", ir.openLine)
				continue
			}
			if ir == nil {
				ir = &indexRun{}
				runs[e.Run] = ir
			}
			ir.openLine, ir.fixture = n, e.Fixture
		case StateSealed:
			if ir == nil || ir.openLine == 0 {
				bad(n, e.Run, "run sealed but never opened before this line")
				if ir == nil {
					ir = &indexRun{}
					runs[e.Run] = ir
				}
			}
			if ir.sealLine > 0 {
				bad(n, e.Run, "run sealed again (first on line %d)", ir.sealLine)
				continue
			}
			ir.sealLine, ir.sealed = n, e
		default:
			bad(n, e.Run, "state %q is neither %q nor %q", e.State, StateOpen, StateSealed)
		}
	}
	v.rep.IndexLines = len(lines)
	if len(torn) > 0 {
		bad(len(lines)+1, "", "the last line is cut off (%d bytes, no newline): a write was interrupted", len(torn))
	}
	return runs, true
}

// sealedLine returns the line of archive's index that seals run id, or 0.
func sealedLine(archive, id string) int {
	b, err := os.ReadFile(filepath.Join(archive, IndexFile))
	if err != nil {
		return 0
	}
	for i, line := range bytes.Split(b, []byte{'\n'}) {
		var e IndexEntry
		if json.Unmarshal(line, &e) == nil && e.Run == id && e.State == StateSealed {
			return i + 1
		}
	}
	return 0
}

// run verifies one run folder. relDir prefixes file names in problems.
// sealLine is the index line that seals the run (0: none): a sealed run is
// verified in full even if its INCOMPLETE marker is still there, so a marker
// can neither hide a sealed verdict nor cost a signed result.
func (v *verifier) run(dir, id, relDir string, sealLine int) (RunStatus, *Record) {
	st := RunStatus{ID: id, State: RunVerified}
	bad := func(kind, file, format string, a ...any) {
		v.problem(Problem{Kind: kind, File: relDir + file, Run: id, Message: fmt.Sprintf(format, a...)})
		if st.State == RunVerified {
			st.State = RunInvalid
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, IncompleteFile))
	if err == nil && sealLine > 0 {
		bad(ProblemStaleMarker, IncompleteFile, "marker left after sealing: %s line %d seals this run, so it is verified in full; the seal was cut off before the marker was removed (the bench removes it when it next opens the archive), or the marker was added later", IndexFile, sealLine)
	} else if err == nil {
		st.State = RunIncomplete
		var m struct {
			Fixture string `json:"fixture"`
			Opened  string `json:"opened"`
		}
		json.Unmarshal(b, &m)
		st.Fixture = m.Fixture
		msg := fmt.Sprintf("opened %s and never sealed (the bench stopped during the run: crash, power loss or kill)", m.Opened)
		if exists(filepath.Join(dir, RecordFile)) {
			msg = fmt.Sprintf("opened %s; sealing was cut off before its \"sealed\" index line (record written)", m.Opened)
		}
		if !v.opts.AllowIncomplete {
			v.problem(Problem{Kind: ProblemIncomplete, File: relDir + IncompleteFile, Run: id, Message: msg})
		}
		return st, nil
	}

	recJSON, recErr := os.ReadFile(filepath.Join(dir, RecordFile))
	if recErr != nil {
		bad(ProblemMissing, RecordFile, "%v", unwrapPath(recErr))
	}
	envJSON, envErr := os.ReadFile(filepath.Join(dir, EnvelopeFile))
	if envErr != nil {
		bad(ProblemMissing, EnvelopeFile, "%v", unwrapPath(envErr))
	}

	// The signature first: it is what makes the rest worth checking.
	var st8 *Statement
	if envErr == nil {
		env, err := ParseEnvelope(envJSON)
		if err != nil {
			bad(ProblemEnvelope, EnvelopeFile, "%v", err)
		} else if keyID, err := env.Verify(v.keys...); err != nil {
			bad(ProblemSignature, EnvelopeFile, "%v", err)
		} else if st8, err = env.Statement(); err != nil {
			bad(ProblemEnvelope, EnvelopeFile, "%v", err)
		} else {
			st.KeyID = keyID
		}
	}
	var rec *Record
	if recErr == nil {
		if st8 != nil {
			want, ok := st8.SubjectDigest(RecordSubject)
			if got := sha256Hex(recJSON); !ok {
				bad(ProblemEnvelope, EnvelopeFile, "the signed statement has no %q subject", RecordSubject)
			} else if got != want {
				bad(ProblemDigest, RecordFile, "SHA-256 %s, but the signed statement says %s: the record was changed after signing", short(got), short(want))
			}
		}
		r, err := ParseRecord(recJSON)
		if err != nil {
			bad(ProblemRecord, RecordFile, "%v", strings.ReplaceAll(err.Error(), "\n", "; "))
		} else {
			rec = r
			st.Fixture, st.Verdict = r.Fixture.Name, r.Verdict
			if r.RunID != id {
				bad(ProblemRecord, RecordFile, "run_id %q, but the folder is %q (moved or swapped?)", r.RunID, id)
			}
			if st.KeyID != "" && r.Bench.KeyID != "" && r.Bench.KeyID != st.KeyID {
				bad(ProblemSignature, EnvelopeFile, "signed by key %s, the record names key %s", short(st.KeyID), short(r.Bench.KeyID))
			}
		}
	}

	// Evidence: every listed file as recorded, and nothing unlisted.
	listed := map[string]bool{}
	if rec != nil {
		for _, f := range rec.Evidence {
			listed[f.Path] = true
			size, sum, err := fileDigest(filepath.Join(dir, filepath.FromSlash(f.Path)))
			switch {
			case err != nil:
				bad(ProblemMissing, f.Path, "%s evidence listed in the record: %v", f.Kind, unwrapPath(err))
			case size != f.Size:
				bad(ProblemSize, f.Path, "%s evidence is %d bytes, the record says %d", f.Kind, size, f.Size)
			case sum != f.SHA256:
				bad(ProblemDigest, f.Path, "%s evidence SHA-256 %s, the record says %s", f.Kind, short(sum), short(f.SHA256))
			}
		}
		st.Evidence = len(rec.Evidence)
	}
	if ents, err := os.ReadDir(filepath.Join(dir, EvidenceDir)); err == nil && rec != nil {
		for _, e := range ents {
			p := EvidenceDir + "/" + e.Name()
			if !listed[p] {
				bad(ProblemExtra, p, "not listed in the record (added after sealing?)")
			}
		}
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			switch e.Name() {
			case RecordFile, EnvelopeFile, EvidenceDir, InclusionFile:
			case IncompleteFile:
				if sealLine == 0 {
					bad(ProblemExtra, e.Name(), "unexpected file in a sealed run folder")
				}
			default:
				bad(ProblemExtra, e.Name(), "unexpected file in a sealed run folder")
			}
		}
	}
	return st, rec
}

func fileDigest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func rel(base, path string) string {
	if r, err := filepath.Rel(base, path); err == nil {
		return filepath.ToSlash(r)
	}
	return path
}

// unwrapPath drops the absolute path from a *PathError: the problem names
// the file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("file is missing")
		}
		return pe.Err
	}
	return err
}

func short(digest string) string {
	if len(digest) > 16 {
		return digest[:16] + "…"
	}
	return digest
}
