package results

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// The index as a transparency log (formats.md, "Checkpoint" and
// "Inclusion proof"). Every line of index.jsonl is a leaf of a Merkle tree
// (RFC 6962 hashing, golang.org/x/mod/sumdb/tlog); the bench signs a
// checkpoint (origin, size, root hash) of that tree at every seal. A line
// changed, removed, inserted or reordered, and lines cut off the end, change
// the tree, so they show against any checkpoint signed after them; what an
// archive cannot show alone (an older copy restored whole, with its older
// checkpoint) shows against a checkpoint kept elsewhere: `bench verify
// --checkpoint FILE`.
const (
	// CheckpointFile is ARCHIVE/checkpoint.dsse.json: the newest signed
	// checkpoint, replaced whole at each seal.
	CheckpointFile = "checkpoint.dsse.json"
	// InclusionFile is runs/RUN_ID/inclusion.json: the run's "sealed" index
	// line, the checkpoint it was sealed under and the proof that the line
	// is in that checkpoint's tree.
	InclusionFile = "inclusion.json"
	// CheckpointPayloadType is the DSSE payload type of a checkpoint; the
	// payload is a C2SP tlog-checkpoint body.
	CheckpointPayloadType = "application/vnd.certbench.checkpoint+c2sp"
)

// ProblemCheckpoint: the archive's checkpoint is missing, does not verify,
// or does not match the index; a run is not under the checkpoint or its
// inclusion proof fails; or the archive is not the one a checkpoint kept
// elsewhere was signed over (VerifyOptions.Checkpoint).
const ProblemCheckpoint = "checkpoint"

// Checkpoint is a C2SP tlog-checkpoint body
// (https://c2sp.org/tlog-checkpoint): which log, how many lines, and the
// Merkle tree hash over them.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Body is the checkpoint as C2SP writes it: three lines, each ending in a
// newline.
func (c Checkpoint) Body() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

