package results

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Names inside an archive.
const (
	IndexFile    = "index.jsonl"      // ARCHIVE/index.jsonl
	RunsDir      = "runs"             // ARCHIVE/runs/RUN_ID/
	KeysDir      = "keys"             // ARCHIVE/keys/KEYID.pub: public keys that signed runs here
	RecordFile   = "record.json"      // runs/RUN_ID/record.json
	EnvelopeFile = "record.dsse.json" // runs/RUN_ID/record.dsse.json
	// IncompleteFile marks a run that was opened and not (yet) sealed. It is
	// written before anything else of the run and removed last, so a crash at
	// any point leaves it behind.
	IncompleteFile = "INCOMPLETE"
	lockFile       = "index.lock"
	// tmpDir holds runs being begun: a run's folder is made here with its
	// marker and moved into runs/ whole, so runs/ never holds a run folder
	// without its marker.
	tmpDir = "tmp"
)

// Index states.
const (
	StateOpen   = "open"   // the run was begun
	StateSealed = "sealed" // its record and envelope were written
)

// ErrSealed is returned by a Run's methods after Seal succeeded.
var ErrSealed = errors.New("run already sealed")

// IndexEntry is one line of index.jsonl. Every run has an "open" line when it
// is begun and a "sealed" line when it is sealed. Prev chains the lines: a
// line changed, removed, inserted or moved breaks the chain at the line after.
type IndexEntry struct {
	// Seq is the line's number, from 1.
	Seq int `json:"seq"`
	// Prev is the hex SHA-256 of the previous line's bytes (without its
	// newline); empty on line 1.
	Prev    string    `json:"prev"`
	Time    time.Time `json:"time"`
	Run     string    `json:"run"`
	State   string    `json:"state"`
	Fixture string    `json:"fixture,omitempty"`
	// For "sealed": digests of record.json and record.dsse.json as written,
	// and the run's verdict for a quick look without opening the record.
	Record   string  `json:"record_sha256,omitempty"`
	Envelope string  `json:"envelope_sha256,omitempty"`
	Verdict  Verdict `json:"verdict,omitempty"`
}

// Archive is the append-only store of runs on a bench. Several runs, in this
// process or others, may write to the same archive at once: each run has its
// own folder, and index appends are serialised by a lock file (flock).
type Archive struct {
	dir string
	mu  sync.Mutex // serialises this process's index appends; flock does the rest
	// now and sync are the wall clock and its synchronisation source; tests
	// substitute them.
	now  func() time.Time
	sync syncSource
	// log is the index's tree as this process last read and extended it
	// (see logState); guarded by mu.
	log *logState
	// step, when a test sets it, is called at each point of Begin and Seal
	// where a crash would leave a different state on disk.
	step func(name string)
}

func (a *Archive) at(step string) {
	if a.step != nil {
		a.step(step)
	}
}

// OpenArchive opens the archive in dir, creating the folder if needed.
func OpenArchive(dir string) (*Archive, error) {
	if err := os.MkdirAll(filepath.Join(dir, RunsDir), 0o755); err != nil {
		return nil, fmt.Errorf("open archive %s: %w", dir, err)
	}
	a := &Archive{dir: dir, now: time.Now, sync: systemClock}
	a.removeStaleBegins()
	a.finishSeals()
	return a, nil
}

