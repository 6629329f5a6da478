package report

import (
	"bytes"
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

// State is how complete a run is on disk. It is not about signatures: a
// report trusts the files it reads (`bench verify` checks them).
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

// Verdict is the run's verdict as a report may state it: a sealed record's,
// or FAIL from a record that was written but never sealed (a problem found
// stays found). Otherwise it is "": an unsealed PASS is not a result, and a
// run without a valid record has no verdict.
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
		rep.Runs = []*Run{loadRun(dir, filepath.Base(dir))}
	default:
		return nil, fmt.Errorf("read results in %s: no %s or %s/ (an archive), no %s or %s (a run folder): %w",
			dir, results.IndexFile, results.RunsDir, results.RecordFile, results.IncompleteFile, ErrNotResults)
	}
	return rep, nil
}

func loadArchive(rep *Source) {
	// The index is read only to find runs whose folder is gone: a report
	// must not let a lost result pass unnoticed. Checking its chain is
	// bench verify's job.
	indexed := map[string]results.IndexEntry{}
	b, err := os.ReadFile(filepath.Join(rep.Dir, results.IndexFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rep.Notices = append(rep.Notices, fmt.Sprintf("the archive has no %s; runs are listed from the %s folder", results.IndexFile, results.RunsDir))
	case err != nil:
		rep.Notices = append(rep.Notices, fmt.Sprintf("%s cannot be read: %v", results.IndexFile, err))
	default:
		bad := 0
		for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var e results.IndexEntry
			if err := json.Unmarshal(line, &e); err != nil || e.Run == "" {
				if bad++; bad <= 3 {
					rep.Notices = append(rep.Notices, fmt.Sprintf("%s line %d is not an index entry; skipped", results.IndexFile, i+1))
				}
				continue
			}
			if prev, ok := indexed[e.Run]; !ok || prev.Fixture == "" {
				indexed[e.Run] = e
			}
		}
		if bad > 3 {
			rep.Notices = append(rep.Notices, fmt.Sprintf("%s: %d more lines are not index entries", results.IndexFile, bad-3))
		}
	}
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
			rep.Runs = append(rep.Runs, &Run{ID: id, Dir: runDir, State: StateMissing, Fixture: e.Fixture,
				Notices: []string{fmt.Sprintf("%s names this run but its folder %s/%s is gone: its results are lost from this archive", results.IndexFile, results.RunsDir, id)}})
			continue
		}
		run := loadRun(runDir, id)
		if run.Fixture == "" {
			run.Fixture = indexed[id].Fixture
		}
		rep.Runs = append(rep.Runs, run)
	}
}

// loadRun reads one run folder. It never fails: what cannot be read is a
// notice on the run or on one of its evidence files.
func loadRun(dir, id string) *Run {
	run := &Run{ID: id, Dir: dir}
	marker, markerErr := os.ReadFile(filepath.Join(dir, results.IncompleteFile))
	if markerErr == nil {
		run.State = StateIncomplete
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

	recJSON, err := os.ReadFile(filepath.Join(dir, results.RecordFile))
	switch {
	case err == nil:
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
	case errors.Is(err, fs.ErrNotExist):
		if run.State != StateIncomplete {
			run.Notices = append(run.Notices, fmt.Sprintf("%s is missing: the run's results are lost", results.RecordFile))
		}
	default:
		run.Notices = append(run.Notices, fmt.Sprintf("%s cannot be read: %v", results.RecordFile, err))
	}

	switch {
	case run.State == StateIncomplete && run.Record != nil:
		run.Notices = append([]string{"the run went to its end, but sealing was cut off (crash, power loss or kill) after its record was written: the record is not signed"}, run.Notices...)
	case run.State == StateIncomplete:
		opened := "at an unknown time"
		if !run.Opened.IsZero() {
			opened = run.Opened.UTC().Format(time.RFC3339)
		}
		run.Notices = append([]string{fmt.Sprintf("the run began %s and was cut off (crash, power loss or kill) before it had a record: no case has a verdict; the evidence written until then is shown", opened)}, run.Notices...)
	case run.Record != nil:
		run.State = StateSealed
	default:
		run.State = StateUnreadable
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
