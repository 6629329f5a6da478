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
