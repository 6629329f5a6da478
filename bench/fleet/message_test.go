package fleet

import (
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/results"
)

// TestMessagesFollowTheirSchemas: what the Go types marshal validates
// against each schema, and what breaks a rule does not.
func TestMessagesFollowTheirSchemas(t *testing.T) {
	now := time.Now().UTC()
	good := map[string]any{
		SchemaJob:        Job{Version: 1, ID: "j-1", Bench: "lab-1", Issued: now, Expires: now.Add(time.Hour), Fixtures: []string{"cam-1"}, Suites: []string{"debug-interfaces"}, Busy: BusyWait},
		SchemaStatus:     Status{Version: 1, Bench: "lab-1", State: StateOnline, Time: now, Fixtures: []FixtureStatus{{Name: "cam-1", State: FixtureRunning, Job: "j-1", Run: "r", Case: "s/c"}}},
		SchemaEvent:      Event{Version: 1, Bench: "lab-1", Job: "j-1", Time: now, Kind: EventDone, Verdict: results.Pass, Runs: []string{"r"}},
		SchemaDelivery:   Delivery{Version: 1, Bench: "lab-1", Run: "r", Fixture: "cam-1", Verdict: results.Fail, Record: []byte("{}"), Envelope: []byte("{}"), Inclusion: []byte("{}"), Checkpoint: []byte("x"), PublicKey: []byte("k"), Evidence: []EvidenceFile{{Name: "a", Size: 1, SHA256: strings.Repeat("0", 64), Chunks: 1}}},
		SchemaChunk:      Chunk{Version: 1, Bench: "lab-1", Run: "r", Name: "a", Index: 0, Count: 1, Data: []byte("x")},
		SchemaCheckpoint: CheckpointMessage{Version: 1, Bench: "lab-1", Time: now, Size: 3, Checkpoint: []byte("x")},
	}
	for kind, v := range good {
		if err := Validate(kind, marshal(v)); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	for _, c := range []struct{ kind, msg string }{
		{SchemaJob, `{"version":2,"id":"j","bench":"b","issued":"2026-01-01T00:00:00Z","expires":"2026-01-02T00:00:00Z","busy":"wait"}`},
		{SchemaJob, `{"version":1,"id":"j","bench":"b","issued":"2026-01-01T00:00:00Z","expires":"2026-01-02T00:00:00Z","busy":"maybe"}`},
		{SchemaJob, `{"version":1,"id":"../x","bench":"b","issued":"2026-01-01T00:00:00Z","expires":"2026-01-02T00:00:00Z","busy":"wait"}`},
		{SchemaStatus, `{"version":1,"bench":"b","state":"asleep","time":"2026-01-01T00:00:00Z"}`},
		{SchemaEvent, `{"version":1,"bench":"b","time":"2026-01-01T00:00:00Z","event":"party"}`},
		{SchemaChunk, `{"version":1,"bench":"b","run_id":"r","name":"../../etc/passwd","index":0,"count":1,"offset":0,"data":""}`},
		{SchemaDelivery, `{"version":1,"bench":"b","run_id":"r/../x","fixture":"f","verdict":"PASS","record":"","envelope":"","inclusion":"","checkpoint":"","public_key":"","evidence":[]}`},
		{SchemaCheckpoint, `{"version":1,"bench":"b","time":"2026-01-01T00:00:00Z","size":-1,"checkpoint":""}`},
	} {
		if err := Validate(c.kind, []byte(c.msg)); err == nil {
			t.Errorf("%s %s: valid, want refused", c.kind, c.msg)
		}
	}
}

// TestOpenJobChecks: OpenJob's refusals, by kind, without a broker.
func TestOpenJobChecks(t *testing.T) {
	ctrl, other := newKey(t), newKey(t)
	now := time.Now()
	j := func(edit func(*Job)) []byte {
		jb := &Job{Version: 1, ID: "j-1", Bench: "lab-1", Issued: now, Expires: now.Add(time.Hour), Busy: BusyRefuse}
		if edit != nil {
			edit(jb)
		}
		b, err := SignJob(ctrl, jb)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if got, err := OpenJob(j(nil), "lab-1", now, other.Public(), ctrl.Public()); err != nil || got.ID != "j-1" {
		t.Fatalf("a good job: %v %v", got, err)
	}
	for _, c := range []struct {
		name string
		msg  []byte
		keys []crypto.PublicKey
		at   time.Time
		kind string
	}{
		{"other key", j(nil), []crypto.PublicKey{other.Public()}, now, RefusedForged},
		{"no key", j(nil), nil, now, RefusedForged},
		{"expired", j(nil), []crypto.PublicKey{ctrl.Public()}, now.Add(2 * time.Hour), RefusedExpired},
		{"from the future", j(nil), []crypto.PublicKey{ctrl.Public()}, now.Add(-time.Hour), RefusedExpired},
		{"other bench", j(func(x *Job) { x.Bench = "lab-2" }), []crypto.PublicKey{ctrl.Public()}, now, RefusedOther},
	} {
		_, err := OpenJob(c.msg, "lab-1", c.at, c.keys...)
		je, ok := err.(*JobError)
		if !ok || je.Kind != c.kind {
			t.Errorf("%s: %v, want %s", c.name, err, c.kind)
		}
	}
	// SignJob refuses what no bench would take.
	if _, err := SignJob(ctrl, &Job{Version: 1, ID: "j", Bench: "b", Issued: now, Expires: now.Add(30 * 24 * time.Hour), Busy: BusyWait}); err == nil {
		t.Error("a job of 30 days was signed")
	}
}

// TestControllerSeesRunsRemoved: a checkpoint smaller than one the bench
// showed before (its newest runs deleted with their index lines and an
// older checkpoint put back) is a problem the controller names.
func TestControllerSeesRunsRemoved(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	arch := filepath.Join(dir, "archive")
	sealedRun(t, arch, key)
	cp1, _ := os.ReadFile(filepath.Join(arch, "checkpoint.dsse.json"))
	sealedRun(t, arch, key)
	cp2, _ := os.ReadFile(filepath.Join(arch, "checkpoint.dsse.json"))
	c := &Controller{Store: filepath.Join(dir, "store"), BenchKeys: map[string][]crypto.PublicKey{"big": {key.Public()}}, cps: map[string]results.Checkpoint{}}
	if p := c.checkpoint("big", cp1, nil); p != "" {
		t.Fatal(p)
	}
	if p := c.checkpoint("big", cp2, nil); p != "" {
		t.Fatal(p)
	}
	if p := c.checkpoint("big", cp1, nil); !strings.Contains(p, "newest runs were removed") {
		t.Fatalf("older checkpoint after a newer one: %q", p)
	}
	// A controller started later remembers: the newest is kept on disk.
	c2 := &Controller{Store: c.Store, BenchKeys: c.BenchKeys, cps: map[string]results.Checkpoint{}}
	if p := c2.checkpoint("big", cp1, nil); !strings.Contains(p, "newest runs were removed") {
		t.Fatalf("after a restart: %q", p)
	}
}
