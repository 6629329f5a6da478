package results

import (
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
)

// ErrNotAbandoned is wrapped by CloseAbandoned's error for a run that is not
// an unsealed run of the archive.
var ErrNotAbandoned = errors.New("not an abandoned run")

// CloseAbandoned seals a run the bench never sealed (it stopped during the
// run: crash, power loss, kill), so that the archive verifies again, with a
// record that says only what is known, signed by key:
//
//   - bench, fixture and start from the run's INCOMPLETE marker; finished is
//     the newest modification time among its files (when it was last heard
//     of); device and declarations are left unknown;
//   - abandoned: when it was closed and reason (who closed it, and why);
//   - every file in its evidence folder, as it is now, marked incomplete;
//   - no case at all, so the run's verdict is NOT_RUN; or, when sealing was
//     cut off after a record was written, that record's cases with every
//     verdict but FAIL turned NOT_RUN (a problem found stays found; a PASS
//     nothing sealed is no result). The unsealed record and its envelope
//     move into the evidence folder as unsealed-record.json and
//     unsealed-record.dsse.json.
//
// The record is sealed like any other: its "sealed" index line (after an
// "open" line, if Begin was cut off before writing one), a checkpoint, its
// inclusion proof, then the marker is removed. The run must be in the
// archive with its marker and without a "sealed" line, and no process may
// still be writing it: the caller makes sure the run is over.
func (a *Archive) CloseAbandoned(id string, key crypto.Signer, reason string) (*Record, error) {
	fail := func(err error) (*Record, error) {
		return nil, fmt.Errorf("close run %s as abandoned: %w", id, err)
	}
	if !validRunID(id) {
		return fail(fmt.Errorf("%w: %q is not a run ID", ErrNotAbandoned, id))
	}
	if strings.TrimSpace(reason) == "" {
		return fail(errors.New("say why (the reason goes in the record)"))
	}
	dir := filepath.Join(a.dir, RunsDir, id)
	marker, err := os.ReadFile(filepath.Join(dir, IncompleteFile))
	if errors.Is(err, fs.ErrNotExist) {
		if !exists(dir) {
			return fail(fmt.Errorf("%w: no folder %s/%s in %s", ErrNotAbandoned, RunsDir, id, a.dir))
		}
		return fail(fmt.Errorf("%w: it has no %s marker: it was sealed", ErrNotAbandoned, IncompleteFile))
	} else if err != nil {
		return fail(err)
	}
	var m struct {
		Bench   string    `json:"bench"`
		Fixture string    `json:"fixture"`
		Opened  time.Time `json:"opened"`
	}
	if err := json.Unmarshal(marker, &m); err != nil || m.Fixture == "" || m.Opened.IsZero() {
		return fail(fmt.Errorf("its %s marker cannot be read (%v): nothing says which fixture it ran on", IncompleteFile, err))
	}
	if m.Bench == "" {
		m.Bench = "unknown"
	}
	open, sealed := indexLines(a.dir, id)
	if sealed {
		return fail(fmt.Errorf("%w: %s seals it; its marker is stale, and opening the archive with the bench removes it", ErrNotAbandoned, IndexFile))
	}
	keyID, err := KeyID(key.Public())
	if err != nil {
		return fail(err)
	}
	now := a.now()
	rec := &Record{
		SchemaVersion: SchemaVersion, RunID: id,
		Bench:    Bench{Name: m.Bench, KeyID: keyID},
		Fixture:  Fixture{Name: m.Fixture},
		Started:  m.Opened.UTC(),
		Clock:    checkClock(now, a.sync),
		Reason:   "abandoned: the bench stopped during the run (crash, power loss or kill) and never sealed it",
		Cases:    []Case{},
		Evidence: []File{},
		Abandoned: &Abandoned{
			Closed: now.UTC(), Reason: reason,
		},
	}
	rec.Clock.Synchronized = false
	rec.Clock.Detail = "the run was closed as abandoned: finished is when its files were last written, not when it ended"
	last := m.Opened
	// A record written but never sealed: its cases, but no PASS.
	if b, err := os.ReadFile(filepath.Join(dir, RecordFile)); err == nil {
		if old, err := ParseRecord(b); err == nil {
			rec.Device, rec.Declarations, rec.Images = old.Device, old.Declarations, old.Images
			for _, c := range old.Cases {
				if c.Verdict != Fail {
					c.Reason = fmt.Sprintf("the run was abandoned before it was sealed; its unsealed record said %s: %s", c.Verdict, c.Reason)
					c.Verdict = NotRun
				}
				rec.Cases = append(rec.Cases, c)
			}
		}
		for _, f := range []struct{ from, to string }{{RecordFile, "unsealed-record.json"}, {EnvelopeFile, "unsealed-record.dsse.json"}} {
			src := filepath.Join(dir, f.from)
			if !exists(src) {
				continue
			}
			if err := os.Rename(src, filepath.Join(dir, EvidenceDir, f.to)); err != nil {
				return fail(err)
			}
		}
		if err := syncDir(filepath.Join(dir, EvidenceDir)); err != nil {
			return fail(err)
		}
		if err := syncDir(dir); err != nil {
			return fail(err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, EvidenceDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	listed := map[string]bool{}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := EvidenceDir + "/" + e.Name()
		size, sum, err := fileDigest(filepath.Join(dir, EvidenceDir, e.Name()))
		if err != nil {
			return fail(err)
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().After(last) {
			last = fi.ModTime()
		}
		listed[p] = true
		rec.Evidence = append(rec.Evidence, File{Path: p, Kind: kindOf(e.Name()), Size: size, SHA256: sum,
			Incomplete: true, IncompleteReason: "written until the run was cut off; closed as abandoned"})
	}
	sort.Slice(rec.Evidence, func(i, j int) bool { return rec.Evidence[i].Path < rec.Evidence[j].Path })
	// Cases of an unsealed record may point at evidence; keep only what is there.
	for i := range rec.Cases {
		var refs []EvidenceRef
		for _, r := range rec.Cases[i].Evidence {
			if listed[r.Path] {
				refs = append(refs, r)
			}
		}
		rec.Cases[i].Evidence = refs
	}
	rec.Finished = last.UTC()
	if rec.Finished.Before(rec.Started) {
		rec.Finished = rec.Started
	}
	rec.Verdict = RunVerdict(rec.Cases)
	if err := rec.Validate(); err != nil {
		return fail(err)
	}
	if !open {
		// Begin was cut off between moving the run into runs/ and its open
		// line: the sealed line must follow one.
		if _, err := a.appendIndex(IndexEntry{Time: now.UTC(), Run: id, State: StateOpen, Fixture: m.Fixture}); err != nil {
			return fail(err)
		}
	}
	if _, err := a.commit(dir, id, m.Bench, m.Fixture, now, rec, key, keyID); err != nil {
		return fail(err)
	}
	if err := os.Remove(filepath.Join(dir, IncompleteFile)); err != nil {
		return fail(fmt.Errorf("sealed, but the marker stays (opening the archive removes it): %w", err))
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return rec, nil
}

// indexLines says whether the archive's index has an "open" and a "sealed"
// line for run id.
func indexLines(archive, id string) (open, sealed bool) {
	b, err := os.ReadFile(filepath.Join(archive, IndexFile))
	if err != nil {
		return false, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		var e IndexEntry
		if json.Unmarshal([]byte(line), &e) == nil && e.Run == id {
			open = open || e.State == StateOpen
			sealed = sealed || e.State == StateSealed
		}
	}
	return open, sealed
}

// kindOf guesses an evidence file's kind from the naming conventions of
// formats.md, for files no writer listed.
func kindOf(name string) Kind {
	switch {
	case strings.HasPrefix(name, "console-") && strings.HasSuffix(name, ".jsonl"):
		return KindTranscript
	case strings.HasPrefix(name, "power-") && strings.HasSuffix(name, ".jsonl"):
		return KindPower
	}
	return KindAttachment
}