// finishSeals completes seals cut off after their "sealed" index line and
// before the INCOMPLETE marker was removed: the result is signed and
// indexed, and must not stay marked incomplete. A marker is removed only if
// the index seals the run and the run verifies in full (signature with the
// archive's own keys, record and envelope as the sealed line says, every
// evidence file); otherwise it stays, and verify says why. Errors are left
// for verify to report: opening the archive must not fail because of an
// old run.
func (a *Archive) finishSeals() {
	ents, _ := os.ReadDir(filepath.Join(a.dir, RunsDir))
	var marked []string
	for _, e := range ents {
		if e.IsDir() && exists(filepath.Join(a.dir, RunsDir, e.Name(), IncompleteFile)) {
			marked = append(marked, e.Name())
		}
	}
	if len(marked) == 0 {
		return
	}
	v := &verifier{rep: &Report{}}
	v.loadKeys(a.dir)
	runs, _ := v.index(a.dir)
	for _, id := range marked {
		ir := runs[id]
		if ir == nil || ir.sealLine == 0 || v.indexBad[id] {
			continue // not sealed: a run cut off, rightly marked
		}
		before := len(v.rep.Problems)
		dir := filepath.Join(a.dir, RunsDir, id)
		_, rec := v.run(dir, id, "", ir.sealLine)
		v.checkSealLine(a.dir, id, rec, *ir)
		v.checkIndexLink(id, rec, *ir)
		ok := rec != nil
		for _, p := range v.rep.Problems[before:] {
			ok = ok && p.Kind == ProblemStaleMarker
		}
		if ok && os.Remove(filepath.Join(dir, IncompleteFile)) == nil {
			syncDir(dir)
		}
	}
}

// removeStaleBegins removes folders in ARCHIVE/tmp made more than an hour
// ago: Begins cut off before their run was moved into runs/. Nothing of them
// was recorded (Begin had not returned). A Begin takes milliseconds, so an
// hour leaves other processes' Begins alone.
func (a *Archive) removeStaleBegins() {
	ents, _ := os.ReadDir(filepath.Join(a.dir, tmpDir))
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.RemoveAll(filepath.Join(a.dir, tmpDir, e.Name()))
		}
	}
}

// Dir is the archive's folder.
func (a *Archive) Dir() string { return a.dir }

// Meta is what the archive needs to know when a run begins.
type Meta struct {
	Bench   string // bench name, from the bench file
	Fixture string // fixture name; part of the run ID
	// Epoch is the run's start with its monotonic reading: the time every
	// recorder of the run measures mono_ns from. Zero means now.
	Epoch time.Time
}

// Run is one run being recorded: a folder in the archive that evidence is
// written into while the run goes, and that Seal closes with the signed
// record. Until Seal succeeds the run is incomplete on disk.
type Run struct {
	a     *Archive
	id    string
	dir   string
	meta  Meta
	clock Clock // at Begin

	mu    sync.Mutex
	files map[string]File // closed evidence, by path
	open  map[string]bool // evidence being written, by path
	// incomplete holds why evidence, by path, does not hold all it should:
	// its writer failed, or MarkIncomplete said so.
	incomplete map[string][]string
	indexed    bool // the "sealed" index line is written
	sealed     bool
}

