package results

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Kind is what an evidence file holds, so a reader knows how to show it.
type Kind string

// Evidence kinds. The line formats of transcripts and power events are the
// shared contract in formats.md; this package reads them without importing
// the drivers that write them.
const (
	// KindTranscript is a console transcript, JSON Lines of TranscriptLine
	// (both directions, timestamped), conventionally console-FIXTURE.jsonl.
	KindTranscript Kind = "console-transcript"
	// KindPower is power events, JSON Lines of PowerEvent,
	// conventionally power-FIXTURE.jsonl.
	KindPower Kind = "power-events"
	// KindNetwork is a network exchange: requests and answers of a probe
	// (HTTP, telnet, MQTT), JSON Lines written by the network driver.
	KindNetwork Kind = "network-exchange"
	// KindImages is JSON Lines of Image: the firmware images a case used,
	// with their digests.
	KindImages Kind = "image-digests"
	// KindAttachment is anything else a case wants to keep (a configuration
	// dump before and after a factory reset, say).
	KindAttachment Kind = "attachment"
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	switch k {
	case KindTranscript, KindPower, KindNetwork, KindImages, KindAttachment:
		return true
	}
	return false
}

// File is one evidence file as the record lists it: where it is in the run's
// folder, what it holds, and its exact size and SHA-256 when it was closed.
type File struct {
	Path   string `json:"path"` // relative to the run's folder: "evidence/NAME"
	Kind   Kind   `json:"kind"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
	// Incomplete says the file does not hold all the bench meant to record:
	// a write, sync or close of it failed, or the recorder writing it
	// reported a fault (Run.MarkIncomplete). Size and SHA256 are still those
	// of the bytes on disk. IncompleteReason says what failed. A run with
	// incomplete evidence cannot be PASS or NOT_APPLICABLE (Validate).
	Incomplete       bool   `json:"incomplete,omitempty"`
	IncompleteReason string `json:"incomplete_reason,omitempty"`
}

// EvidenceDir is the folder of a run that holds its evidence files.
const EvidenceDir = "evidence"

// Evidence names are flat (no folders), start with a letter or digit and use
// only characters that need no quoting in any shell or URL.
var reEvidenceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func checkEvidenceName(name string) error {
	if !reEvidenceName.MatchString(name) || strings.HasSuffix(name, ".tmp") {
		return fmt.Errorf("evidence name %q: use letters, digits, '.', '_' and '-' (up to 128, no folders, not ending in .tmp)", name)
	}
	return nil
}

func checkEvidencePath(path string) error {
	name, ok := strings.CutPrefix(path, EvidenceDir+"/")
	if !ok {
		return fmt.Errorf("evidence path %q is not under %s/", path, EvidenceDir)
	}
	return checkEvidenceName(name)
}

// TranscriptLine is one line of a console transcript (formats.md).
type TranscriptLine struct {
	MonoNs int64     `json:"mono_ns"`
	Wall   time.Time `json:"wall"`
	Dir    string    `json:"dir"` // "rx", "tx" or "event"
	Text   string    `json:"text,omitempty"`
	B64    []byte    `json:"b64,omitempty"` // bytes that were not valid UTF-8
	Event  string    `json:"event,omitempty"`
	Detail string    `json:"detail,omitempty"`
	// Redacted: a tx line of a secret, sent but not recorded (formats.md).
	Redacted bool `json:"redacted,omitempty"`
}

// PowerEvent is one line of a power-events file (formats.md).
type PowerEvent struct {
	MonoNs int64     `json:"mono_ns"`
	Wall   time.Time `json:"wall"`
	Switch string    `json:"switch"`
	Action string    `json:"action"`
	// StartMonoNs and StartWall are when a switch began (a command that
	// takes a second cuts power somewhere in between); nil for an event
	// without a duration.
	StartMonoNs  *int64    `json:"start_mono_ns,omitempty"`
	StartWall    time.Time `json:"start_wall,omitzero"`
	Level        string    `json:"level,omitempty"`
	Detail       string    `json:"detail,omitempty"`
	Output       string    `json:"output,omitempty"`
	State        string    `json:"state,omitempty"`         // on, off or unknown after the event
	StatusOutput string    `json:"status_output,omitempty"` // what the status command said
	Error        string    `json:"error,omitempty"`
}
