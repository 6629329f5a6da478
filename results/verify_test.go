package results

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// threeRuns returns a fresh copy of an archive with three sealed runs, the
// key that signed them and the runs' IDs in order. The archive is made once
// (sealing syncs to disk, which is slow on a busy machine) and copied.
func threeRuns(t *testing.T) (*Archive, crypto.Signer, []string) {
	t.Helper()
	threeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "results-three-")
		if err != nil {
			panic(err)
		}
		threeDir = dir
		a, err := OpenArchive(filepath.Join(dir, "archive"))
		if err != nil {
			panic(err)
		}
		a.sync = fixedSync{synced: true, known: true}
		threeKey = testKey(t, ECDSAP256)
		for _, f := range []string{"cam-1", "cam-2", "cam-3"} {
			threeIDs = append(threeIDs, writeRun(t, a, threeKey, f).ID())
		}
	})
	dst := filepath.Join(t.TempDir(), "archive")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(threeDir, "archive"))); err != nil {
		t.Fatal(err)
	}
	a, err := OpenArchive(dst)
	if err != nil {
		t.Fatal(err)
	}
	a.sync = fixedSync{synced: true, known: true}
	return a, threeKey, append([]string(nil), threeIDs...)
}

var (
	threeOnce sync.Once
	threeDir  string
	threeKey  crypto.Signer
	threeIDs  []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if threeDir != "" { // the temporary folder holding the archive
		os.RemoveAll(threeDir)
	}
	if bigDir != "" { // the archive itself, in its temporary folder
		os.RemoveAll(filepath.Dir(bigDir))
	}
	os.Exit(code)
}

