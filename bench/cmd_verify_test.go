package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certbench/certbench/results"
)

// TestKeygenSignVerifyThroughTheBinary makes a key with `bench keygen`, seals a
// run with it, and has `bench verify` accept the archive, then name the file a
// flipped byte is in.
func TestKeygenSignVerifyThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "bench.key")
	if code, out, errs := runBin(t, nil, "keygen", "--key", keyPath); code != 0 {
		t.Fatalf("keygen: exit %d\n%s%s", code, out, errs)
	}
	// A second keygen must not destroy the key earlier records were signed with.
	before, _ := os.ReadFile(keyPath)
	if code, _, errs := runBin(t, nil, "keygen", "--key", keyPath); code != exitUsage {
		t.Fatalf("second keygen: exit %d, want %d: %s", code, exitUsage, errs)
	}
	if after, _ := os.ReadFile(keyPath); string(after) != string(before) {
		t.Fatal("keygen overwrote an existing key")
	}

	key, err := results.LoadPrivateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "archive")
	run := sealRun(t, archive, key, "cam-1", "login: ", results.Case{
		ID: "demo/one", Suite: "demo", Title: "one", Verdict: results.Pass,
		References: results.References{EN303645: []string{"5.1-1"}},
	})

	pub := filepath.Join(dir, "bench.pub")
	if _, err := os.Stat(pub); err != nil {
		t.Fatalf("keygen did not write the public key beside the private one: %v", err)
	}
	if code, out, errs := runBin(t, nil, "verify", "--key", pub, archive); code != 0 {
		t.Fatalf("verify of a good archive: exit %d\n%s%s", code, out, errs)
	}

	// One flipped byte in the transcript: verify fails and names the file.
	ev := filepath.Join(run.Dir(), "evidence", "console-cam-1.jsonl")
	b, err := os.ReadFile(ev)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(ev, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runBin(t, nil, "verify", "--key", pub, archive)
	if code != 1 || !strings.Contains(out+errs, "console-cam-1.jsonl") {
		t.Fatalf("verify of a tampered archive: exit %d, does not name the file:\n%s%s", code, out, errs)
	}
}

// verify on something that is neither an archive nor a run says what it
// looked for, and exits 2 (bad usage), not 1 (a verification failure).
func TestVerifyRefusesWhatIsNotAnArchive(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	file := filepath.Join(dir, "notes.txt")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{
		empty:                        {"neither an archive", "index.jsonl", "runs/", "record.json"},
		file:                         {"not a folder", "index.jsonl", "record.json"},
		filepath.Join(dir, "absent"): {"absent", "missing"},
	} {
		code, out, errs := runBin(t, nil, "verify", path)
		if code != exitUsage {
			t.Errorf("verify %s: exit %d, want %d\n%s%s", path, code, exitUsage, out, errs)
		}
		for _, w := range want {
			if !strings.Contains(errs, w) {
				t.Errorf("verify %s: message does not mention %q: %s", path, w, errs)
			}
		}
	}
}

func TestKeygenMakesThePrivateFolder(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "etc", "certbench", "bench.key")
	if code, out, errs := runBin(t, nil, "keygen", "--key", keyPath); code != 0 {
		t.Fatalf("keygen into a folder that does not exist yet: exit %d\n%s%s", code, out, errs)
	}
	fi, err := os.Stat(filepath.Dir(keyPath))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("key folder mode %v, want 0700", fi.Mode().Perm())
	}
}

