package results

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// ErrEvidenceFormat is wrapped when an evidence file breaks the line format
// of formats.md. It says the writer (a driver) is wrong, not the device.
var ErrEvidenceFormat = errors.New("evidence format")

// LoadRecord reads and parses the record of the run in runDir. It does not
// verify the signature: use Verify for that.
func LoadRecord(runDir string) (*Record, error) {
	b, err := os.ReadFile(filepath.Join(runDir, RecordFile))
	if err != nil {
		return nil, fmt.Errorf("load record: %w", err)
	}
	r, err := ParseRecord(b)
	if err != nil {
		return nil, fmt.Errorf("load record %s: %w", filepath.Join(runDir, RecordFile), err)
	}
	return r, nil
}

// Runs lists the IDs of the runs in the archive's runs/ folder, oldest first
// (IDs begin with their start time), sealed or not.
func (a *Archive) Runs() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(a.dir, RunsDir))
	if err != nil {
		return nil, fmt.Errorf("list runs in %s: %w", a.dir, err)
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// ReadTranscript reads a console transcript and checks each line against
// formats.md; an error names the first bad line.
func ReadTranscript(r io.Reader) ([]TranscriptLine, error) {
	var out []TranscriptLine
	err := eachLine(r, func(n int, b []byte) error {
		var probe struct {
			Text  *string `json:"text"`
			B64   *string `json:"b64"`
			Event *string `json:"event"`
		}
		var l TranscriptLine
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		json.Unmarshal(b, &probe)
		if l.Wall.IsZero() {
			return errors.New(`no "wall" time`)
		}
		switch l.Dir {
		case "rx", "tx":
			if l.Redacted {
				if l.Dir != "tx" || probe.Text != nil || probe.B64 != nil {
					return errors.New(`"redacted" is only on a tx line, which then has neither "text" nor "b64"`)
				}
				break
			}
			if (probe.Text == nil) == (probe.B64 == nil) {
				return fmt.Errorf(`dir %q needs exactly one of "text" and "b64"`, l.Dir)
			}
		case "event":
			if l.Redacted {
				return errors.New(`"redacted" is only on a tx line`)
			}
			switch l.Event {
			case "open", "lost", "reopen", "close", "note", "discard", "mark", "refused", "power":
			default:
				return fmt.Errorf(`event %q is not open, lost, reopen, close, note, discard, mark, refused or power`, l.Event)
			}
		default:
			return fmt.Errorf(`dir %q is not rx, tx or event`, l.Dir)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// ReadPowerEvents reads a power-events file and checks each line against
// formats.md; an error names the first bad line.
func ReadPowerEvents(r io.Reader) ([]PowerEvent, error) {
	var out []PowerEvent
	err := eachLine(r, func(n int, b []byte) error {
		var e PowerEvent
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		if e.Wall.IsZero() {
			return errors.New(`no "wall" time`)
		}
		if e.Switch == "" {
			return errors.New(`no "switch"`)
		}
		switch e.Action {
		case "on", "off", "press", "release", "safe", "wait", "cycle":
		default:
			return fmt.Errorf("action %q is not on, off, press, release, safe, wait or cycle", e.Action)
		}
		switch e.Level {
		case "", "High", "Low":
		default:
			return fmt.Errorf(`level %q is not "High" or "Low"`, e.Level)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// eachLine calls fn with each line of r (numbered from 1, without its
// newline); a final line without a newline counts (a recorder cut off by a
// crash leaves one) only if it parses.
func eachLine(r io.Reader, fn func(n int, line []byte) error) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			body := line
			if body[len(body)-1] == '\n' {
				body = body[:len(body)-1]
			}
			if ferr := fn(n, body); ferr != nil {
				if err == io.EOF && line[len(line)-1] != '\n' {
					return fmt.Errorf("%w: line %d is cut off (no newline): %v", ErrEvidenceFormat, n, ferr)
				}
				return fmt.Errorf("%w: line %d: %v", ErrEvidenceFormat, n, ferr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
}