// Begin opens a new run: it makes the run's folder with its INCOMPLETE
// marker under ARCHIVE/tmp, moves it into runs/, and appends an "open" line
// to the index, so that from here on a crash leaves a visible, incomplete
// run. A crash before the move leaves nothing in runs/; one after it leaves
// a run folder with its marker (and perhaps no index line), which verify
// reports as incomplete.
func (a *Archive) Begin(meta Meta) (*Run, error) {
	if meta.Fixture == "" {
		return nil, errors.New("begin run: no fixture named")
	}
	if meta.Epoch.IsZero() {
		meta.Epoch = time.Now()
	}
	now := a.now()
	clock := checkClock(now, a.sync)
	if err := os.MkdirAll(filepath.Join(a.dir, tmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("begin run on fixture %q: %w", meta.Fixture, err)
	}
	var id, tmp string
	for range 10 {
		id = newRunID(now, meta.Fixture)
		if exists(filepath.Join(a.dir, RunsDir, id)) {
			continue
		}
		tmp = filepath.Join(a.dir, tmpDir, id)
		err := os.Mkdir(tmp, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("begin run on fixture %q: %w", meta.Fixture, err)
		}
		tmp = ""
	}
	if tmp == "" {
		return nil, fmt.Errorf("begin run on fixture %q: no free run ID", meta.Fixture)
	}
	dir := tmp
	fail := func(err error) (*Run, error) {
		os.RemoveAll(dir) // nothing of the run was recorded yet
		return nil, fmt.Errorf("begin run %s on fixture %q: %w", id, meta.Fixture, err)
	}
	a.at("begin: folder made in tmp")
	marker, _ := json.Marshal(map[string]any{
		"run": id, "bench": meta.Bench, "fixture": meta.Fixture, "opened": now.UTC(), "pid": os.Getpid(),
	})
	if err := os.Mkdir(filepath.Join(tmp, EvidenceDir), 0o755); err != nil {
		return fail(err)
	}
	// writeFileAtomic syncs tmp, making the marker and evidence/ durable
	// before the folder is moved where verify looks.
	if err := writeFileAtomic(filepath.Join(tmp, IncompleteFile), append(marker, '\n')); err != nil {
		return fail(err)
	}
	a.at("begin: marker written")
	dir = filepath.Join(a.dir, RunsDir, id)
	if err := os.Rename(tmp, dir); err != nil {
		dir = tmp
		return fail(err)
	}
	if err := syncDir(filepath.Join(a.dir, RunsDir)); err != nil {
		return fail(err)
	}
	a.at("begin: in runs")
	if _, err := a.appendIndex(IndexEntry{Time: now.UTC(), Run: id, State: StateOpen, Fixture: meta.Fixture}); err != nil {
		return fail(err)
	}
	a.at("begin: open line written")
	return &Run{a: a, id: id, dir: dir, meta: meta, clock: clock,
		files: map[string]File{}, open: map[string]bool{}, incomplete: map[string][]string{}}, nil
}

var reUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newRunID is sortable by time, names the fixture, and is unique thanks to
// a random tail (several runs on one fixture may start in the same second
// on different benches sharing an archive).
func newRunID(now time.Time, fixture string) string {
	var r [3]byte
	rand.Read(r[:])
	f := strings.Trim(reUnsafe.ReplaceAllString(fixture, "_"), "_")
	if len(f) > 40 {
		f = f[:40]
	}
	if f == "" {
		f = "fixture"
	}
	return fmt.Sprintf("%s-%s-%s", now.UTC().Format("20060102T150405Z"), f, hex.EncodeToString(r[:]))
}

// ID is the run's ID: its folder name in runs/.
func (r *Run) ID() string { return r.id }

// Dir is the run's folder.
func (r *Run) Dir() string { return r.dir }

// Epoch is the time the run's recorders measure mono_ns from.
func (r *Run) Epoch() time.Time { return r.meta.Epoch }

// Evidence creates the evidence file evidence/NAME and returns a writer for
// it. The file is on disk as it is written, so a crash keeps what was
// written so far. Close syncs it and records its size and SHA-256 for Seal.
// Names are flat: letters, digits, '.', '_', '-'. A name can be used once.
func (r *Run) Evidence(name string, kind Kind) (io.WriteCloser, error) {
	if err := checkEvidenceName(name); err != nil {
		return nil, fmt.Errorf("run %s: %w", r.id, err)
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("run %s: evidence %s: kind %q is unknown", r.id, name, kind)
	}
	path := EvidenceDir + "/" + name
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sealed {
		return nil, fmt.Errorf("run %s: evidence %s: %w", r.id, name, ErrSealed)
	}
	f, err := os.OpenFile(filepath.Join(r.dir, EvidenceDir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run %s: create evidence: %w", r.id, err)
	}
	r.open[path] = true
	return &evidenceWriter{run: r, f: f, path: path, kind: kind, h: sha256.New()}, nil
}

// AddEvidence writes a whole evidence file at once.
func (r *Run) AddEvidence(name string, kind Kind, data []byte) error {
	w, err := r.Evidence(name, kind)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// evidenceWriter hashes what it writes, so the digest is of the bytes the
// bench meant to write, computed without reading the file back.
type evidenceWriter struct {
	run  *Run
	path string
	kind Kind

	mu     sync.Mutex
	f      *os.File
	h      hash.Hash
	n      int64
	err    error // first write error: the file no longer holds what was meant
	closed bool
}

func (w *evidenceWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, fmt.Errorf("run %s: evidence %s: write after close", w.run.id, w.path)
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("run %s: write evidence %s: %w", w.run.id, w.path, err)
		return n, w.err
	}
	return n, nil
}

// Close syncs the file and hands its size and digest to the run. A second
// Close is a no-op.
func (w *evidenceWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.err
	if serr := w.f.Sync(); err == nil && serr != nil {
		err = fmt.Errorf("run %s: sync evidence %s: %w", w.run.id, w.path, serr)
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("run %s: close evidence %s: %w", w.run.id, w.path, cerr)
	}
	if err == nil {
		if serr := syncDir(filepath.Dir(w.f.Name())); serr != nil {
			err = fmt.Errorf("run %s: evidence %s: %w", w.run.id, w.path, serr)
		}
	}
	r := w.run
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.open, w.path)
	// Listed even after a failed write: the file exists and verify must see
	// its true digest. A partial file is honest evidence of the failure, and
	// the record says it is incomplete, so no PASS rests on it.
	r.files[w.path] = File{Path: w.path, Kind: w.kind, Size: w.n, SHA256: hex.EncodeToString(w.h.Sum(nil))}
	if err != nil {
		r.incomplete[w.path] = append(r.incomplete[w.path], err.Error())
	}
	return err
}

// MarkIncomplete records that the evidence file NAME does not hold all it
// should, for a fault its writer did not see: the console recorder's Close
// failed, the power log reported an error. The record will list the file as
// incomplete with reason, and a run with incomplete evidence cannot be sealed
// as PASS or NOT_APPLICABLE (see IncompleteEvidenceError). The file must
// have been created through this run; its writer may still be open.
func (r *Run) MarkIncomplete(name, reason string) error {
	path := EvidenceDir + "/" + name
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sealed {
		return fmt.Errorf("run %s: mark evidence %s incomplete: %w", r.id, name, ErrSealed)
	}
	if _, ok := r.files[path]; !ok && !r.open[path] {
		return fmt.Errorf("run %s: mark evidence %s incomplete: no such evidence was written in this run", r.id, name)
	}
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("run %s: mark evidence %s incomplete: say why (the reason goes in the record)", r.id, name)
	}
	r.incomplete[path] = append(r.incomplete[path], reason)
	return nil
}