// TestVerifyNeedsATrustedKey: without a key verify never says OK; given the
// private key it says so; a forged archive does not verify with the real
// key; --trusted takes a folder of keys.
func TestVerifyNeedsATrustedKey(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "bench.key")
	if code, out, errs := runBin(t, nil, "keygen", "--key", keyPath); code != 0 {
		t.Fatalf("keygen: exit %d\n%s%s", code, out, errs)
	}
	key, err := results.LoadPrivateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "archive")
	sealRun(t, archive, key, "cam-1", "login: ", results.Case{ID: "demo/one", Suite: "demo", Title: "one", Verdict: results.Pass,
		References: results.References{EN303645: []string{"5.1-1"}}})

	code, out, errs := runBin(t, nil, "verify", archive)
	if code != exitUsage || strings.Contains(out, "OK") || !strings.Contains(errs, "cannot check authenticity") || !strings.Contains(errs, "--key") {
		t.Errorf("verify without a key: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = runBin(t, nil, "verify", "--key", keyPath, archive)
	if code != exitUsage || !strings.Contains(errs, "private key") || !strings.Contains(errs, "bench.pub") {
		t.Errorf("verify --key bench.key: exit %d: %s", code, errs)
	}
	trusted := filepath.Join(dir, "trusted")
	os.Mkdir(trusted, 0o755)
	pub, _ := os.ReadFile(filepath.Join(dir, "bench.pub"))
	os.WriteFile(filepath.Join(trusted, "lab-1.pub"), pub, 0o644)
	if code, out, errs := runBin(t, nil, "verify", "--trusted", trusted, archive); code != 0 || !strings.Contains(out, "OK: ") {
		t.Errorf("verify --trusted: exit %d\n%s%s", code, out, errs)
	}

	// A whole archive forged with another key: consistent with itself,
	// never OK; with the real key, every signature fails.
	forger, _ := results.GenerateKey(results.Ed25519)
	forged := filepath.Join(dir, "forged")
	sealRun(t, forged, forger, "cam-1", "login: ", results.Case{ID: "demo/one", Suite: "demo", Title: "one", Verdict: results.Pass,
		References: results.References{EN303645: []string{"5.1-1"}}})
	if code, out, _ := runBin(t, nil, "verify", forged); code == 0 || strings.Contains(out, "OK:") {
		t.Errorf("verify of a forged archive without a key: exit %d\n%s", code, out)
	}
	if code, out, _ := runBin(t, nil, "verify", "--trusted", trusted, forged); code != 1 || !strings.Contains(out, "signature") {
		t.Errorf("verify of a forged archive with the real key: exit %d\n%s", code, out)
	}
}

// TestVerifyHeldCheckpointAndCloseAbandoned: the checkpoint a customer kept
// shows the newest run removed; a crashed run fails verify until it is
// closed as abandoned, then it is NOT_RUN and the archive verifies.
func TestVerifyHeldCheckpointAndCloseAbandoned(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "bench.key")
	if code, out, errs := runBin(t, nil, "keygen", "--key", keyPath); code != 0 {
		t.Fatalf("keygen: exit %d\n%s%s", code, out, errs)
	}
	pub := filepath.Join(dir, "bench.pub")
	key, _ := results.LoadPrivateKey(keyPath)
	archive := filepath.Join(dir, "archive")
	pass := results.Case{ID: "demo/one", Suite: "demo", Title: "one", Verdict: results.Pass, References: results.References{EN303645: []string{"5.1-1"}}}
	sealRun(t, archive, key, "cam-1", "login: ", pass)
	fail := sealRun(t, archive, key, "cam-2", "login: ", results.Case{ID: "demo/two", Suite: "demo", Title: "two", Verdict: results.Fail, Reason: "bad",
		References: results.References{EN303645: []string{"5.1-1"}}})
	held := filepath.Join(dir, "customer.dsse.json")
	b, err := os.ReadFile(filepath.Join(archive, results.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(held, b, 0o644)
	if code, out, errs := runBin(t, nil, "verify", "--key", pub, "--checkpoint", held, archive); code != 0 || !strings.Contains(out, "extends it") {
		t.Fatalf("verify --checkpoint on the same archive: exit %d\n%s%s", code, out, errs)
	}
	// An older copy: the FAIL run and its lines gone, its checkpoint too.
	older := filepath.Join(dir, "older")
	os.CopyFS(older, os.DirFS(archive))
	os.RemoveAll(filepath.Join(older, results.RunsDir, filepath.Base(fail.Dir())))
	idx, _ := os.ReadFile(filepath.Join(older, results.IndexFile))
	lines := strings.SplitAfter(string(idx), "\n")
	os.WriteFile(filepath.Join(older, results.IndexFile), []byte(strings.Join(lines[:2], "")), 0o644)
	os.Remove(filepath.Join(older, results.CheckpointFile)) // the older copy's own would be older still
	code, out, _ := runBin(t, nil, "verify", "--key", pub, "--checkpoint", held, older)
	if code != 1 || !strings.Contains(out, "lines 3 to 4") {
		t.Errorf("verify --checkpoint on an older copy: exit %d\n%s", code, out)
	}

	// A crash: a run begun and never sealed.
	a, _ := results.OpenArchive(archive)
	run, err := a.Begin(results.Meta{Bench: "test-bench", Fixture: "cam-3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.AddEvidence("console-cam-3.jsonl", results.KindTranscript, []byte(`{"mono_ns":1,"wall":"2026-11-24T23:50:01Z","dir":"rx","text":"boot"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runBin(t, nil, "verify", "--key", pub, archive); code != 1 {
		t.Fatalf("verify with a crashed run: exit %d, want 1", code)
	}
	if code, _, errs := runBin(t, nil, "archive", "close-abandoned", "--key", keyPath, archive, run.ID()); code != exitUsage || !strings.Contains(errs, "--reason") {
		t.Errorf("close-abandoned without a reason: exit %d: %s", code, errs)
	}
	// The marker names this test's pid, which is running.
	if code, _, errs := runBin(t, nil, "archive", "close-abandoned", "--key", keyPath, "--reason", "test crash", archive, run.ID()); code != 1 || !strings.Contains(errs, "still running") {
		t.Errorf("close-abandoned of a run whose process runs: exit %d: %s", code, errs)
	}
	code, out, errs := runBin(t, nil, "archive", "close-abandoned", "--key", keyPath, "--reason", "test crash", "--force", archive, run.ID())
	if code != 0 || !strings.Contains(out, "NOT_RUN") {
		t.Fatalf("close-abandoned: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runBin(t, nil, "verify", "--key", pub, archive)
	if code != 0 || !strings.Contains(out, run.ID()) {
		t.Errorf("verify after closing: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runBin(t, nil, "report", "--key", pub, archive)
	if code != 0 || !strings.HasPrefix(out, "Verified: ") || !strings.Contains(out, "NOT RUN") {
		t.Errorf("report after closing: exit %d\n%s", code, out)
	}
}
