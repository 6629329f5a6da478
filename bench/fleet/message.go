package fleet

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/certbench/certbench/results"
)

// Version is the format version every fleet message carries in "version".
// A reader refuses any other: a newer controller or bench says what it
// speaks rather than being half understood.
const Version = 1

// JobPayloadType is the DSSE payload type of a signed job.
const JobPayloadType = "application/vnd.certbench.job+json"

// Limits on what a bench accepts.
const (
	// MaxJobSize is the largest job message (its envelope) a bench reads.
	MaxJobSize = 64 << 10
	// MaxJobLife is how far ahead of its issue a job may expire: a job
	// cannot be valid for ever, and the bench remembers every job id it
	// took until the job expires.
	MaxJobLife = 7 * 24 * time.Hour
	// ClockSkew is how far in the future a job's issue time may be (the
	// controller's clock ahead of the bench's).
	ClockSkew = 5 * time.Minute
	// ChunkSize is the most evidence bytes one chunk carries: with base64
	// and the JSON around it a chunk stays under 128 KB, the smallest
	// message limit among common brokers (AWS IoT Core).
	ChunkSize = 64 << 10
)

// Busy says what a job does when a fixture it names is held.
const (
	BusyRefuse = "refuse" // the job is refused at once, naming the holder
	BusyWait   = "wait"   // the job waits for the fixture until it expires
)

// Job is what a controller asks of a bench: the suites (or cases) to run
// on some of its fixtures. It travels signed (SignJob), so only a
// controller whose key the bench file lists can start anything.
type Job struct {
	Version    int       `json:"version"`
	ID         string    `json:"id"`                   // unique: a bench never runs one id twice
	Bench      string    `json:"bench"`                // the bench it is for
	Controller string    `json:"controller,omitempty"` // who sent it, for people reading events
	Issued     time.Time `json:"issued"`
	Expires    time.Time `json:"expires"`            // not started by then: refused
	Fixtures   []string  `json:"fixtures,omitempty"` // empty: all the bench's fixtures
	Suites     []string  `json:"suites,omitempty"`   // empty: all suites
	Cases      []string  `json:"cases,omitempty"`    // SUITE/CASE; empty: every case of the suites
	Busy       string    `json:"busy"`               // BusyRefuse or BusyWait
}

// SignJob signs j with a controller key into the envelope sent on the
// job topic.
func SignJob(key crypto.Signer, j *Job) ([]byte, error) {
	if err := j.check(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	env, err := results.Sign(key, JobPayloadType, b)
	if err != nil {
		return nil, fmt.Errorf("sign job %s: %w", j.ID, err)
	}
	return env.Marshal()
}

// JobError is a job the bench refuses before running anything. Kind is
// what was wrong, one of the Refused* values.
type JobError struct {
	Kind string
	ID   string // the job's id when it could be read
	Err  error
}

func (e *JobError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("job %s refused (%s): %v", e.ID, e.Kind, e.Err)
	}
	return fmt.Sprintf("job refused (%s): %v", e.Kind, e.Err)
}

func (e *JobError) Unwrap() error { return e.Err }

// Why a job is refused (Event.Reason starts with one; JobError.Kind).
const (
	RefusedOversized = "oversized" // larger than MaxJobSize
	RefusedMalformed = "malformed" // not a job envelope, or not a valid job
	RefusedForged    = "forged"    // not signed by a key the bench trusts
	RefusedExpired   = "expired"   // past its expiry, or issued in the future
	RefusedReplayed  = "replayed"  // its id was taken before
	RefusedOther     = "wrong-bench"
	RefusedInvalid   = "invalid" // names a fixture, suite or case the bench does not have
	RefusedBusy      = "busy"    // a fixture is held and the job said refuse
)

