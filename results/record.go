package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// SchemaVersion is the version of the record's JSON form this package writes.
// It is bumped when a field changes meaning or a required field is added;
// adding an optional field keeps the version. ParseRecord refuses versions it
// does not know rather than guessing what a newer bench meant.
// The JSON Schema for version 1 is results/schema/record.schema.json.
const SchemaVersion = 1

// Verdict is the outcome of one case or of a whole run. Its JSON form is the
// upper-case word; any other word is refused when a record is parsed.
type Verdict string

// The six verdicts (design.md, "Verdicts").
const (
	// Pass: no indication that the device differs from its declarations or
	// violates the provision.
	Pass Verdict = "PASS"
	// Fail: an indication was found; the case's reason and evidence say which.
	Fail Verdict = "FAIL"
	// NotApplicable: the declarations make the provision inapplicable; the
	// reason records the justification.
	NotApplicable Verdict = "NOT_APPLICABLE"
	// Inconclusive: the bench could not decide (an input was missing, such as
	// an older signed image for the rollback test).
	Inconclusive Verdict = "INCONCLUSIVE"
	// Error: a bench or infrastructure fault. Never the device's fault.
	Error Verdict = "ERROR"
	// NotRun: the case was not reached (run cancelled, earlier fatal error).
	NotRun Verdict = "NOT_RUN"
)

// Verdicts lists every verdict, in the precedence RunVerdict applies
// (strongest first), followed by PASS and NOT_APPLICABLE.
var Verdicts = []Verdict{Fail, Error, NotRun, Inconclusive, Pass, NotApplicable}

// Valid reports whether v is one of the six verdicts.
func (v Verdict) Valid() bool {
	switch v {
	case Pass, Fail, NotApplicable, Inconclusive, Error, NotRun:
		return true
	}
	return false
}

func (v Verdict) String() string { return string(v) }

// UnmarshalJSON refuses anything but the six verdicts, so a misspelt verdict in
// a record is an error and not a silent empty value.
func (v *Verdict) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("verdict: %w", err)
	}
	if !Verdict(s).Valid() {
		return fmt.Errorf("verdict %q is not one of PASS, FAIL, NOT_APPLICABLE, INCONCLUSIVE, ERROR, NOT_RUN", s)
	}
	*v = Verdict(s)
	return nil
}

// RunVerdict folds the cases' verdicts into the run's verdict:
//
//   - FAIL if any case failed: a device fault is the strongest statement a
//     run can make and must never be hidden behind a bench fault.
//   - else ERROR if any case has ERROR: a bench fault casts doubt on every
//     other verdict of the run, so it is named before anything milder.
//   - else NOT_RUN if any case was not reached: part of the run is missing.
//   - else INCONCLUSIVE if any case could not decide: everything ran, but
//     some question stays open.
//   - else PASS if at least one case passed.
//   - else NOT_APPLICABLE: every case was not applicable. This is not PASS,
//     because nothing was tested and a PASS would claim otherwise; it still
//     maps to exit code 0 because nothing is wrong with the device or bench.
//
// A run without cases is NOT_RUN: nothing was tested.
func RunVerdict(cases []Case) Verdict {
	if len(cases) == 0 {
		return NotRun
	}
	seen := make(map[Verdict]bool)
	for _, c := range cases {
		seen[c.Verdict] = true
	}
	for _, v := range Verdicts {
		if seen[v] {
			return v
		}
	}
	// Only unknown verdicts: Validate reports them; the run cannot be PASS.
	return Error
}

// ExitCode maps a run verdict to the exit code of `bench run`:
// 0 for PASS and NOT_APPLICABLE, 1 for FAIL, 3 for ERROR, NOT_RUN and
// INCONCLUSIVE (the run could not complete). An unknown verdict is 3: never
// let garbage look like success.
func ExitCode(v Verdict) int {
	switch v {
	case Pass, NotApplicable:
		return 0
	case Fail:
		return 1
	}
	return 3
}

