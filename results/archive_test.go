package results

import (
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fixedSync is a syncSource with a chosen answer.
type fixedSync struct {
	synced, known bool
}

func (f fixedSync) synchronized() (bool, bool, string) {
	if !f.synced {
		return false, f.known, "test: unsynchronised"
	}
	return true, f.known, ""
}

func testArchive(t testing.TB) *Archive {
	t.Helper()
	a, err := OpenArchive(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	a.sync = fixedSync{synced: true, known: true}
	return a
}

func testKey(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeRun records a run the way the runner will: evidence of every kind
// written while the run goes, then a record sealed with key.
func writeRun(t testing.TB, a *Archive, key crypto.Signer, fixture string) *Run {
	t.Helper()
	run, err := a.Begin(Meta{Bench: "lab-bench-1", Fixture: fixture})
	if err != nil {
		t.Fatal(err)
	}
	epoch := run.Epoch()
	line := func(v any) []byte { b, _ := json.Marshal(v); return append(b, '\n') }

	con, err := run.Evidence("console-"+fixture+".jsonl", KindTranscript)
	if err != nil {
		t.Fatal(err)
	}
	con.Write(line(TranscriptLine{MonoNs: 1000, Wall: epoch.UTC(), Dir: "event", Event: "open", Detail: "/dev/ttyUSB0"}))
	con.Write(line(TranscriptLine{MonoNs: 2000, Wall: epoch.UTC(), Dir: "rx", Text: "login: "}))
	con.Write(line(TranscriptLine{MonoNs: 3000, Wall: epoch.UTC(), Dir: "tx", Text: "root\r"}))
	con.Write(line(TranscriptLine{MonoNs: 4000, Wall: epoch.UTC(), Dir: "rx", B64: []byte{0xff, 0xfe}}))
	if err := con.Close(); err != nil {
		t.Fatal(err)
	}
	if err := run.AddEvidence("power-"+fixture+".jsonl", KindPower,
		line(PowerEvent{MonoNs: 500, Wall: epoch.UTC(), Switch: "GPIO17", Action: "on", Level: "Low"})); err != nil {
		t.Fatal(err)
	}
	if err := run.AddEvidence("http-admin.jsonl", KindNetwork, []byte(`{"mono_ns":5000,"request":"GET /admin","status":200}`+"\n")); err != nil {
		t.Fatal(err)
	}
	img := Image{Name: "fw-2.1.0.img", Role: "installed", Version: "2.1.0", SHA256: strings.Repeat("ab", 32), Size: 4096}
	if err := run.AddEvidence("images.jsonl", KindImages, line(img)); err != nil {
		t.Fatal(err)
	}
	rec := &Record{
		Bench:        Bench{Software: "test", Revision: "0123abcd+modified"},
		Device:       Device{Model: "ACME Cam 2", Serial: "AC2-1", Firmware: Firmware{Version: "2.1.0", SHA256: img.SHA256}},
		Declarations: Declarations{Name: "acme.yaml", SHA256: strings.Repeat("cd", 32)},
		Images:       []Image{img},
		Cases: []Case{{
			ID: "default-credentials/uart-login", Suite: "default-credentials", Title: "No default password on the UART",
			References: References{EN303645: []string{"5.1-1"}, TS103701: []string{"5.1-1-2a"}},
			Verdict:    Fail, Reason: "root accepted without password",
			Evidence: []EvidenceRef{{Path: "evidence/console-" + fixture + ".jsonl", FromNs: 2000, ToNs: 3000}},
		}, {
			ID: "update/tampered", Suite: "update", Title: "Tampered image refused",
			References: References{EN303645: []string{"5.3-2"}, TS103701: []string{"5.3-2-2"}},
			Verdict:    Pass,
		}},
	}
	if err := run.Seal(rec, key); err != nil {
		t.Fatal(err)
	}
	return run
}

func TestArchiveSealVerifies(t *testing.T) {
	for _, alg := range []string{ECDSAP256, Ed25519} {
		t.Run(alg, func(t *testing.T) {
			a := testArchive(t)
			key := testKey(t, alg)
			run := writeRun(t, a, key, "cam-1")
			writeRun(t, a, key, "cam-2")

			b, err := os.ReadFile(filepath.Join(run.Dir(), RecordFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := checkSchema(t, b); err != nil {
				t.Fatalf("sealed record does not validate against the schema: %v", err)
			}
			rec, err := ParseRecord(b)
			if err != nil {
				t.Fatal(err)
			}
			if rec.RunID != run.ID() || rec.Verdict != Fail || len(rec.Evidence) != 4 || !rec.Clock.Synchronized {
				t.Errorf("sealed record: run %s verdict %s, %d evidence files, clock %+v", rec.RunID, rec.Verdict, len(rec.Evidence), rec.Clock)
			}
			if exists(filepath.Join(run.Dir(), IncompleteFile)) {
				t.Error("sealed run still has its INCOMPLETE marker")
			}
			rep, err := Verify(a.Dir(), VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || len(rep.Runs) != 2 || rep.IndexLines != 4 {
				t.Fatalf("verify: ok=%v runs=%d lines=%d problems=%v", rep.OK(), len(rep.Runs), rep.IndexLines, rep.Problems)
			}
			for _, r := range rep.Runs {
				if r.State != RunVerified || r.Verdict != Fail {
					t.Errorf("run %s: %s %s", r.ID, r.State, r.Verdict)
				}
			}
			// One run alone, with the archive's own keys: intact, but
			// no trusted key, so not OK.
			rep, err = Verify(run.Dir(), VerifyOptions{})
			if err != nil || !rep.Intact() || rep.OK() || rep.Mode != "run" {
				t.Fatalf("verify one run: %v %+v", err, rep)
			}
			rep, err = Verify(run.Dir(), VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
			if err != nil || !rep.OK() || rep.Checkpoint == nil {
				t.Fatalf("verify one run with its key: %v %+v", err, rep)
			}
			// A different key must not verify.
			rep, _ = Verify(a.Dir(), VerifyOptions{Keys: []crypto.PublicKey{testKey(t, alg).Public()}})
			if rep.OK() || rep.Problems[0].Kind != ProblemSignature {
				t.Fatalf("verify with a stranger's key: %v", rep.Problems)
			}
		})
	}
}

func TestSealRefusesOpenEvidence(t *testing.T) {
	a := testArchive(t)
	run, err := a.Begin(Meta{Bench: "b", Fixture: "cam-1"})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := run.Evidence("console-cam-1.jsonl", KindTranscript)
	rec := &Record{Device: Device{Model: "m"}, Declarations: Declarations{SHA256: strings.Repeat("0", 64)}}
	err = run.Seal(rec, testKey(t, ECDSAP256))
	if err == nil || !strings.Contains(err.Error(), "evidence/console-cam-1.jsonl") {
		t.Fatalf("Seal with an open writer: %v", err)
	}
	w.Close()
	if _, err := run.Evidence("console-cam-1.jsonl", KindTranscript); err == nil {
		t.Fatal("the same evidence name was accepted twice")
	}
	if _, err := run.Evidence("../escape", KindTranscript); err == nil {
		t.Fatal("an evidence name with a folder was accepted")
	}
	if err := run.Seal(rec, testKey(t, ECDSAP256)); err != nil {
		t.Fatal(err)
	}
	if err := run.Seal(rec, testKey(t, ECDSAP256)); err == nil {
		t.Fatal("sealed twice")
	}
	if rec.Verdict != NotRun {
		t.Errorf("a run without cases sealed as %s, want NOT_RUN", rec.Verdict)
	}
}

func TestUnsyncedClockIsRecorded(t *testing.T) {
	for name, tc := range map[string]struct {
		now    time.Time
		sync   fixedSync
		source string
	}{
		"kernel unsynced": {time.Now(), fixedSync{synced: false, known: true}, ClockAdjtimex},
		"1970":            {time.Unix(42, 0), fixedSync{synced: true, known: true}, ClockFloor},
	} {
		t.Run(name, func(t *testing.T) {
			a := testArchive(t)
			a.sync = tc.sync
			a.now = func() time.Time { return tc.now }
			run, err := a.Begin(Meta{Bench: "b", Fixture: "cam-1", Epoch: tc.now})
			if err != nil {
				t.Fatal(err)
			}
			rec := &Record{Device: Device{Model: "m"}, Declarations: Declarations{SHA256: strings.Repeat("0", 64)}}
			if err := run.Seal(rec, testKey(t, ECDSAP256)); err != nil {
				t.Fatal(err)
			}
			if rec.Clock.Synchronized || rec.Clock.Source != tc.source || rec.Clock.Detail == "" {
				t.Errorf("clock = %+v, want unsynchronised from %s with a detail", rec.Clock, tc.source)
			}
		})
	}
}

// NTP steps the clock back an hour during a run: the FAIL it found must
// still be sealed, with times that are in order and marked as not to be
// believed.
func TestClockSteppedBackDuringRun(t *testing.T) {
	a := testArchive(t)
	key := testKey(t, ECDSAP256)
	run, err := a.Begin(Meta{Bench: "lab-1", Fixture: "cam-1", Epoch: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return time.Now().Add(-time.Hour) }
	rec := &Record{Device: Device{Model: "m"}, Declarations: Declarations{SHA256: strings.Repeat("0", 64)},
		Cases: []Case{{ID: "a/b", Suite: "a", Title: "t", Verdict: Fail, Reason: "default password accepted",
			References: References{EN303645: []string{"5.1-1"}}}}}
	if err := run.Seal(rec, key); err != nil {
		t.Fatalf("seal after the clock went back: %v", err)
	}
	if rec.Finished.Before(rec.Started) || rec.Finished.Sub(rec.Started) > time.Minute {
		t.Errorf("started %s, finished %s: want finished just after started", rec.Started, rec.Finished)
	}
	if rec.Clock.Synchronized || !strings.Contains(rec.Clock.Detail, "went back 1h") {
		t.Errorf("clock = %+v, want unsynchronised and the step named", rec.Clock)
	}
	rep, err := Verify(a.Dir(), VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Runs[0].Verdict != Fail {
		t.Fatalf("sealed run: %+v\n%s", rep.Runs, problems(rep))
	}
}

// A failed evidence write leaves the file listed as incomplete; a PASS over
// it is refused with an error the runner can tell from others, and once the
// runner records the ERROR the run seals and verifies.
func TestFailedEvidenceWriteIsIncomplete(t *testing.T) {
	a := testArchive(t)
	key := testKey(t, ECDSAP256)
	run, err := a.Begin(Meta{Bench: "lab-1", Fixture: "cam-1"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := run.Evidence("console-cam-1.jsonl", KindTranscript)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(`{"mono_ns":1,"wall":"2026-11-24T00:00:00Z","dir":"rx","text":"login: "}` + "\n")); err != nil {
		t.Fatal(err)
	}
	w.(*evidenceWriter).f.Close() // the file goes away under the writer, as on a failed disk
	if _, err := w.Write([]byte("more\n")); err == nil {
		t.Fatal("write to a closed file succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write returned nil")
	}
	pass := Case{ID: "a/pass", Suite: "a", Title: "t", Verdict: Pass, References: References{EN303645: []string{"5.1-1"}}}
	rec := &Record{Device: Device{Model: "m"}, Declarations: Declarations{SHA256: strings.Repeat("0", 64)}, Cases: []Case{pass}}
	err = run.Seal(rec, key)
	var ie *IncompleteEvidenceError
	if !errors.As(err, &ie) || ie.Verdict != Pass || len(ie.Files) != 1 || ie.Files[0].Path != "evidence/console-cam-1.jsonl" {
		t.Fatalf("seal of a PASS over a failed write: %v", err)
	}
	if _, err := os.Stat(filepath.Join(run.Dir(), RecordFile)); err == nil {
		t.Fatal("a refused seal wrote record.json")
	}
	// The runner turns it into an ERROR and seals again.
	rec.Cases = append(rec.Cases, Case{ID: "bench/evidence", Suite: "bench", Title: "Evidence recorded", Verdict: Error,
		Reason: ie.Error(), References: References{EN303645: []string{"5.1-1"}}})
	if err := run.Seal(rec, key); err != nil {
		t.Fatal(err)
	}
	f, _ := rec.EvidenceFile("evidence/console-cam-1.jsonl")
	if !f.Incomplete || !strings.Contains(f.IncompleteReason, "write evidence") || rec.Verdict != Error {
		t.Errorf("sealed: verdict %s, evidence %+v", rec.Verdict, f)
	}
	b, _ := os.ReadFile(filepath.Join(run.Dir(), RecordFile))
	if err := checkSchema(t, b); err != nil {
		t.Errorf("record does not validate against the schema: %v", err)
	}
	rep, err := Verify(a.Dir(), VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v\n%s", err, problems(rep))
	}
}

// MarkIncomplete: a fault the writer did not see (the console recorder's
// Close failed) marks the file; names not written in the run are refused.
func TestMarkIncomplete(t *testing.T) {
	a := testArchive(t)
	key := testKey(t, ECDSAP256)
	run, err := a.Begin(Meta{Bench: "lab-1", Fixture: "cam-1"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := run.Evidence("console-cam-1.jsonl", KindTranscript)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.MarkIncomplete("console-cam-1.jsonl", "console close: input/output error"); err != nil {
		t.Fatalf("mark while the writer is open: %v", err)
	}
	w.Close()
	if err := run.MarkIncomplete("power-cam-1.jsonl", "power log: line GPIO17 lost"); err == nil {
		t.Error("marked evidence that was never written")
	}
	if err := run.MarkIncomplete("console-cam-1.jsonl", " "); err == nil {
		t.Error("marked incomplete without a reason")
	}
	na := Case{ID: "a/na", Suite: "a", Title: "t", Verdict: NotApplicable, Reason: "no UART", References: References{EN303645: []string{"5.1-1"}}}
	rec := &Record{Device: Device{Model: "m"}, Declarations: Declarations{SHA256: strings.Repeat("0", 64)}, Cases: []Case{na}}
	var ie *IncompleteEvidenceError
	if err := run.Seal(rec, key); !errors.As(err, &ie) {
		t.Fatalf("seal of NOT_APPLICABLE over incomplete evidence: %v", err)
	}
	rec.Cases[0] = Case{ID: "a/fail", Suite: "a", Title: "t", Verdict: Fail, Reason: "default password", References: References{EN303645: []string{"5.1-1"}}}
	if err := run.Seal(rec, key); err != nil {
		t.Fatal(err)
	}
	if f := rec.Evidence[0]; !f.Incomplete || f.IncompleteReason != "console close: input/output error" {
		t.Errorf("evidence %+v", f)
	}
	if err := run.MarkIncomplete("console-cam-1.jsonl", "late"); !errors.Is(err, ErrSealed) {
		t.Errorf("mark after seal: %v", err)
	}
}

func TestKernelClockIsRead(t *testing.T) {
	// The test host's clock may or may not be synchronised; on Linux the
	// kernel must have been asked, and an unsynchronised answer explained.
	c := checkClock(time.Now(), systemClock)
	if c.Source == ClockFloor {
		t.Fatalf("the test host's clock is before %s: %+v", clockFloor, c)
	}
	if runtime.GOOS == "linux" && c.Source != ClockAdjtimex {
		t.Fatalf("on Linux the clock source is %q, want %q: %+v", c.Source, ClockAdjtimex, c)
	}
	if !c.Synchronized && c.Detail == "" {
		t.Fatalf("unsynchronised without a reason: %+v", c)
	}
	t.Logf("host clock: %+v", c)
}