func (c Checkpoint) String() string {
	return fmt.Sprintf("%s, %d lines, root %s", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpointBody reads a C2SP checkpoint body. Extension lines (after
// the root hash) are refused: the bench writes none, and a verifier must not
// be shown lines it does not check.
func ParseCheckpointBody(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if !bytes.HasSuffix(b, []byte("\n")) {
		return c, errors.New("checkpoint body does not end in a newline")
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if len(lines) != 3 {
		return c, fmt.Errorf("checkpoint body has %d lines, want 3 (origin, size, root hash)", len(lines))
	}
	c.Origin = lines[0]
	if c.Origin == "" {
		return c, errors.New("checkpoint has an empty origin")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || lines[1] != strconv.FormatInt(n, 10) {
		return c, fmt.Errorf("checkpoint size %q is not a decimal number", lines[1])
	}
	c.Size = n
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fmt.Errorf("checkpoint root hash %q is not 32 bytes of base64", lines[2])
	}
	copy(c.Root[:], root)
	return c, nil
}

// SignCheckpoint signs c as a DSSE envelope (the records' format, so a P-256
// bench key signs it as well as an Ed25519 one).
func SignCheckpoint(key crypto.Signer, c Checkpoint) (*Envelope, error) {
	env, err := Sign(key, CheckpointPayloadType, c.Body())
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return env, nil
}

// OpenCheckpoint checks env's signature with keys and decodes its
// checkpoint. It returns the ID of the key that signed.
func OpenCheckpoint(env *Envelope, keys ...crypto.PublicKey) (Checkpoint, string, error) {
	if env.PayloadType != CheckpointPayloadType {
		return Checkpoint{}, "", fmt.Errorf("not a checkpoint: payloadType %q, want %q", env.PayloadType, CheckpointPayloadType)
	}
	keyID, err := env.Verify(keys...)
	if err != nil {
		return Checkpoint{}, "", fmt.Errorf("checkpoint: %w", err)
	}
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return Checkpoint{}, "", fmt.Errorf("checkpoint payload: %w", err)
	}
	c, err := ParseCheckpointBody(body)
	return c, keyID, err
}

// VerifyCheckpoint decodes a signed checkpoint and checks its signature.
func VerifyCheckpoint(b []byte, keys ...crypto.PublicKey) (Checkpoint, string, error) {
	env, err := ParseEnvelope(b)
	if err != nil {
		return Checkpoint{}, "", fmt.Errorf("checkpoint: %w", err)
	}
	return OpenCheckpoint(env, keys...)
}

// Inclusion is runs/RUN_ID/inclusion.json. It cannot be inside the signed
// record: the "sealed" line it proves holds the record's digest. It needs no
// signature of its own: the checkpoint in it is signed, and the proof is
// arithmetic a verifier redoes.
type Inclusion struct {
	// Line is the run's "sealed" index line, without its newline; its
	// record_sha256 is the SHA-256 of record.json.
	Line string `json:"line"`
	// Leaf is the line's position in the tree, from 0 (its seq minus 1).
	Leaf int64 `json:"leaf"`
	// Checkpoint is the signed checkpoint the run was sealed under (or,
	// for a run sealed before checkpoints or whose seal was cut off, the
	// first one signed after it).
	Checkpoint *Envelope `json:"checkpoint"`
	// Proof is the RFC 6962 inclusion proof of Line at Leaf in the
	// checkpoint's tree, base64 hashes.
	Proof []tlog.Hash `json:"proof"`
}

// ParseInclusion decodes inclusion.json strictly.
func ParseInclusion(b []byte) (*Inclusion, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var in Inclusion
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("not an inclusion proof: %w", err)
	}
	if in.Checkpoint == nil {
		return nil, errors.New("not an inclusion proof: no checkpoint")
	}
	return &in, nil
}

// Check verifies the proof: the checkpoint's signature with keys, and that
// Line is leaf Leaf of its tree. It returns the checkpoint.
func (in *Inclusion) Check(keys ...crypto.PublicKey) (Checkpoint, error) {
	c, _, err := OpenCheckpoint(in.Checkpoint, keys...)
	if err != nil {
		return c, err
	}
	if in.Leaf < 0 || in.Leaf >= c.Size {
		return c, fmt.Errorf("leaf %d is outside the checkpoint's %d lines", in.Leaf, c.Size)
	}
	if err := tlog.CheckRecord(in.Proof, c.Size, c.Root, in.Leaf, tlog.RecordHash([]byte(in.Line))); err != nil {
		return c, fmt.Errorf("the line is not leaf %d of the checkpoint's tree: %v", in.Leaf, err)
	}
	return c, nil
}

// tree is the Merkle tree over index lines, all its stored hashes in memory
// (about two per line: 64 bytes a line).
type tree struct {
	n      int64
	hashes []tlog.Hash
}

func (t *tree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("tree hash %d not stored (tree of %d lines)", x, t.n)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

// add appends a line (without its newline) as the next leaf.
func (t *tree) add(line []byte) {
	hs, err := tlog.StoredHashes(t.n, line, t)
	if err != nil {
		panic(err) // every hash it reads was stored by an earlier add
	}
	t.hashes = append(t.hashes, hs...)
	t.n++
}

// root is the tree hash over the first n lines.
func (t *tree) root(n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, t)
	if err != nil {
		panic(err)
	}
	return h
}

func (t *tree) prove(size, leaf int64) []tlog.Hash {
	p, err := tlog.ProveRecord(size, leaf, t)
	if err != nil {
		panic(err)
	}
	return p
}

// treeOf builds the tree over the newline-terminated lines of an index.
func treeOf(index []byte) (*tree, [][]byte) {
	t := &tree{}
	var lines [][]byte
	for len(index) > 0 {
		i := bytes.IndexByte(index, '\n')
		if i < 0 {
			break // a torn line is no leaf
		}
		lines = append(lines, index[:i])
		t.add(index[:i])
		index = index[i+1:]
	}
	return t, lines
}

// newOrigin names a new archive's log: the bench and a random part, so two
// archives of one bench are never taken for each other.
func newOrigin(bench string) string {
	var b [8]byte
	rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r <= ' ' || r == '/' || r == 0x7f {
			return '-'
		}
		return r
	}, bench)
	if name == "" {
		name = "bench"
	}
	return "certbench/" + name + "/" + hex.EncodeToString(b[:])
}