func flipByte(t *testing.T, path string, at func(b []byte) int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := at(b)
	if i < 0 || i >= len(b) {
		t.Fatalf("no byte to flip in %s", path)
	}
	b[i] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func middle(b []byte) int { return len(b) / 2 }

// want describes a problem a tampering must produce.
type want struct {
	kinds []string // any of
	file  string   // exact, relative to the archive
	line  int
	text  string // in the message
}

func (w want) match(p Problem) bool {
	kindOK := false
	for _, k := range w.kinds {
		kindOK = kindOK || p.Kind == k
	}
	return kindOK && p.File == w.file && p.Line == w.line && strings.Contains(p.Message, w.text)
}

func TestVerifyNamesTampering(t *testing.T) {
	runFile := func(id, name string) string { return RunsDir + "/" + id + "/" + name }
	for name, tc := range map[string]struct {
		tamper func(t *testing.T, dir string, ids []string)
		want   func(ids []string) []want
	}{
		"record byte": {
			func(t *testing.T, dir string, ids []string) {
				flipByte(t, filepath.Join(dir, runFile(ids[1], RecordFile)), func(b []byte) int { return bytes.Index(b, []byte("ACME")) })
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemDigest}, file: runFile(ids[1], RecordFile), text: "changed after signing"}}
			},
		},
		"envelope byte": {
			func(t *testing.T, dir string, ids []string) {
				flipByte(t, filepath.Join(dir, runFile(ids[1], EnvelopeFile)), func(b []byte) int { return bytes.Index(b, []byte(`"sig":"`)) + 10 })
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemSignature, ProblemEnvelope}, file: runFile(ids[1], EnvelopeFile)}}
			},
		},
		"envelope payload byte": {
			func(t *testing.T, dir string, ids []string) {
				flipByte(t, filepath.Join(dir, runFile(ids[1], EnvelopeFile)), func(b []byte) int { return bytes.Index(b, []byte(`"payload":"`)) + 40 })
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemSignature, ProblemEnvelope}, file: runFile(ids[1], EnvelopeFile)}}
			},
		},
		"transcript byte": {
			func(t *testing.T, dir string, ids []string) {
				flipByte(t, filepath.Join(dir, runFile(ids[0], "evidence/console-cam-1.jsonl")), middle)
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemDigest}, file: runFile(ids[0], "evidence/console-cam-1.jsonl"), text: "console-transcript"}}
			},
		},
		"power byte": {
			func(t *testing.T, dir string, ids []string) {
				flipByte(t, filepath.Join(dir, runFile(ids[2], "evidence/power-cam-3.jsonl")), middle)
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemDigest}, file: runFile(ids[2], "evidence/power-cam-3.jsonl"), text: "power-events"}}
			},
		},
		"network byte": {
			func(t *testing.T, dir string, ids []string) {
				flipByte(t, filepath.Join(dir, runFile(ids[1], "evidence/http-admin.jsonl")), middle)
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemDigest}, file: runFile(ids[1], "evidence/http-admin.jsonl"), text: "network-exchange"}}
			},
		},
		"image digests byte": {
			func(t *testing.T, dir string, ids []string) {
				flipByte(t, filepath.Join(dir, runFile(ids[1], "evidence/images.jsonl")), middle)
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemDigest}, file: runFile(ids[1], "evidence/images.jsonl"), text: "image-digests"}}
			},
		},
		"evidence truncated": {
			func(t *testing.T, dir string, ids []string) {
				os.Truncate(filepath.Join(dir, runFile(ids[1], "evidence/console-cam-2.jsonl")), 10)
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemSize}, file: runFile(ids[1], "evidence/console-cam-2.jsonl"), text: "is 10 bytes"}}
			},
		},
		"evidence removed": {
			func(t *testing.T, dir string, ids []string) {
				os.Remove(filepath.Join(dir, runFile(ids[1], "evidence/power-cam-2.jsonl")))
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemMissing}, file: runFile(ids[1], "evidence/power-cam-2.jsonl")}}
			},
		},
		"evidence added": {
			func(t *testing.T, dir string, ids []string) {
				os.WriteFile(filepath.Join(dir, runFile(ids[1], "evidence/alibi.txt")), []byte("x"), 0o644)
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemExtra}, file: runFile(ids[1], "evidence/alibi.txt")}}
			},
		},
		"index byte": {
			func(t *testing.T, dir string, ids []string) {
				// In line 3's time, so the line still parses: the chain must catch it.
				flipByte(t, filepath.Join(dir, IndexFile), func(b []byte) int {
					l3 := bytes.Index(b, []byte(`{"seq":3,`))
					return l3 + bytes.Index(b[l3:], []byte(`"time":"`)) + 10
				})
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemIndex}, file: IndexFile, line: 4, text: "line 3 was changed"}}
			},
		},
		"run deleted": {
			func(t *testing.T, dir string, ids []string) {
				os.RemoveAll(filepath.Join(dir, RunsDir, ids[1]))
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemMissing}, file: RunsDir + "/" + ids[1], text: "folder is gone"}}
			},
		},
		"run and its index lines deleted": {
			func(t *testing.T, dir string, ids []string) {
				os.RemoveAll(filepath.Join(dir, RunsDir, ids[1]))
				editIndex(t, dir, func(lines [][]byte) [][]byte { return append(lines[:2:2], lines[4:]...) })
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemIndex}, file: IndexFile, line: 3, text: "seq 5 follows seq 2"}}
			},
		},
		"run deleted and index rewritten": {
			// A forger who knows the format: remove run 2 and its lines,
			// then recompute every later line's seq and prev.
			func(t *testing.T, dir string, ids []string) {
				os.RemoveAll(filepath.Join(dir, RunsDir, ids[1]))
				editIndex(t, dir, func(lines [][]byte) [][]byte { return rechain(t, append(lines[:2:2], lines[4:]...)) })
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemIndex}, file: IndexFile, line: 4, text: "the index before this line was rewritten"}}
			},
		},
		"index lines swapped": {
			func(t *testing.T, dir string, ids []string) {
				editIndex(t, dir, func(l [][]byte) [][]byte { l[2], l[4] = l[4], l[2]; return l })
			},
			func(ids []string) []want {
				return []want{
					{kinds: []string{ProblemIndex}, file: IndexFile, line: 3, text: "seq 5 follows seq 2"},
					{kinds: []string{ProblemIndex}, file: IndexFile, line: 5, text: "seq 3 follows seq 4"},
				}
			},
		},
		"index line removed": {
			func(t *testing.T, dir string, ids []string) {
				editIndex(t, dir, func(l [][]byte) [][]byte { return append(l[:3:3], l[4:]...) })
			},
			func(ids []string) []want {
				return []want{
					{kinds: []string{ProblemIndex}, file: IndexFile, line: 4, text: "seq 5 follows seq 3"},
					{kinds: []string{ProblemIndex}, file: IndexFile, line: 3, text: "no \"sealed\" line"},
				}
			},
		},
		"index torn": {
			func(t *testing.T, dir string, ids []string) {
				fi, _ := os.Stat(filepath.Join(dir, IndexFile))
				os.Truncate(filepath.Join(dir, IndexFile), fi.Size()-20)
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemIndex}, file: IndexFile, line: 6, text: "cut off"}}
			},
		},
		"record truncated": {
			func(t *testing.T, dir string, ids []string) {
				p := filepath.Join(dir, runFile(ids[0], RecordFile))
				fi, _ := os.Stat(p)
				os.Truncate(p, fi.Size()/2)
			},
			func(ids []string) []want {
				return []want{
					{kinds: []string{ProblemDigest}, file: runFile(ids[0], RecordFile), text: "changed after signing"},
					{kinds: []string{ProblemRecord}, file: runFile(ids[0], RecordFile), text: "not JSON"},
				}
			},
		},
		"records swapped": {
			func(t *testing.T, dir string, ids []string) {
				a, b := filepath.Join(dir, runFile(ids[0], RecordFile)), filepath.Join(dir, runFile(ids[2], RecordFile))
				os.Rename(a, a+".x")
				os.Rename(b, a)
				os.Rename(a+".x", b)
			},
			func(ids []string) []want {
				return []want{
					{kinds: []string{ProblemDigest}, file: runFile(ids[0], RecordFile), text: "changed after signing"},
					{kinds: []string{ProblemRecord}, file: runFile(ids[0], RecordFile), text: "moved or swapped"},
				}
			},
		},
		"sealed line verdict changed": {
			// The last line: no later line's prev shows the change.
			func(t *testing.T, dir string, ids []string) {
				editIndex(t, dir, func(l [][]byte) [][]byte {
					l[5] = bytes.Replace(l[5], []byte(`"verdict":"FAIL"`), []byte(`"verdict":"PASS"`), 1)
					return l
				})
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemIndex}, file: IndexFile, line: 6, text: `verdict "PASS", the signed record says FAIL`}}
			},
		},
		"sealed line fixture changed": {
			func(t *testing.T, dir string, ids []string) {
				editIndex(t, dir, func(l [][]byte) [][]byte {
					l[5] = bytes.Replace(l[5], []byte(`"fixture":"cam-3"`), []byte(`"fixture":"cam-9"`), 1)
					return l
				})
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemIndex}, file: IndexFile, line: 6, text: `fixture "cam-9", the signed record says "cam-3"`}}
			},
		},
		"record removed": {
			func(t *testing.T, dir string, ids []string) {
				os.Remove(filepath.Join(dir, runFile(ids[2], RecordFile)))
			},
			func(ids []string) []want {
				return []want{{kinds: []string{ProblemMissing}, file: runFile(ids[2], RecordFile)}}
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, key, ids := threeRuns(t)
			tc.tamper(t, a.Dir(), ids)
			rep, err := Verify(a.Dir(), VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("tampered archive verified")
			}
			for _, w := range tc.want(ids) {
				found := false
				for _, p := range rep.Problems {
					found = found || w.match(p)
				}
				if !found {
					t.Errorf("no problem %s at %s line %d mentioning %q; got:\n%s", w.kinds, w.file, w.line, w.text, problems(rep))
				}
			}
		})
	}
}