// Record is the structured result of one run on one fixture. Its JSON form
// (Marshal) is what record.json holds and what the signature covers, byte for
// byte: the envelope names record.json's SHA-256 as a subject, so readers never
// re-encode a record to check it.
type Record struct {
	// SchemaVersion is SchemaVersion when written by this package.
	SchemaVersion int `json:"schema_version"`
	// RunID names the run's folder in the archive (runs/RUN_ID).
	RunID string `json:"run_id"`

	Bench        Bench        `json:"bench"`
	Fixture      Fixture      `json:"fixture"`
	Device       Device       `json:"device"`
	Declarations Declarations `json:"declarations"`

	// Started and Finished are the bench's wall clock, UTC. Whether that clock
	// could be trusted is in Clock; read them together.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Clock    Clock     `json:"clock"`

	// Verdict is RunVerdict(Cases); Validate refuses a record where it is not.
	Verdict Verdict `json:"verdict"`
	// Reason says why a run ended early (cancelled, fixture lost); empty for
	// a run that went through.
	Reason string `json:"reason,omitempty"`

	Cases []Case `json:"cases"`

	// Images are the firmware images the run handled (installed, offered as
	// updates, tampered copies), by digest. They are subjects of the signed
	// statement next to the record itself.
	Images []Image `json:"images,omitempty"`

	// Evidence lists every file in the run's evidence folder with its size
	// and digest. Cases point into it by path.
	Evidence []File `json:"evidence"`

	// Index places the record in the archive's index.jsonl. Set by
	// Run.Seal; nil in a record that never was in an archive.
	Index *IndexLink `json:"index,omitempty"`

	// Abandoned is set on the record Archive.CloseAbandoned writes for a
	// run the bench never sealed (a crash, power loss or kill): it says
	// when it was closed and why. Such a record says only what is known:
	// no case is PASS, the device and declarations may be unknown, and
	// every evidence file is incomplete.
	Abandoned *Abandoned `json:"abandoned,omitempty"`
}

// Abandoned says a run was cut off and closed afterwards.
type Abandoned struct {
	Closed time.Time `json:"closed"`
	Reason string    `json:"reason"`
}

// IndexLink is where a sealed record's line sits in index.jsonl: its seq,
// and the SHA-256 of the line before it. Because it is inside the signed
// record, the index chain up to this run cannot be rewritten (a run deleted,
// lines reordered and the chain recomputed) without the bench key.
type IndexLink struct {
	Seq  int    `json:"seq"`
	Prev string `json:"prev"`
}

// Bench identifies the controller that produced the record.
type Bench struct {
	Name string `json:"name"` // from the bench file
	Host string `json:"host,omitempty"`
	// Software is the bench program's version (`bench version`: the
	// module version it was built as).
	Software string `json:"software,omitempty"`
	// Revision is the VCS revision the bench program was built from
	// (debug.ReadBuildInfo's vcs.revision), with "+modified" when the tree
	// had uncommitted changes.
	Revision string `json:"revision,omitempty"`
	// KeyID is the hex SHA-256 of the bench public key (PKIX DER): which key
	// is expected to have signed this record.
	KeyID string `json:"key_id,omitempty"`
}

// Fixture is the device position the run used.
type Fixture struct {
	Name    string `json:"name"`
	Profile string `json:"profile,omitempty"` // device profile that drove it
	// Simulated is true when any part that served the fixture belongs to
	// the simulated lab (its GPIO lines): such a record certifies nothing
	// about real hardware, and every report says so.
	Simulated bool `json:"simulated,omitempty"`
	// Parts are what served the fixture: its power switch, button and
	// console, each with the driver behind it.
	Parts []Part `json:"parts,omitempty"`
}

// Part is one piece of equipment that served a fixture during the run.
type Part struct {
	Role string `json:"role"` // "power", "button" or "console"
	Kind string `json:"kind"` // "gpio-relay", "power-command", "gpio-button", "serial", "tcp"
	// Name is what the bench file names: a GPIO line, a command's program,
	// a serial port path or USB VID:PID, a serial server's address.
	Name string `json:"name"`
	// Driver is the Go package that served it: the GPIO driver periph
	// handed the line out from, go.bug.st/serial, net.
	Driver string `json:"driver,omitempty"`
	// Identity is what the port resolved to when it was opened (device
	// node, major:minor, USB vendor, product and serial number).
	Identity map[string]string `json:"identity,omitempty"`
}

// Device is the unit under test, as the bench found it (banner, label) or as
// the fixture declares it.
type Device struct {
	Model    string   `json:"model"`
	Serial   string   `json:"serial,omitempty"`
	Firmware Firmware `json:"firmware"`
}

// Firmware is the firmware the device ran when the run started.
type Firmware struct {
	Version string `json:"version,omitempty"`
	// SHA256 is the hex digest of the firmware image, when the bench has it.
	SHA256 string `json:"sha256,omitempty"`
}