// OpenJob checks a job message: size, envelope, signature by one of keys,
// schema, version, bench and times. now is the bench's clock. It does not
// know which ids were taken before: the agent checks replays.
func OpenJob(msg []byte, bench string, now time.Time, keys ...crypto.PublicKey) (*Job, error) {
	if len(msg) > MaxJobSize {
		return nil, &JobError{Kind: RefusedOversized, Err: fmt.Errorf("%d bytes, the most a bench reads is %d", len(msg), MaxJobSize)}
	}
	env, err := results.ParseEnvelope(msg)
	if err != nil {
		return nil, &JobError{Kind: RefusedMalformed, Err: err}
	}
	if env.PayloadType != JobPayloadType {
		return nil, &JobError{Kind: RefusedMalformed, Err: fmt.Errorf("payloadType %q, want %q", env.PayloadType, JobPayloadType)}
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, &JobError{Kind: RefusedMalformed, Err: fmt.Errorf("payload: %w", err)}
	}
	var peek struct {
		ID string `json:"id"`
	}
	json.Unmarshal(payload, &peek)
	id := peek.ID
	if len(id) > 128 {
		id = id[:128]
	}
	if len(keys) == 0 {
		return nil, &JobError{Kind: RefusedForged, ID: id, Err: errors.New("the bench trusts no controller key: list one under fleet.controllers in the bench file")}
	}
	if _, err := env.Verify(keys...); err != nil {
		return nil, &JobError{Kind: RefusedForged, ID: id, Err: err}
	}
	if err := Validate(SchemaJob, payload); err != nil {
		return nil, &JobError{Kind: RefusedMalformed, ID: id, Err: err}
	}
	var j Job
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, &JobError{Kind: RefusedMalformed, ID: id, Err: err}
	}
	if err := j.check(); err != nil {
		return nil, &JobError{Kind: RefusedMalformed, ID: id, Err: err}
	}
	if j.Bench != bench {
		return nil, &JobError{Kind: RefusedOther, ID: j.ID, Err: fmt.Errorf("the job is for bench %q, this is %q", j.Bench, bench)}
	}
	switch {
	case !now.Before(j.Expires):
		return nil, &JobError{Kind: RefusedExpired, ID: j.ID, Err: fmt.Errorf("it expired at %s (bench clock %s)", j.Expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	case j.Issued.After(now.Add(ClockSkew)):
		return nil, &JobError{Kind: RefusedExpired, ID: j.ID, Err: fmt.Errorf("issued at %s, in the future of the bench clock %s: check both clocks (NTP)", j.Issued.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	}
	return &j, nil
}

func (j *Job) check() error {
	switch {
	case j.Version != Version:
		return fmt.Errorf("version %d, this bench speaks %d", j.Version, Version)
	case !idPattern.MatchString(j.ID):
		return fmt.Errorf("id %q: use 1 to 128 letters, digits, '.', '_' or '-'", j.ID)
	case j.Bench == "":
		return errors.New("no bench")
	case j.Busy != BusyRefuse && j.Busy != BusyWait:
		return fmt.Errorf("busy %q: write %q or %q", j.Busy, BusyRefuse, BusyWait)
	case j.Issued.IsZero() || j.Expires.IsZero():
		return errors.New("issued and expires are required")
	case !j.Expires.After(j.Issued):
		return errors.New("it expires before it was issued")
	case j.Expires.Sub(j.Issued) > MaxJobLife:
		return fmt.Errorf("it lives %s, longer than the %s a bench allows", j.Expires.Sub(j.Issued), MaxJobLife)
	}
	return nil
}

// Status is a bench's retained message on its status topic: whether its
// agent is online and what each fixture is doing. The broker publishes the
// agent's last will (State offline) when the agent vanishes.
type Status struct {
	Version  int             `json:"version"`
	Bench    string          `json:"bench"`
	State    string          `json:"state"` // StateOnline or StateOffline
	Time     time.Time       `json:"time"`
	Software string          `json:"software,omitempty"`
	KeyID    string          `json:"key_id,omitempty"` // the ID of the key that signs the bench's records
	Fixtures []FixtureStatus `json:"fixtures,omitempty"`
}

// Agent states.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// FixtureStatus is what one fixture is doing.
type FixtureStatus struct {
	Name  string `json:"name"`
	State string `json:"state"` // FixtureIdle, FixtureWaiting or FixtureRunning
	Job   string `json:"job,omitempty"`
	Run   string `json:"run,omitempty"`
	Case  string `json:"case,omitempty"`
}

// Fixture states.
const (
	FixtureIdle    = "idle"
	FixtureWaiting = "waiting" // a job waits for its lease
	FixtureRunning = "running"
)

// Event is one line of a bench's progress and refusals, on its event
// topic: the runner's events (runner.Event's kinds) with the job they
// belong to, and the job's own.
type Event struct {
	Version int             `json:"version"`
	Bench   string          `json:"bench"`
	Job     string          `json:"job,omitempty"`
	Time    time.Time       `json:"time"`
	Kind    string          `json:"event"`
	Fixture string          `json:"fixture,omitempty"`
	Run     string          `json:"run_id,omitempty"`
	Case    string          `json:"case,omitempty"`
	Verdict results.Verdict `json:"verdict,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	// Runs, on job-done and job-interrupted, are the runs delivered for
	// the job: a controller has them all once it has these.
	Runs []string `json:"runs,omitempty"`
}

// Job event kinds (beside runner's run-start, case-start, case-end,
// run-end and error).
const (
	EventAccepted    = "job-accepted"    // the job passed every check and will run
	EventRefused     = "job-refused"     // Reason: "KIND: why" (JobError)
	EventWaiting     = "job-waiting"     // a fixture is held; the job waits (busy: wait)
	EventDone        = "job-done"        // every fixture's record is queued for delivery
	EventInterrupted = "job-interrupted" // the agent stopped during the job; found at its next start
)

// Delivery is one sealed run, sent on the record topic after its evidence
// chunks: the record, its signature, its inclusion proof and the archive's
// checkpoint as they are on the bench's disk, byte for byte, so the
// controller verifies them as `bench verify` would.
type Delivery struct {
	Version    int             `json:"version"`
	Bench      string          `json:"bench"`
	Job        string          `json:"job,omitempty"` // "" for a run no job asked for
	Run        string          `json:"run_id"`
	Fixture    string          `json:"fixture"`
	Verdict    results.Verdict `json:"verdict"`
	Record     []byte          `json:"record"`     // record.json
	Envelope   []byte          `json:"envelope"`   // record.dsse.json
	Inclusion  []byte          `json:"inclusion"`  // inclusion.json
	Checkpoint []byte          `json:"checkpoint"` // the archive's checkpoint.dsse.json when the delivery was sent
	PublicKey  []byte          `json:"public_key"` // the bench's public key, PEM (a controller trusts its own copy)
	Evidence   []EvidenceFile  `json:"evidence"`   // what the chunks carry
}

// EvidenceFile is one evidence file of a delivery, sent in Chunks chunks.
type EvidenceFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Chunks int    `json:"chunks"`
}

// Chunk is a piece of an evidence file, on the evidence topic.
type Chunk struct {
	Version int    `json:"version"`
	Bench   string `json:"bench"`
	Run     string `json:"run_id"`
	Name    string `json:"name"`
	Index   int    `json:"index"` // from 0
	Count   int    `json:"count"`
	Offset  int64  `json:"offset"`
	Data    []byte `json:"data"`
}

// CheckpointMessage is the retained message on the checkpoint topic: the
// bench archive's newest signed checkpoint. A controller keeps the largest
// it has seen; a smaller one later means runs were removed.
type CheckpointMessage struct {
	Version    int       `json:"version"`
	Bench      string    `json:"bench"`
	Time       time.Time `json:"time"`
	Size       int64     `json:"size"`
	Checkpoint []byte    `json:"checkpoint"` // checkpoint.dsse.json
}

// decode reads a message of schema s into v, strictly.
func decode(s string, b []byte, v any) error {
	if err := Validate(s, b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s message: %w", s, err)
	}
	return nil
}