// A run an index problem names is not listed as verified, even when its
// folder verifies: its place in the archive is in doubt.
func TestIndexProblemsMarkTheirRuns(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(l [][]byte) [][]byte
		bad  []int // indexes into the runs of threeRuns
	}{
		// Line 3 is run 2's "open" line: its "sealed" line now follows
		// nothing.
		// Every line after it moved: run 3's inclusion proof no longer
		// places it where the index has it.
		"line 3 removed": {func(l [][]byte) [][]byte { return append(l[:2:2], l[3:]...) }, []int{1, 2}},
		// Line 4 (run 2 sealed) changed shows at line 5 (run 3 open): the
		// chain cannot tell which of the two was edited.
		"line 4 changed": {func(l [][]byte) [][]byte {
			l[3] = bytes.Replace(l[3], []byte(`"time":"`), []byte(`"time":"1`), 1)
			return l
		}, []int{1, 2}},
	} {
		t.Run(name, func(t *testing.T) {
			a, key, ids := threeRuns(t)
			editIndex(t, a.Dir(), tc.edit)
			rep, err := Verify(a.Dir(), VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("edited index verified")
			}
			wantBad := map[string]bool{}
			for _, i := range tc.bad {
				wantBad[ids[i]] = true
			}
			for _, r := range rep.Runs {
				if got := r.State != RunVerified; got != wantBad[r.ID] {
					t.Errorf("run %s is %s; problems:\n%s", r.ID, r.State, problems(rep))
				}
			}
		})
	}
}