// Seal completes the run: it fills in the fields the archive owns, signs the
// record with key and writes record.json, record.dsse.json and the index's
// "sealed" line, then removes the INCOMPLETE marker. Every evidence writer
// must be closed first. If Seal fails, the run stays incomplete on disk and
// Seal may be called again.
//
// Seal sets rec's SchemaVersion, RunID, Clock, Evidence (every evidence file
// written through this run, sorted by path; marked incomplete where its
// writer failed or MarkIncomplete named it), Verdict (RunVerdict of the
// cases) and Bench.KeyID; it sets Started to the run's epoch and Finished to
// now when they are zero, and Bench.Name and Fixture.Name from Meta when
// empty.
//
// A PASS or NOT_APPLICABLE run with incomplete evidence is refused with an
// *IncompleteEvidenceError, and nothing is written. If the wall clock went
// back during the run, so that Finished would be before Started, Finished
// becomes Started plus the run's duration on the monotonic clock and Clock
// says so (not synchronised, with the step).
func (r *Run) Seal(rec *Record, key crypto.Signer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sealed {
		return fmt.Errorf("seal run %s: %w", r.id, ErrSealed)
	}
	if len(r.open) > 0 {
		var names []string
		for p := range r.open {
			names = append(names, p)
		}
		sort.Strings(names)
		return fmt.Errorf("seal run %s: evidence still being written: %s (close its writer first)", r.id, strings.Join(names, ", "))
	}
	if r.indexed {
		// A retry after the checkpoint or the marker removal failed: the
		// record, its envelope and the index line are written and must
		// not be again.
		if !exists(filepath.Join(r.dir, InclusionFile)) {
			if _, err := r.a.Checkpoint(key, r.meta.Bench); err != nil {
				return fmt.Errorf("seal run %s: %w", r.id, err)
			}
		}
		return r.finishSeal()
	}
	keyID, err := KeyID(key.Public())
	if err != nil {
		return fmt.Errorf("seal run %s: %w", r.id, err)
	}
	now := r.a.now()
	rec.SchemaVersion = SchemaVersion
	rec.RunID = r.id
	rec.Bench.KeyID = keyID
	if rec.Bench.Name == "" {
		rec.Bench.Name = r.meta.Bench
	}
	if rec.Fixture.Name == "" {
		rec.Fixture.Name = r.meta.Fixture
	} else if rec.Fixture.Name != r.meta.Fixture {
		return fmt.Errorf("seal run %s: record names fixture %q, the run was begun on %q", r.id, rec.Fixture.Name, r.meta.Fixture)
	}
	if rec.Started.IsZero() {
		rec.Started = r.meta.Epoch.UTC()
	}
	if rec.Finished.IsZero() {
		rec.Finished = now.UTC()
	}
	rec.Clock = mergeClock(r.clock, checkClock(now, r.a.sync))
	if rec.Finished.Before(rec.Started) {
		// The wall clock went back during the run: NTP stepped a clock that
		// was ahead. Refusing would lose the result; the monotonic clock
		// did not go back, so finished is started plus the run's duration
		// on it, and the record says the times are not to be believed.
		took := max(0, time.Since(r.meta.Epoch))
		back := rec.Started.Add(took).Sub(rec.Finished).Round(time.Millisecond)
		rec.Finished = rec.Started.Add(took)
		rec.Clock.Synchronized = false
		msg := fmt.Sprintf("the wall clock went back %s during the run (stepped by NTP?): started was read before the step; finished is started plus the run's monotonic duration", back)
		if rec.Clock.Detail != "" {
			msg += "; " + rec.Clock.Detail
		}
		rec.Clock.Detail = msg
	}
	rec.Verdict = RunVerdict(rec.Cases)
	rec.Evidence = make([]File, 0, len(r.files))
	for _, f := range r.files {
		if why := r.incomplete[f.Path]; len(why) > 0 {
			f.Incomplete, f.IncompleteReason = true, strings.Join(why, "; ")
		}
		rec.Evidence = append(rec.Evidence, f)
	}
	sort.Slice(rec.Evidence, func(i, j int) bool { return rec.Evidence[i].Path < rec.Evidence[j].Path })
	rec.Index = nil
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("seal run %s: %w", r.id, err)
	}
	indexed, err := r.a.commit(r.dir, r.id, r.meta.Bench, r.meta.Fixture, now, rec, key, keyID)
	r.indexed = indexed
	if err != nil {
		return fmt.Errorf("seal run %s: %w", r.id, err)
	}
	r.a.at("seal: inclusion written")
	if err := r.finishSeal(); err != nil {
		return err
	}
	r.a.at("seal: marker removed")
	return nil
}