// ErrIndexChanged is wrapped when the bench will not sign a checkpoint
// because the index no longer matches the last one: signing would bless the
// change.
var ErrIndexChanged = errors.New("index.jsonl does not match its signed checkpoint")

// logState is the index's tree as the bench extends it under the index
// lock: read and checked against the checkpoint there (loadLog), a leaf
// added per line appended, then signed (sign). The Archive keeps it between
// seals (Archive.log, guarded by Archive.mu), so a seal reads only the lines
// appended since, by this process or another: a seal costs the same on a
// long index as on a short one. It holds what the bench read and wrote; if
// someone changes lines it read before, the checkpoint it signs no longer
// matches the index, which verify reports: the cache never blesses a change.
type logState struct {
	t      *tree
	lines  [][]byte
	end    int64 // bytes of index.jsonl the tree holds
	origin string
	// scanned is how many lines were looked at for sealed runs that lack
	// their inclusion proof.
	scanned int
}

// loadLog brings the index held under l into the archive's tree (reading
// only what was appended since the last seal, or all of it the first time
// or when the file is shorter than what was read) and checks it against the
// archive's checkpoint, signed by pub. It refuses, with ErrIndexChanged, an
// index that is not an extension of that checkpoint: the bench must not
// sign over lines someone changed. bench names the log of an archive that
// has no checkpoint yet.
func (l *indexLock) loadLog(pub crypto.PublicKey, bench string) (*logState, error) {
	st := l.a.log
	if st == nil || st.end > l.end || !l.holds(st) {
		st = &logState{t: &tree{}}
	}
	b := make([]byte, l.end-st.end)
	if _, err := l.f.ReadAt(b, st.end); err != nil {
		return nil, fmt.Errorf("read index %s: %w", l.path, err)
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break // (lockIndex cut any torn line)
		}
		st.add(b[:i])
		b = b[i+1:]
	}
	t := st.t
	path := filepath.Join(l.a.dir, CheckpointFile)
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		prev, _, err := VerifyCheckpoint(old, pub)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v (signed by another key? an archive has one bench key)", ErrIndexChanged, CheckpointFile, err)
		}
		if prev.Size > t.n || t.root(prev.Size) != prev.Root {
			l.a.log = nil // read it all again next time
			return nil, fmt.Errorf("%w: the checkpoint signed %d lines, the index has %d and its first %d are not the ones signed (run bench verify; start a new archive)", ErrIndexChanged, prev.Size, t.n, min(prev.Size, t.n))
		}
		st.origin = prev.Origin
	case os.IsNotExist(err):
		if st.origin == "" {
			st.origin = newOrigin(bench)
		}
	default:
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	l.a.log = st
	return st, nil
}

// holds reports whether the index still ends, where st last read it, with
// the line st read last: else it was rewritten, and is read again whole.
func (l *indexLock) holds(st *logState) bool {
	if len(st.lines) == 0 {
		return st.end == 0
	}
	last := st.lines[len(st.lines)-1]
	b := make([]byte, len(last)+1)
	if _, err := l.f.ReadAt(b, st.end-int64(len(b))); err != nil {
		return false
	}
	return bytes.Equal(b[:len(last)], last) && b[len(last)] == '\n'
}