func problems(r *Report) string {
	var b strings.Builder
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return b.String()
}

// rechain recomputes seq and prev of every line, as a forger would.
func rechain(t *testing.T, lines [][]byte) [][]byte {
	prev := ""
	for i, l := range lines {
		var e IndexEntry
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		e.Seq, e.Prev = i+1, prev
		lines[i], _ = json.Marshal(e)
		prev = sha256Hex(lines[i])
	}
	return lines
}

func editIndex(t *testing.T, dir string, edit func([][]byte) [][]byte) {
	t.Helper()
	p := filepath.Join(dir, IndexFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'})
	out := bytes.Join(edit(lines), []byte{'\n'})
	if err := os.WriteFile(p, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIncompleteRunNeverVerifies(t *testing.T) {
	a, key, ids := threeRuns(t)
	run, err := a.Begin(Meta{Bench: "b", Fixture: "cam-4"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.AddEvidence("console-cam-4.jsonl", KindTranscript, []byte(`{"mono_ns":1,"wall":"2026-11-24T00:00:00Z","dir":"rx","text":"U-Boot"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	// The bench dies here: no Seal.
	keys := []crypto.PublicKey{key.Public()}
	rep, _ := Verify(a.Dir(), VerifyOptions{Keys: keys})
	w := want{kinds: []string{ProblemIncomplete}, file: RunsDir + "/" + run.ID() + "/" + IncompleteFile, text: "never sealed"}
	if rep.OK() || len(rep.Problems) != 1 || !w.match(rep.Problems[0]) {
		t.Fatalf("incomplete run: %s", problems(rep))
	}
	// Verifying the run folder alone must not call it complete either.
	rep, _ = Verify(run.Dir(), VerifyOptions{Keys: keys})
	if rep.OK() || rep.Runs[0].State != RunIncomplete {
		t.Fatalf("incomplete run verified alone: %+v", rep)
	}
	// Forgiven on request, but still listed as incomplete.
	rep, _ = Verify(a.Dir(), VerifyOptions{Keys: keys, AllowIncomplete: true})
	if !rep.OK() || len(rep.Runs) != len(ids)+1 {
		t.Fatalf("AllowIncomplete: %s", problems(rep))
	}
	for _, r := range rep.Runs {
		if (r.ID == run.ID()) != (r.State == RunIncomplete) {
			t.Errorf("run %s state %s", r.ID, r.State)
		}
	}
}

// TestCrashLeavesIncompleteRun kills a real bench process in the middle of a
// run (SIGKILL: no deferred code runs), then checks that the run shows as
// incomplete and the archive keeps working.
func TestCrashLeavesIncompleteRun(t *testing.T) {
	if os.Getenv("RESULTS_HELPER") != "" {
		return
	}
	a, key, _ := threeRuns(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "RESULTS_HELPER=crash", "RESULTS_ARCHIVE="+a.Dir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var runID string
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "writing "); ok {
			runID = id
			break
		}
	}
	if runID == "" {
		cmd.Process.Kill()
		t.Fatalf("helper never started its run: %v", sc.Err())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	keys := []crypto.PublicKey{key.Public()}
	rep, _ := Verify(a.Dir(), VerifyOptions{Keys: keys})
	w := want{kinds: []string{ProblemIncomplete}, file: RunsDir + "/" + runID + "/" + IncompleteFile}
	if rep.OK() || !w.match(rep.Problems[0]) || len(rep.Problems) != 1 {
		t.Fatalf("after a crash: %s", problems(rep))
	}
	// The bench restarts and records another run into the same archive.
	writeRun(t, a, key, "cam-5")
	rep, _ = Verify(a.Dir(), VerifyOptions{Keys: keys, AllowIncomplete: true})
	if !rep.OK() || len(rep.Runs) != 5 {
		t.Fatalf("after restart: %d runs, %s", len(rep.Runs), problems(rep))
	}
}

// crashSnapshots seals one FAIL run into a copy of threeRuns, copying the
// whole archive at every step where a crash would leave a different state on
// disk. Each copy is what a power cut at that step leaves.
func crashSnapshots(t *testing.T) (key crypto.Signer, runID string, steps []string, snaps []string) {
	a, key, _ := threeRuns(t)
	base := t.TempDir()
	a.step = func(step string) {
		dst := filepath.Join(base, fmt.Sprint(len(snaps)))
		if err := os.CopyFS(dst, os.DirFS(a.Dir())); err != nil {
			t.Fatalf("snapshot at %s: %v", step, err)
		}
		steps, snaps = append(steps, step), append(snaps, dst)
	}
	run := writeRun(t, a, key, "cam-4")
	a.step = nil
	return key, run.ID(), steps, snaps
}

// A crash at any step of Begin leaves either no trace of the run in runs/
// or an incomplete run: never a run folder verify cannot place.
func TestCrashDuringBegin(t *testing.T) {
	key, runID, steps, snaps := crashSnapshots(t)
	keys := []crypto.PublicKey{key.Public()}
	seen := 0
	for i, step := range steps {
		if !strings.HasPrefix(step, "begin:") {
			continue
		}
		seen++
		rep, err := Verify(snaps[i], VerifyOptions{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Problems {
			if p.Kind != ProblemIncomplete || p.Run != runID {
				t.Errorf("crash at %q: %s", step, p)
			}
		}
		for _, r := range rep.Runs {
			if r.ID == runID && r.State != RunIncomplete {
				t.Errorf("crash at %q: run is %s, want incomplete", step, r.State)
			}
		}
		rep, _ = Verify(snaps[i], VerifyOptions{Keys: keys, AllowIncomplete: true})
		if !rep.OK() {
			t.Errorf("crash at %q, incomplete runs allowed:\n%s", step, problems(rep))
		}
		// The bench restarts: the archive opens and takes new runs.
		a, err := OpenArchive(snaps[i])
		if err != nil {
			t.Fatalf("reopen after a crash at %q: %v", step, err)
		}
		a.sync = fixedSync{synced: true, known: true}
		writeRun(t, a, key, "cam-5")
		if rep, _ := Verify(snaps[i], VerifyOptions{Keys: keys, AllowIncomplete: true}); !rep.OK() {
			t.Errorf("crash at %q, after a new run:\n%s", step, problems(rep))
		}
	}
	if seen < 3 {
		t.Fatalf("only %d Begin steps seen: %q", seen, steps)
	}
}

// A crash at any step of Seal leaves the run incomplete until its "sealed"
// line is written, and from then on a sealed run whose verdict shows: verify
// names the leftover marker, and the next OpenArchive removes it.
func TestCrashDuringSeal(t *testing.T) {
	key, runID, steps, snaps := crashSnapshots(t)
	keys := []crypto.PublicKey{key.Public()}
	runState := func(rep *Report) RunStatus {
		for _, r := range rep.Runs {
			if r.ID == runID {
				return r
			}
		}
		t.Fatalf("run %s not in the report", runID)
		return RunStatus{}
	}
	indexed := false
	seen := 0
	for i, step := range steps {
		if !strings.HasPrefix(step, "seal:") {
			continue
		}
		seen++
		indexed = indexed || step == "seal: sealed line written"
		rep, err := Verify(snaps[i], VerifyOptions{Keys: keys, AllowIncomplete: true})
		if err != nil {
			t.Fatal(err)
		}
		st := runState(rep)
		switch {
		case !indexed:
			if !rep.OK() || st.State != RunIncomplete {
				t.Errorf("crash at %q: run %s\n%s", step, st.State, problems(rep))
			}
		case step != "seal: marker removed":
			// Sealed, marker still there, and perhaps no checkpoint or
			// inclusion proof yet: the verdict shown, the leftovers named
			// as this run's problems even with incomplete runs allowed.
			if st.Verdict != Fail || len(rep.Problems) == 0 {
				t.Errorf("crash at %q: run %+v\n%s", step, st, problems(rep))
			}
			for _, p := range rep.Problems {
				if p.Run != runID || (p.Kind != ProblemStaleMarker && p.Kind != ProblemCheckpoint) {
					t.Errorf("crash at %q: %s", step, p)
				}
			}
			// The run's folder alone says the same (it finds the index).
			rr, err := Verify(filepath.Join(snaps[i], RunsDir, runID), VerifyOptions{Keys: keys})
			if err != nil || rr.Runs[0].Verdict != Fail || len(rr.Problems) != 1 || rr.Problems[0].Kind != ProblemStaleMarker {
				t.Errorf("crash at %q, run folder alone: %v %+v\n%s", step, err, rr.Runs, problems(rr))
			}
			// The bench starts again and signs a checkpoint (as its next
			// seal does): the seal is finished.
			a, err := OpenArchive(snaps[i])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Checkpoint(key, "lab-bench-1"); err != nil {
				t.Fatalf("crash at %q: checkpoint: %v", step, err)
			}
			rep, _ = Verify(snaps[i], VerifyOptions{Keys: keys})
			if st := runState(rep); !rep.OK() || st.State != RunVerified || st.Verdict != Fail {
				t.Errorf("crash at %q, after reopening: run %+v\n%s", step, st, problems(rep))
			}
		default:
			if !rep.OK() || st.State != RunVerified || st.Verdict != Fail {
				t.Errorf("crash at %q: run %+v\n%s", step, st, problems(rep))
			}
		}
	}
	if seen < 4 || !indexed {
		t.Fatalf("Seal steps seen: %q", steps)
	}
}

// An INCOMPLETE marker put into a sealed run cannot hide its FAIL, even with
// incomplete runs allowed, nor stop the run being checked in full; and
// OpenArchive does not remove a marker from a run that does not verify.
func TestMarkerCannotHideSealedRun(t *testing.T) {
	a, key, ids := threeRuns(t)
	keys := []crypto.PublicKey{key.Public()}
	runDir := filepath.Join(a.Dir(), RunsDir, ids[0])
	if err := os.WriteFile(filepath.Join(runDir, IncompleteFile), []byte(`{"fixture":"cam-1"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ := Verify(a.Dir(), VerifyOptions{Keys: keys, AllowIncomplete: true})
	if rep.OK() || rep.Runs[0].State == RunIncomplete || rep.Runs[0].Verdict != Fail {
		t.Fatalf("marker added to a sealed FAIL run: %+v\n%s", rep.Runs[0], problems(rep))
	}
	w := want{kinds: []string{ProblemStaleMarker}, file: RunsDir + "/" + ids[0] + "/" + IncompleteFile, text: "line 2 seals this run"}
	if len(rep.Problems) != 1 || !w.match(rep.Problems[0]) {
		t.Errorf("problems:\n%s", problems(rep))
	}
	// Evidence changed as well: still found.
	flipByte(t, filepath.Join(runDir, "evidence", "console-cam-1.jsonl"), middle)
	rep, _ = Verify(a.Dir(), VerifyOptions{Keys: keys, AllowIncomplete: true})
	w2 := want{kinds: []string{ProblemDigest}, file: RunsDir + "/" + ids[0] + "/evidence/console-cam-1.jsonl"}
	found := false
	for _, p := range rep.Problems {
		found = found || w2.match(p)
	}
	if !found {
		t.Errorf("changed evidence under a marker not found:\n%s", problems(rep))
	}
	if _, err := OpenArchive(a.Dir()); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(runDir, IncompleteFile)) {
		t.Error("OpenArchive removed the marker of a run that does not verify")
	}
}

// TestHelperProcess is the bench process the crash and concurrency tests
// start; it does nothing in a normal test run.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("RESULTS_HELPER")
	if mode == "" {
		t.Skip("helper for other tests")
	}
	a, err := OpenArchive(os.Getenv("RESULTS_ARCHIVE"))
	if err != nil {
		t.Fatal(err)
	}
	a.sync = fixedSync{synced: true, known: true}
	switch mode {
	case "crash":
		run, err := a.Begin(Meta{Bench: "b", Fixture: "cam-crash"})
		if err != nil {
			t.Fatal(err)
		}
		w, err := run.Evidence("console-cam-crash.jsonl", KindTranscript)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(`{"mono_ns":1,"wall":"2026-11-24T00:00:00Z","dir":"rx","text":"Starting kernel`))
		fmt.Println("writing", run.ID())
		select {} // until killed
	case "seal":
		key, err := LoadPrivateKey(os.Getenv("RESULTS_KEY"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			writeRun(t, a, key, fmt.Sprintf("proc%d-%d", os.Getpid(), i))
		}
	}
}

// TestConcurrentRuns has goroutines and separate processes seal runs into one
// archive at the same time; the index must come out whole.
func TestConcurrentRuns(t *testing.T) {
	if os.Getenv("RESULTS_HELPER") != "" {
		return
	}
	a := testArchive(t)
	key := testKey(t, ECDSAP256)
	keyDir := t.TempDir()
	if err := WriteKeyPair(filepath.Join(keyDir, "bench.key"), filepath.Join(keyDir, "bench.pub"), key); err != nil {
		t.Fatal(err)
	}
	var procs []*exec.Cmd
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "RESULTS_HELPER=seal", "RESULTS_ARCHIVE="+a.Dir(), "RESULTS_KEY="+filepath.Join(keyDir, "bench.key"))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5 {
				run, err := a.Begin(Meta{Bench: "b", Fixture: fmt.Sprintf("g%d-%d", g, i)})
				if err != nil {
					t.Error(err)
					return
				}
				run.AddEvidence("console.jsonl", KindTranscript, []byte("{}\n"))
				rec := &Record{Device: Device{Model: "m"}, Declarations: Declarations{SHA256: strings.Repeat("0", 64)}}
				if err := run.Seal(rec, key); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for _, p := range procs {
		if err := p.Wait(); err != nil {
			t.Fatalf("helper process: %v", err)
		}
	}
	rep, err := Verify(a.Dir(), VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Runs) != 30 || rep.IndexLines != 60 {
		t.Fatalf("%d runs, %d index lines:\n%s", len(rep.Runs), rep.IndexLines, problems(rep))
	}
}