// commit signs rec and writes it into the run folder dir with its envelope,
// appends its "sealed" line, and signs a checkpoint over the index with the
// run's inclusion proof. indexed says the sealed line was written: from there
// on the result is committed, and a failure (of the checkpoint) is repaired
// by the next seal or Archive.Checkpoint.
func (a *Archive) commit(dir, id, bench, fixture string, now time.Time, rec *Record, key crypto.Signer, keyID string) (indexed bool, err error) {
	if err := a.keepPublicKey(key.Public(), keyID); err != nil {
		return false, err
	}
	// From here to the index line, other runs wait: the record names the
	// line its "sealed" line will follow, under the signature.
	idx, err := a.lockIndex()
	if err != nil {
		return false, err
	}
	defer idx.unlock()
	// The index must extend the checkpoint the bench last signed before
	// anything of this run is written into it: a seal must not bless lines
	// someone changed.
	lg, err := idx.loadLog(key.Public(), bench)
	if err != nil {
		return false, err
	}
	rec.Index = &IndexLink{Seq: idx.seq, Prev: idx.prev}
	recJSON, err := rec.Marshal()
	if err != nil {
		return false, err
	}
	env, err := SignRecord(key, rec, recJSON)
	if err != nil {
		return false, err
	}
	envJSON, err := env.Marshal()
	if err != nil {
		return false, fmt.Errorf("encode envelope: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, RecordFile), recJSON); err != nil {
		return false, err
	}
	a.at("seal: record written")
	if err := writeFileAtomic(filepath.Join(dir, EnvelopeFile), envJSON); err != nil {
		return false, err
	}
	a.at("seal: envelope written")
	if _, err := idx.append(IndexEntry{
		Time: now.UTC(), Run: id, State: StateSealed, Fixture: fixture,
		Record: sha256Hex(recJSON), Envelope: sha256Hex(envJSON), Verdict: rec.Verdict,
	}); err != nil {
		return false, err
	}
	a.at("seal: sealed line written")
	lg.add(idx.last)
	if _, err := idx.sign(lg, key); err != nil {
		return true, fmt.Errorf("sealed, but its checkpoint was not written (Seal again, or the next seal signs one): %w", err)
	}
	return true, nil
}

// finishSeal removes the INCOMPLETE marker: last, so that until here a crash
// leaves the run marked incomplete.
func (r *Run) finishSeal() error {
	if err := os.Remove(filepath.Join(r.dir, IncompleteFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("seal run %s: remove marker: %w", r.id, err)
	}
	if err := syncDir(r.dir); err != nil {
		return fmt.Errorf("seal run %s: %w", r.id, err)
	}
	r.sealed = true
	return nil
}

// keepPublicKey stores the signing key's public half in ARCHIVE/keys, so the
// bench can verify its own archive. A third party should bring its own copy
// of the key (bench verify --key): a key stored beside the records proves
// nothing to someone who could rewrite both.
func (a *Archive) keepPublicKey(pub crypto.PublicKey, keyID string) error {
	path := filepath.Join(a.dir, KeysDir, keyID+".pub")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	b, err := MarshalPublicKey(pub)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(a.dir, KeysDir), 0o755); err != nil {
		return fmt.Errorf("keep public key: %w", err)
	}
	if err := writeFileAtomic(path, b); err != nil {
		return fmt.Errorf("keep public key: %w", err)
	}
	return nil
}

// indexLock is index.jsonl held under the archive's lock, with where the next
// line goes. Holding it across a Seal lets the record name, under its
// signature, the index line it follows.
type indexLock struct {
	a        *Archive
	lock, f  *os.File
	path     string
	end      int64  // offset of the next line
	seq      int    // the next line's seq
	prev     string // the next line's prev
	fresh    bool   // the index was empty: its folder entry needs a sync
	last     []byte // the line append wrote last, without its newline
	released bool
}

// lockIndex takes the archive's lock (a mutex for this process, flock on
// index.lock for the others) and reads the index's last line.
func (a *Archive) lockIndex() (*indexLock, error) {
	a.mu.Lock()
	l := &indexLock{a: a, path: filepath.Join(a.dir, IndexFile)}
	fail := func(err error) (*indexLock, error) {
		l.unlock()
		return nil, err
	}
	var err error
	if l.lock, err = os.OpenFile(filepath.Join(a.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return fail(fmt.Errorf("lock index: %w", err))
	}
	if err := flock(l.lock); err != nil {
		return fail(fmt.Errorf("lock index %s: %w", l.lock.Name(), err))
	}
	if l.f, err = os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return fail(fmt.Errorf("open index: %w", err))
	}
	size, err := l.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fail(fmt.Errorf("index %s: %w", l.path, err))
	}
	last, end, err := lastLine(l.f, size)
	if err != nil {
		return fail(fmt.Errorf("index %s: %w", l.path, err))
	}
	if end < size {
		// A line without its newline: the append that wrote it was cut off
		// before its sync returned, so it never counted. Its run still has
		// the INCOMPLETE marker (removed only after the append). Cut the
		// torn bytes so the chain continues from the last whole line.
		if err := l.f.Truncate(end); err != nil {
			return fail(fmt.Errorf("index %s: cut torn last line: %w", l.path, err))
		}
	}
	l.end, l.seq, l.prev, l.fresh = end, 1, "", size == 0
	if last != nil {
		l.prev = sha256Hex(last)
		var prev IndexEntry
		if json.Unmarshal(last, &prev) == nil && prev.Seq > 0 {
			l.seq = prev.Seq + 1
		} else {
			// The last line is damaged (verify will say so); count lines.
			n, err := countLines(l.f, end)
			if err != nil {
				return fail(fmt.Errorf("index %s: %w", l.path, err))
			}
			l.seq = n + 1
		}
	}
	return l, nil
}