// Declarations identifies the manufacturer's declarations (ICS/IXIT) the run
// decided applicability against, by the digest of the file's bytes.
type Declarations struct {
	Name   string `json:"name,omitempty"` // file name or product reference
	SHA256 string `json:"sha256"`
}

// Clock says whether Started and Finished can be believed.
type Clock struct {
	// Synchronized is false when the kernel reported the clock unsynchronised
	// or it read a date before the bench software was built, at the start or
	// the end of the run, or when it went back during the run (Finished is
	// then Started plus the run's monotonic duration; Detail says so).
	Synchronized bool `json:"synchronized"`
	// Source is how that was decided: ClockAdjtimex, ClockFloor or
	// ClockAssumed.
	Source string `json:"source"`
	Detail string `json:"detail,omitempty"`
}

// Clock sources.
const (
	// ClockAdjtimex: the kernel's view (adjtimex), plus the floor check.
	ClockAdjtimex = "adjtimex"
	// ClockFloor: the clock read a date before the bench was built, whatever
	// the kernel said.
	ClockFloor = "floor"
	// ClockAssumed: the system cannot tell; only the floor was checked.
	ClockAssumed = "assumed"
)

// Case is one test case's outcome.
type Case struct {
	ID         string     `json:"id"`    // e.g. "default-credentials/uart-login"
	Suite      string     `json:"suite"` // e.g. "default-credentials"
	Title      string     `json:"title"`
	References References `json:"references"`
	Verdict    Verdict    `json:"verdict"`
	// Reason says why: the indication found (FAIL), the justification from
	// the declarations (NOT_APPLICABLE), the fault (ERROR), what was missing
	// (INCONCLUSIVE). Empty only for PASS and NOT_RUN.
	Reason   string        `json:"reason,omitempty"`
	Evidence []EvidenceRef `json:"evidence,omitempty"`
	Timing   Timing        `json:"timing,omitzero"`
}

