package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/certbench/certbench/results"
)

// Evidence is one evidence file as the report read it. Transcripts and power
// events are decoded line by line; a line that cannot be decoded is skipped
// with a notice, so one torn or garbled line costs that line only.
type Evidence struct {
	Path string       // "evidence/console-cam-1.jsonl", as the record lists it
	Kind results.Kind // from the record, or guessed from the name for a run without one
	// Listed is true when the record lists the file (with size and digest).
	Listed bool
	// Read is false when the file could not be read at all.
	Read       bool
	Size       int64
	Transcript []results.TranscriptLine // KindTranscript
	Power      []results.PowerEvent     // KindPower
	Notices    []string

	linesOnce sync.Once
	lines     []Line // Transcript as display lines, made once
}

// displayLines returns the transcript as display lines (see Line). Every
// case's excerpt reads them, so they are made once.
func (ev *Evidence) displayLines() []Line {
	ev.linesOnce.Do(func() { ev.lines = consoleLines(ev.Transcript) })
	return ev.lines
}

// maxLineNotices bounds the notices of one file: a file of garbage says so
// in a few lines, not in one per line.
const maxLineNotices = 3

// readEvidence reads the file f of the run folder dir. changed is what
// results.Verify found wrong with its size or digest ("" when nothing): the
// report does not compare digests itself, it says what bench verify says.
func readEvidence(dir string, f results.File, listed bool, changed string) *Evidence {
	ev := &Evidence{Path: f.Path, Kind: f.Kind, Listed: listed}
	if f.Incomplete {
		ev.Notices = append(ev.Notices, fmt.Sprintf("%s is incomplete: %s; what it shows may stop short of what happened", f.Path, f.IncompleteReason))
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
	if err != nil {
		ev.Notices = append(ev.Notices, fmt.Sprintf("%s cannot be read (%v): this evidence is not shown", f.Path, unwrapPath(err)))
		return ev
	}
	ev.Read, ev.Size = true, int64(len(b))
	if listed && changed != "" {
		ev.Notices = append(ev.Notices, fmt.Sprintf("%s changed after the run (%s): what is shown is not what was recorded", f.Path, changed))
	}
	switch f.Kind {
	case results.KindTranscript:
		ev.Transcript = decodeLines(ev, b, checkTranscriptLine)
	case results.KindPower:
		ev.Power = decodeLines(ev, b, checkPowerEvent)
	}
	return ev
}

// decodeLines decodes every line of b as a T, keeping those check accepts.
func decodeLines[T any](ev *Evidence, b []byte, check func(*T) error) []T {
	var out []T
	var bad []string
	lines := bytes.Split(b, []byte{'\n'})
	torn := lines[len(lines)-1]
	lines = lines[:len(lines)-1]
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var v T
		err := json.Unmarshal(line, &v)
		if err == nil {
			err = check(&v)
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("line %d: %v", i+1, err))
			continue
		}
		out = append(out, v)
	}
	if len(torn) > 0 {
		// Recorders write a line and its newline in one write: bytes after
		// the last newline are a write cut off by a crash.
		var v T
		if json.Unmarshal(torn, &v) == nil && check(&v) == nil {
			out = append(out, v)
		} else {
			ev.Notices = append(ev.Notices, fmt.Sprintf("%s: the last line (%d bytes, no newline) was cut off while being written; it is not shown", ev.Path, len(torn)))
		}
	}
	if len(bad) > 0 {
		shown := bad[:min(len(bad), maxLineNotices)]
		msg := fmt.Sprintf("%s: %d of %d lines are malformed and not shown (%s", ev.Path, len(bad), len(lines), joinSemi(shown))
		if len(bad) > len(shown) {
			msg += "; ..."
		}
		ev.Notices = append(ev.Notices, msg+")")
	}
	return out
}

func joinSemi(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(x)
	}
	return b.String()
}

func checkTranscriptLine(l *results.TranscriptLine) error {
	switch l.Dir {
	case "rx", "tx":
		if l.Text != "" && l.B64 != nil {
			return fmt.Errorf("%s line has both text and b64", l.Dir)
		}
	case "event":
		if l.Event == "" {
			return fmt.Errorf("event line without an event")
		}
	default:
		return fmt.Errorf("dir %q is not rx, tx or event", l.Dir)
	}
	return nil
}

var powerActions = []string{"on", "off", "press", "release", "safe", "wait", "cycle"}

func checkPowerEvent(e *results.PowerEvent) error {
	if !slices.Contains(powerActions, e.Action) {
		return fmt.Errorf("action %q is not one of %v", e.Action, powerActions)
	}
	return nil
}

// unwrapPath drops the path from an *os.PathError: the notice names it.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