// append writes e as the next line, filling in Seq and Prev, with one write,
// and syncs it.
func (l *indexLock) append(e IndexEntry) (IndexEntry, error) {
	e.Seq, e.Prev = l.seq, l.prev
	line, err := json.Marshal(e)
	if err != nil {
		return e, fmt.Errorf("encode index line: %w", err)
	}
	if _, err := l.f.WriteAt(append(line, '\n'), l.end); err != nil {
		return e, fmt.Errorf("append to index %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return e, fmt.Errorf("sync index %s: %w", l.path, err)
	}
	if l.fresh {
		if err := syncDir(l.a.dir); err != nil {
			return e, err
		}
		l.fresh = false
	}
	l.end += int64(len(line)) + 1
	l.seq, l.prev, l.last = l.seq+1, sha256Hex(line), line
	return e, nil
}

// unlock releases the lock; a second call is a no-op.
func (l *indexLock) unlock() {
	if l.released {
		return
	}
	l.released = true
	if l.f != nil {
		l.f.Close()
	}
	if l.lock != nil {
		l.lock.Close() // releases the flock
	}
	l.a.mu.Unlock()
}

// appendIndex adds e as the next line of index.jsonl.
func (a *Archive) appendIndex(e IndexEntry) (IndexEntry, error) {
	l, err := a.lockIndex()
	if err != nil {
		return e, err
	}
	defer l.unlock()
	return l.append(e)
}

// lastLine returns the last newline-terminated line of f (without the
// newline) and the offset just past it, reading backwards from size so an
// append costs the same on a long index as on a short one.
func lastLine(f *os.File, size int64) ([]byte, int64, error) {
	var tail []byte // the bytes [pos, size) of f
	pos := size
	for {
		if i := bytes.LastIndexByte(tail, '\n'); i >= 0 {
			end := pos + int64(i) + 1
			if j := bytes.LastIndexByte(tail[:i], '\n'); j >= 0 {
				return tail[j+1 : i], end, nil
			}
			if pos == 0 {
				return tail[:i], end, nil
			}
		} else if pos == 0 {
			return nil, 0, nil // empty, or only a torn line
		}
		n := min(int64(4096), pos)
		pos -= n
		buf := make([]byte, n, n+int64(len(tail)))
		if _, err := f.ReadAt(buf, pos); err != nil {
			return nil, 0, err
		}
		tail = append(buf, tail...)
	}
}

func countLines(f *os.File, end int64) (int, error) {
	n := 0
	buf := make([]byte, 64<<10)
	for off := int64(0); off < end; {
		k, err := f.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		n += bytes.Count(buf[:k], []byte{'\n'})
		off += int64(k)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
	}
	return n, nil
}

func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// writeFileAtomic writes b to path so that path holds either its old
// content or all of b, whatever happens: temp file, fsync, rename, fsync
// the folder.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