// sign signs a checkpoint over every line of st and writes it (temp file,
// fsync, rename), then writes the inclusion proof of every sealed run whose
// folder has none, among the lines not looked at before: the run just
// sealed, and (the first time a process seals) any whose seal was cut off
// before its proof or that was sealed before checkpoints. A crash before
// the checkpoint is written leaves the old one, which the index extends: the
// next seal signs over both.
func (l *indexLock) sign(st *logState, key crypto.Signer) (Checkpoint, error) {
	a, t := l.a, st.t
	c := Checkpoint{Origin: st.origin, Size: t.n, Root: t.root(t.n)}
	env, err := SignCheckpoint(key, c)
	if err != nil {
		return c, err
	}
	envJSON, err := env.Marshal()
	if err != nil {
		return c, err
	}
	if err := writeFileAtomic(filepath.Join(a.dir, CheckpointFile), envJSON); err != nil {
		return c, err
	}
	a.at("seal: checkpoint written")
	for i := st.scanned; i < len(st.lines); i++ {
		line := st.lines[i]
		var e IndexEntry
		if json.Unmarshal(line, &e) != nil || e.State != StateSealed || !validRunID(e.Run) {
			continue
		}
		dir := filepath.Join(a.dir, RunsDir, e.Run)
		if !exists(dir) || exists(filepath.Join(dir, InclusionFile)) {
			continue
		}
		in := Inclusion{Line: string(line), Leaf: int64(i), Checkpoint: env, Proof: t.prove(t.n, int64(i))}
		js, err := json.Marshal(in)
		if err != nil {
			return c, err
		}
		if err := writeFileAtomic(filepath.Join(dir, InclusionFile), append(js, '\n')); err != nil {
			return c, fmt.Errorf("run %s: %w", e.Run, err)
		}
	}
	st.scanned = len(st.lines)
	return c, nil
}

// add appends a line (without its newline) that is now in the index file.
func (st *logState) add(line []byte) {
	st.t.add(line)
	st.lines = append(st.lines, line)
	st.end += int64(len(line)) + 1
}