// EvidenceRef points from a case into the record's evidence list, optionally
// to a window of it on the run's monotonic clock (the mono_ns of transcripts
// and power events).
type EvidenceRef struct {
	Path   string `json:"path"` // as in Record.Evidence, e.g. "evidence/console-cam-1.jsonl"
	FromNs int64  `json:"from_mono_ns,omitempty"`
	ToNs   int64  `json:"to_mono_ns,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Timing is when a case ran. Wall times may be wrong (see Record.Clock);
// StartMonoNs and DurationNs come from the monotonic clock, on the same axis
// as the evidence files' mono_ns, and are always right.
type Timing struct {
	Started     time.Time `json:"started,omitzero"`
	Finished    time.Time `json:"finished,omitzero"`
	StartMonoNs int64     `json:"start_mono_ns"`
	DurationNs  int64     `json:"duration_ns"`
}

// References are the requirement IDs a case checks, one list per document.
// Each entry is a single ID: write "5.1-1-2a" and "5.1-1-2c", not "5.1-1-2a,c".
type References struct {
	// EN303645 are EN 303 645 V3.1.3 provision IDs: "5.1-1", "5.6-4A".
	EN303645 []string `json:"en303645"`
	// TS103701 are TS 103 701 test case/unit IDs: "5.1-1-2a", "5.3-10-1".
	TS103701 []string `json:"ts103701,omitempty"`
	// PSTI are UK PSTI Schedule 1 paragraphs: "1", "1(2)", "1(2)(b)".
	PSTI []string `json:"psti,omitempty"`
	// EN18031 are EN 18031 requirement IDs: "AUM-5-1", "SUM-2", "GEC-5".
	EN18031 []string `json:"en18031,omitempty"`
	// CRA are EU CRA Annex I points: "I(2)(b)" is Part I, point 2(b);
	// "II(1)" is Part II, point 1.
	CRA []string `json:"cra,omitempty"`
}

// Image is one firmware image the run used, by digest.
type Image struct {
	Name    string `json:"name"` // file name, e.g. "cam-fw-2.1.0.img"
	Role    string `json:"role,omitempty"`
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
}

// Patterns for the reference IDs, shared with record.schema.json.
var (
	reEN303645 = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?-[0-9]+[A-Z]?$`)
	reTS103701 = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?-[0-9]+[A-Z]?-[0-9]+[a-z]?$`)
	rePSTI     = regexp.MustCompile(`^[0-9]+(\([0-9]+\))?(\([a-z]\))?$`)
	reEN18031  = regexp.MustCompile(`^[A-Z]{3}-[0-9]+(-[0-9]+)?$`)
	reCRA      = regexp.MustCompile(`^(I|II)\([0-9]+\)(\([a-z]\))?$`)
	reSHA256   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ErrInvalidRecord is wrapped by every error Validate and ParseRecord return
// for a record that is well-formed JSON but not a valid record.
var ErrInvalidRecord = errors.New("invalid record")

// IncompleteEvidenceError is among the errors Validate (and so Run.Seal)
// returns when the run verdict is PASS or NOT_APPLICABLE while some evidence
// is incomplete: a verdict that says nothing is wrong cannot rest on evidence
// the bench failed to keep. It is the bench's fault, not the device's: the
// runner finds it with errors.As, records an ERROR case naming Files, and
// seals again. It wraps ErrInvalidRecord.
type IncompleteEvidenceError struct {
	Verdict Verdict
	Files   []File // the incomplete ones
}

func (e *IncompleteEvidenceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: run verdict %s with incomplete evidence:", ErrInvalidRecord, e.Verdict)
	for i, f := range e.Files {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s (%s)", f.Path, f.IncompleteReason)
	}
	b.WriteString(" (record an ERROR case for it)")
	return b.String()
}

func (e *IncompleteEvidenceError) Unwrap() error { return ErrInvalidRecord }

// Validate checks what the type system cannot: required fields, reference
// ID formats, digests, that every case's evidence is listed, and that the run
// verdict is what the cases make it. It returns every problem found, joined.
func (r *Record) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidRecord}, a...)...))
	}
	if r.SchemaVersion != SchemaVersion {
		bad("schema_version %d, want %d", r.SchemaVersion, SchemaVersion)
	}
	if r.RunID == "" {
		bad("run_id is empty")
	}
	if r.Bench.Name == "" {
		bad("bench.name is empty")
	}
	if r.Fixture.Name == "" {
		bad("fixture.name is empty")
	}
	if r.Device.Model == "" && r.Abandoned == nil {
		bad("device.model is empty")
	}
	if s := r.Device.Firmware.SHA256; s != "" && !reSHA256.MatchString(s) {
		bad("device.firmware.sha256 %q is not 64 lower-case hex digits", s)
	}
	if !reSHA256.MatchString(r.Declarations.SHA256) && (r.Abandoned == nil || r.Declarations.SHA256 != "") {
		bad("declarations.sha256 %q is not 64 lower-case hex digits", r.Declarations.SHA256)
	}
	if r.Started.IsZero() || r.Finished.IsZero() {
		bad("started and finished must both be set")
	} else if r.Finished.Before(r.Started) {
		bad("finished %s is before started %s", r.Finished.Format(time.RFC3339), r.Started.Format(time.RFC3339))
	}
	switch r.Clock.Source {
	case ClockAdjtimex, ClockFloor, ClockAssumed:
	default:
		bad("clock.source %q is not %s, %s or %s", r.Clock.Source, ClockAdjtimex, ClockFloor, ClockAssumed)
	}
	listed := make(map[string]bool, len(r.Evidence))
	var incomplete []File
	for i, f := range r.Evidence {
		if err := checkEvidencePath(f.Path); err != nil {
			bad("evidence[%d]: %v", i, err)
		}
		if listed[f.Path] {
			bad("evidence[%d]: %s listed twice", i, f.Path)
		}
		listed[f.Path] = true
		if !f.Kind.Valid() {
			bad("evidence[%d] %s: kind %q is unknown", i, f.Path, f.Kind)
		}
		if !reSHA256.MatchString(f.SHA256) {
			bad("evidence[%d] %s: sha256 %q is not 64 lower-case hex digits", i, f.Path, f.SHA256)
		}
		if f.Size < 0 {
			bad("evidence[%d] %s: negative size", i, f.Path)
		}
		if f.Incomplete && f.IncompleteReason == "" {
			bad("evidence[%d] %s: incomplete needs incomplete_reason", i, f.Path)
		}
		if !f.Incomplete && f.IncompleteReason != "" {
			bad("evidence[%d] %s: incomplete_reason without incomplete", i, f.Path)
		}
		if f.Incomplete {
			incomplete = append(incomplete, f)
		}
	}
	if len(incomplete) > 0 && (r.Verdict == Pass || r.Verdict == NotApplicable) {
		errs = append(errs, &IncompleteEvidenceError{Verdict: r.Verdict, Files: incomplete})
	}
	for i, img := range r.Images {
		if img.Name == "" {
			bad("images[%d]: name is empty", i)
		}
		if !reSHA256.MatchString(img.SHA256) {
			bad("images[%d] %s: sha256 %q is not 64 lower-case hex digits", i, img.Name, img.SHA256)
		}
		if img.Size < 0 {
			bad("images[%d] %s: negative size", i, img.Name)
		}
	}
	ids := make(map[string]bool, len(r.Cases))
	for i, c := range r.Cases {
		where := fmt.Sprintf("cases[%d] %q", i, c.ID)
		if c.ID == "" || c.Suite == "" || c.Title == "" {
			bad("%s: id, suite and title must all be set", where)
		}
		if ids[c.ID] {
			bad("%s: id used twice", where)
		}
		ids[c.ID] = true
		if !c.Verdict.Valid() {
			bad("%s: verdict %q is unknown", where, c.Verdict)
		}
		if c.Reason == "" && c.Verdict != Pass && c.Verdict != NotRun {
			bad("%s: verdict %s needs a reason", where, c.Verdict)
		}
		if len(c.References.EN303645) == 0 {
			bad("%s: no EN 303 645 provision referenced", where)
		}
		checkIDs := func(doc string, ids []string, re *regexp.Regexp) {
			for _, id := range ids {
				if !re.MatchString(id) {
					bad("%s: %s reference %q does not match %s", where, doc, id, re)
				}
			}
		}
		checkIDs("EN 303 645", c.References.EN303645, reEN303645)
		checkIDs("TS 103 701", c.References.TS103701, reTS103701)
		checkIDs("PSTI", c.References.PSTI, rePSTI)
		checkIDs("EN 18031", c.References.EN18031, reEN18031)
		checkIDs("CRA", c.References.CRA, reCRA)
		if c.Timing.DurationNs < 0 {
			bad("%s: negative duration", where)
		}
		for _, ref := range c.Evidence {
			if !listed[ref.Path] {
				bad("%s: evidence %s is not in the record's evidence list", where, ref.Path)
			}
		}
	}
	if r.Index != nil && (r.Index.Seq < 2 || !reSHA256.MatchString(r.Index.Prev)) {
		bad("index: seq %d and prev %q cannot place a sealed run (seq 2 or more after its open line, prev 64 hex digits)", r.Index.Seq, r.Index.Prev)
	}
	if a := r.Abandoned; a != nil {
		if a.Closed.IsZero() || strings.TrimSpace(a.Reason) == "" {
			bad("abandoned: closed and reason must both be set")
		}
		for i, c := range r.Cases {
			if c.Verdict != Fail && c.Verdict != NotRun {
				bad("abandoned: cases[%d] %q is %s; a run closed as abandoned states only FAIL (a problem found stays found) and NOT_RUN", i, c.ID, c.Verdict)
			}
		}
		for i, f := range r.Evidence {
			if !f.Incomplete {
				bad("abandoned: evidence[%d] %s is not marked incomplete", i, f.Path)
			}
		}
	}
	if want := RunVerdict(r.Cases); r.Verdict != want {
		bad("run verdict is %q but the cases make it %s", r.Verdict, want)
	}
	return errors.Join(errs...)
}

// EvidenceFile returns the listed evidence file at path (as a case's
// EvidenceRef names it).
func (r *Record) EvidenceFile(path string) (File, bool) {
	for _, f := range r.Evidence {
		if f.Path == path {
			return f, true
		}
	}
	return File{}, false
}

// Marshal returns the record's JSON form: indented for people, with a final
// newline. These are the bytes record.json holds and the signature covers.
func (r *Record) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode record %s: %w", r.RunID, err)
	}
	return append(b, '\n'), nil
}

// ParseRecord decodes and validates a record. Unknown fields are refused: a
// field this version does not know may carry a meaning it would ignore.
func ParseRecord(b []byte) (*Record, error) {
	var probe struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%w: not JSON: %v", ErrInvalidRecord, err)
	}
	if probe.SchemaVersion == nil {
		return nil, fmt.Errorf("%w: no schema_version", ErrInvalidRecord)
	}
	if *probe.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w: schema_version %d; this bench reads version %d", ErrInvalidRecord, *probe.SchemaVersion, SchemaVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the record", ErrInvalidRecord)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}
