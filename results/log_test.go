package results

import (
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dropNewest removes the newest run of the archive at dir together with its
// index lines: what someone hiding a FAIL would do.
func dropNewest(t *testing.T, dir, id string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(dir, RunsDir, id)); err != nil {
		t.Fatal(err)
	}
	editIndex(t, dir, func(lines [][]byte) [][]byte {
		var keep [][]byte
		for _, l := range lines {
			if !strings.Contains(string(l), id) {
				keep = append(keep, l)
			}
		}
		return keep
	})
}

func TestNewestRunsRemovedDoNotVerify(t *testing.T) {
	a, key, ids := threeRuns(t)
	dropNewest(t, a.Dir(), ids[2])
	rep, err := Verify(a.Dir(), VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatalf("an archive whose newest run was removed with its index lines verifies: %+v", rep.Runs)
	}
}

func TestVerifyWithoutTrustedKeyIsNotOK(t *testing.T) {
	a, _, _ := threeRuns(t)
	rep, err := Verify(a.Dir(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("an archive verified with no trusted key (only its own keys/ copy) is OK")
	}
}

func TestForgedArchiveWithoutKeyIsNotOK(t *testing.T) {
	a := testArchive(t)
	forger := testKey(t, Ed25519)
	writeRun(t, a, forger, "cam-1")
	rep, err := Verify(a.Dir(), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("a forged archive verified without a key is OK")
	}
}

func TestTwoKeysInOneArchiveFlagged(t *testing.T) {
	a := testArchive(t)
	k1, k2 := testKey(t, ECDSAP256), testKey(t, ECDSAP256)
	writeRun(t, a, k1, "cam-1")
	// The bench refuses to seal with another key over a checkpoint signed
	// by the first; an archive merged by hand, or whose checkpoint was
	// removed, can still hold two.
	if _, err := a.Begin(Meta{Fixture: "cam-x"}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(a.Dir(), CheckpointFile))
	writeRun(t, a, k2, "cam-2")
	rep, err := Verify(a.Dir(), VerifyOptions{Keys: []crypto.PublicKey{k1.Public(), k2.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || (p.Kind == ProblemKey && strings.Contains(p.Message, "keys"))
	}
	if !found {
		t.Fatalf("two signing keys in one archive are not flagged:\n%s", problems(rep))
	}
}

func checkpointOf(t *testing.T, dir string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A checkpoint kept by a customer: the archive extended since verifies
// against it; an older copy of the archive does not, and says which lines
// are missing.
func TestHeldCheckpoint(t *testing.T) {
	a, key, ids := threeRuns(t)
	keys := []crypto.PublicKey{key.Public()}
	held := checkpointOf(t, a.Dir())
	older := filepath.Join(t.TempDir(), "older")
	if err := os.CopyFS(older, os.DirFS(a.Dir())); err != nil {
		t.Fatal(err)
	}
	writeRun(t, a, key, "cam-4")
	newer := checkpointOf(t, a.Dir())

	rep, err := Verify(a.Dir(), VerifyOptions{Keys: keys, Checkpoint: held})
	if err != nil || !rep.OK() || rep.Held == nil || !rep.Held.Extends || rep.Checkpoint.Size != 8 || rep.Held.Size != 6 {
		t.Fatalf("extended archive against the held checkpoint: %v %+v\n%s", err, rep.Held, problems(rep))
	}
	// The older copy verifies on its own (nothing in it shows it is
	// older), and fails against the newer checkpoint its customer kept.
	if rep, _ := Verify(older, VerifyOptions{Keys: keys}); !rep.OK() {
		t.Fatalf("older copy alone:\n%s", problems(rep))
	}
	rep, _ = Verify(older, VerifyOptions{Keys: keys, Checkpoint: newer})
	if rep.OK() || !strings.Contains(problems(rep), "lines 7 to 8") {
		t.Fatalf("older copy against the newer checkpoint:\n%s", problems(rep))
	}
	// The newest run removed with its lines, its folder kept elsewhere:
	// against the held checkpoint the archive is not an extension.
	dropNewest(t, a.Dir(), ids[2])
	rep, _ = Verify(a.Dir(), VerifyOptions{Keys: keys, Checkpoint: held})
	if rep.OK() || rep.Held == nil || rep.Held.Extends {
		t.Fatalf("truncated archive against the held checkpoint: %+v\n%s", rep.Held, problems(rep))
	}
	// A checkpoint signed by another key proves nothing.
	other, _ := SignCheckpoint(testKey(t, Ed25519), Checkpoint{Origin: "x", Size: 1})
	js, _ := other.Marshal()
	if rep, _ := Verify(older, VerifyOptions{Keys: keys, Checkpoint: js}); rep.OK() {
		t.Fatal("a checkpoint by a stranger's key was accepted")
	}
}

// An archive written before checkpoints does not verify as if it had one;
// once verified, the bench signs one over it and writes its runs' proofs.
func TestArchiveWithoutCheckpoint(t *testing.T) {
	a, key, ids := threeRuns(t)
	keys := []crypto.PublicKey{key.Public()}
	os.Remove(filepath.Join(a.Dir(), CheckpointFile))
	for _, id := range ids {
		os.Remove(filepath.Join(a.Dir(), RunsDir, id, InclusionFile))
	}
	rep, _ := Verify(a.Dir(), VerifyOptions{Keys: keys})
	if rep.OK() || !strings.Contains(problems(rep), "checkpoint.dsse.json: checkpoint: missing") {
		t.Fatalf("archive without a checkpoint:\n%s", problems(rep))
	}
	for _, r := range rep.Runs {
		if r.State == RunVerified {
			t.Errorf("run %s is verified in an archive without a checkpoint", r.ID)
		}
	}
	if _, err := a.Checkpoint(key, "lab-bench-1"); err != nil {
		t.Fatal(err)
	}
	if rep, _ := Verify(a.Dir(), VerifyOptions{Keys: keys}); !rep.OK() {
		t.Fatalf("after checkpointing:\n%s", problems(rep))
	}
}

// The bench refuses to sign a checkpoint over an index that does not extend
// the last one: a new seal must not bless a removed run.
func TestSealRefusesChangedIndex(t *testing.T) {
	a, key, ids := threeRuns(t)
	dropNewest(t, a.Dir(), ids[2])
	run, err := a.Begin(Meta{Bench: "lab-bench-1", Fixture: "cam-9"})
	if err != nil {
		t.Fatal(err)
	}
	err = run.Seal(&Record{Device: Device{Model: "m"}, Declarations: Declarations{Name: "d.yaml", SHA256: strings.Repeat("cd", 32)},
		Cases: []Case{{ID: "c", Suite: "s", Title: "t", Verdict: Pass, References: References{EN303645: []string{"5.1-1"}}}}}, key)
	if !errors.Is(err, ErrIndexChanged) {
		t.Fatalf("seal over a truncated index: %v", err)
	}
	// The same from a process that has sealed before (and holds the tree
	// it read): the newest run removed with its lines, and the chain and
	// the file's length made good with a forged open line.
	a, key, _ = threeRuns(t)
	last := writeRun(t, a, key, "cam-4")
	dropNewest(t, a.Dir(), last.ID())
	editIndex(t, a.Dir(), func(l [][]byte) [][]byte {
		return rechain(t, append(l, []byte(`{"seq":0,"prev":"","time":"2026-01-01T00:00:00Z","run":"x-cam-9-000000","state":"open","fixture":"cam-9","record_sha256":"`+strings.Repeat("0", 200)+`"}`)))
	})
	run, err = a.Begin(Meta{Bench: "lab-bench-1", Fixture: "cam-9"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Seal(&Record{Device: Device{Model: "m"}, Declarations: Declarations{Name: "d.yaml", SHA256: strings.Repeat("cd", 32)},
		Cases: []Case{{ID: "c", Suite: "s", Title: "t", Verdict: Pass, References: References{EN303645: []string{"5.1-1"}}}}}, key); !errors.Is(err, ErrIndexChanged) {
		t.Fatalf("seal by the same process over a rewritten index: %v", err)
	}
}

// One run folder handed to a third party proves its sealed line is in the
// checkpoint it carries; a changed proof does not.
func TestLooseRunInclusion(t *testing.T) {
	a, key, ids := threeRuns(t)
	keys := []crypto.PublicKey{key.Public()}
	out := filepath.Join(t.TempDir(), ids[1])
	if err := os.CopyFS(out, os.DirFS(filepath.Join(a.Dir(), RunsDir, ids[1]))); err != nil {
		t.Fatal(err)
	}
	rep, _ := Verify(out, VerifyOptions{Keys: keys})
	if !rep.OK() || rep.Checkpoint == nil || rep.Checkpoint.Size != 4 {
		t.Fatalf("loose run: %+v\n%s", rep.Checkpoint, problems(rep))
	}
	p := filepath.Join(out, InclusionFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(b), `"leaf":3`, `"leaf":2`, 1)), 0o644)
	if rep, _ := Verify(out, VerifyOptions{Keys: keys}); rep.OK() {
		t.Fatal("a changed inclusion proof verifies")
	}
}