// validRunID keeps a name read from the index from being a path.
func validRunID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, `/\`)
}

// Checkpoint signs a checkpoint over the archive's index as it is and
// writes the inclusion proofs runs lack: for an archive written before
// checkpoints, or one whose last seal was cut off before it signed its
// checkpoint. It refuses an index that does not extend the checkpoint
// already there (ErrIndexChanged). Run Verify first: the checkpoint commits
// to the index as it now is. bench names a new log (the bench file's name).
func (a *Archive) Checkpoint(key crypto.Signer, bench string) (Checkpoint, error) {
	l, err := a.lockIndex()
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %s: %w", a.dir, err)
	}
	defer l.unlock()
	a.log = nil // read the whole index, and look at every run for a missing proof
	st, err := l.loadLog(key.Public(), bench)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint %s: %w", a.dir, err)
	}
	c, err := l.sign(st, key)
	if err != nil {
		return c, fmt.Errorf("checkpoint %s: %w", a.dir, err)
	}
	l.unlock()
	a.finishSeals() // runs whose seal was cut off are now under it
	return c, nil
}

// checkpoint checks the archive's checkpoint: its signature, and that the
// index is the log it signed, or that log with lines appended since (the
// open lines of runs under way, or a seal cut off before its checkpoint).
func (v *verifier) checkpoint(dir string, runs map[string]*indexRun) {
	t := v.tree
	if t == nil {
		t = &tree{}
		v.tree = t
	}
	b, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
	if errors.Is(err, fs.ErrNotExist) {
		if t.n > 0 {
			v.problem(Problem{Kind: ProblemCheckpoint, File: CheckpointFile,
				Message: "missing: nothing signed commits to the end of the index, so runs removed from its end would not show. An archive written before checkpoints gets one from `bench archive checkpoint -c BENCH.yaml DIR` (after verifying it) or at its next seal; otherwise it was removed"})
			for id := range runs {
				v.indexBad[id] = true
			}
		}
		return
	}
	if err != nil {
		v.problem(Problem{Kind: ProblemCheckpoint, File: CheckpointFile, Message: unwrapPath(err).Error()})
		return
	}
	c, keyID, err := VerifyCheckpoint(b, v.keys...)
	if err != nil {
		kind := ProblemCheckpoint
		if errors.Is(err, ErrSignature) {
			kind = ProblemSignature
		}
		v.problem(Problem{Kind: kind, File: CheckpointFile, Message: err.Error()})
		for id := range runs {
			v.indexBad[id] = true
		}
		return
	}
	v.head = &c
	v.rep.Checkpoint = checkpointInfo(c, keyID)
	v.signers[keyID] = append(v.signers[keyID], CheckpointFile)
	switch {
	case c.Size > t.n:
		v.problem(Problem{Kind: ProblemCheckpoint, File: IndexFile,
			Message: fmt.Sprintf("the signed checkpoint covers %d lines, the index has %d: lines %d to %d were removed (the newest runs deleted with their index lines, or an older index put back)%s",
				c.Size, t.n, t.n+1, c.Size, v.runsAfter(dir, t.n))})
	case t.root(c.Size) != c.Root:
		v.problem(Problem{Kind: ProblemCheckpoint, File: IndexFile,
			Message: fmt.Sprintf("the index's first %d lines are not the ones the checkpoint signed: lines were changed, removed, inserted or reordered", c.Size)})
		// Which runs it touches, each run's inclusion proof says: its own
		// checkpoint holds the tree up to its seal.
	}
	if c.Size < t.n {
		ids := make([]string, 0, len(runs))
		for id := range runs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if ir := runs[id]; ir.sealLine > int(c.Size) {
				v.problem(Problem{Kind: ProblemCheckpoint, File: IndexFile, Line: ir.sealLine, Run: id,
					Message: fmt.Sprintf("sealed after the newest signed checkpoint (%d lines): nothing signed commits to it yet (a seal cut off before its checkpoint; the next seal or `bench archive checkpoint` signs one)", c.Size)})
				v.indexBad[id] = true
			}
		}
	}
}

// runsAfter names run folders whose inclusion proof puts their sealed line
// at or after line n+1 of an index cut to n lines: runs whose lines were
// removed and whose folders stayed.
func (v *verifier) runsAfter(dir string, n int64) string {
	ents, _ := os.ReadDir(filepath.Join(dir, RunsDir))
	var ids []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, RunsDir, e.Name(), InclusionFile))
		if err != nil {
			continue
		}
		if in, err := ParseInclusion(b); err == nil && in.Leaf >= n {
			ids = append(ids, e.Name())
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return "; runs sealed there: " + strings.Join(ids, ", ")
}

// checkInclusion checks a sealed run's inclusion.json: the checkpoint in it
// verifies, is of this archive's log and matches this index at its size,
// and proves the run's own sealed line.
func (v *verifier) checkInclusion(dir, id string, ir indexRun) {
	file := RunsDir + "/" + id + "/" + InclusionFile
	bad := func(format string, a ...any) {
		v.problem(Problem{Kind: ProblemCheckpoint, File: file, Run: id, Message: fmt.Sprintf(format, a...)})
		v.indexBad[id] = true
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
	if err != nil {
		if v.head != nil && int64(ir.sealLine) <= v.head.Size {
			bad("no inclusion proof: %v (the bench writes it when it signs the checkpoint after the seal)", unwrapPath(err))
		}
		return
	}
	in, err := ParseInclusion(b)
	if err != nil {
		bad("%v", err)
		return
	}
	c, err := in.Check(v.keys...)
	if err != nil {
		bad("%v", err)
		return
	}
	if k := ir.sealLine - 1; in.Leaf != int64(k) || k >= len(v.lines) || in.Line != string(v.lines[k]) {
		bad("proves leaf %d, but this run's sealed line is %s line %d (leaf %d), and the proof's line is not it", in.Leaf, IndexFile, ir.sealLine, k)
		return
	}
	if v.head != nil && c.Origin != v.head.Origin {
		bad("sealed under a checkpoint of another log (%q; this archive's is %q): the run was copied in from another archive", c.Origin, v.head.Origin)
		return
	}
	if c.Size > v.tree.n {
		bad("sealed under a checkpoint of %d lines, but the index has %d: lines %d to %d were removed", c.Size, v.tree.n, v.tree.n+1, c.Size)
		return
	}
	if v.tree.root(c.Size) != c.Root {
		bad("sealed under a checkpoint of %d lines whose root is not that of the index's first %d lines: lines before this run were changed, removed, inserted or reordered", c.Size, c.Size)
	}
}

// held compares the archive with the checkpoint the caller kept
// (VerifyOptions.Checkpoint): the archive's index must be the log it signed
// or an extension of it, and the archive's own checkpoint must be provably
// consistent with it.
func (v *verifier) held() {
	if v.opts.Checkpoint == nil {
		return
	}
	const file = "--checkpoint"
	bad := func(format string, a ...any) {
		v.problem(Problem{Kind: ProblemCheckpoint, File: file, Message: fmt.Sprintf(format, a...)})
	}
	c, keyID, err := VerifyCheckpoint(v.opts.Checkpoint, v.keys...)
	if err != nil {
		bad("the checkpoint given does not verify: %v", err)
		return
	}
	h := &HeldCheckpoint{CheckpointInfo: *checkpointInfo(c, keyID)}
	v.rep.Held = h
	t := v.tree
	switch {
	case v.head != nil && c.Origin != v.head.Origin:
		bad("the checkpoint given is of another archive (origin %q; this one's is %q)", c.Origin, v.head.Origin)
	case c.Size > t.n:
		bad("the checkpoint given covers %d lines, this archive's index has %d: this is an older copy, or lines %d to %d (the newest runs) were removed%s", c.Size, t.n, t.n+1, c.Size, v.runsAfter(v.rep.Dir, t.n))
	case t.root(c.Size) != c.Root:
		bad("this archive's first %d lines are not the ones the checkpoint given signed: it is not that archive nor an extension of it (lines changed, removed, inserted or reordered)", c.Size)
	case v.head == nil || v.head.Size < c.Size:
		bad("the archive's own checkpoint is missing or older than the one given: nothing the bench signed extends it")
	default:
		p, err := tlog.ProveTree(v.head.Size, c.Size, t)
		if err == nil {
			err = tlog.CheckTree(p, v.head.Size, v.head.Root, c.Size, c.Root)
		}
		if err != nil {
			bad("no consistency proof from the checkpoint given to the archive's: %v", err)
			return
		}
		h.Extends = true
	}
}

// checkLooseInclusion checks a run folder's inclusion.json without its
// archive: the proof against its own checkpoint, and that its line seals
// this run's record.json.
func (v *verifier) checkLooseInclusion(dir, id string, recJSON []byte) {
	b, err := os.ReadFile(filepath.Join(dir, InclusionFile))
	if err != nil {
		return // not required of a run folder alone: its archive checks it
	}
	bad := func(format string, a ...any) {
		v.problem(Problem{Kind: ProblemCheckpoint, File: InclusionFile, Run: id, Message: fmt.Sprintf(format, a...)})
	}
	in, err := ParseInclusion(b)
	if err != nil {
		bad("%v", err)
		return
	}
	c, err := in.Check(v.keys...)
	if err != nil {
		bad("%v", err)
		return
	}
	var e IndexEntry
	if err := json.Unmarshal([]byte(in.Line), &e); err != nil || e.Run != id || e.State != StateSealed {
		bad("the proven line is not this run's sealed line")
		return
	}
	if recJSON != nil && e.Record != sha256Hex(recJSON) {
		bad("the proven line seals a record with SHA-256 %s, record.json has %s", short(e.Record), short(sha256Hex(recJSON)))
		return
	}
	_, keyID, _ := OpenCheckpoint(in.Checkpoint, v.keys...) // verified by Check
	v.rep.Checkpoint = checkpointInfo(c, keyID)
}
