package results

import (
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A run cut off by a crash fails verification until it is closed as
// abandoned; then the archive verifies and the run is NOT_RUN, never PASS.
func TestCloseAbandoned(t *testing.T) {
	key, runID, steps, snaps := crashSnapshots(t)
	keys := []crypto.PublicKey{key.Public()}
	tried := 0
	for i, step := range steps {
		if step != "begin: in runs" && step != "begin: open line written" && step != "seal: envelope written" {
			continue
		}
		tried++
		rep, _ := Verify(snaps[i], VerifyOptions{Keys: keys})
		if rep.OK() {
			t.Fatalf("crash at %q: verifies before closing", step)
		}
		a, err := OpenArchive(snaps[i])
		if err != nil {
			t.Fatal(err)
		}
		rec, err := a.CloseAbandoned(runID, key, "closed by the test after a crash at "+step)
		if err != nil {
			t.Fatalf("crash at %q: %v", step, err)
		}
		rep, _ = Verify(snaps[i], VerifyOptions{Keys: keys})
		if !rep.OK() {
			t.Fatalf("crash at %q, after closing:\n%s", step, problems(rep))
		}
		want := NotRun
		if step == "seal: envelope written" {
			// The unsealed record found a FAIL: it stays found; its PASS
			// is not a result.
			want = Fail
		}
		for _, c := range rec.Cases {
			if c.Verdict == Pass {
				t.Errorf("crash at %q: case %s is PASS in the abandoned record", step, c.ID)
			}
		}
		for _, r := range rep.Runs {
			if r.ID == runID && (r.State != RunVerified || r.Verdict != want) {
				t.Errorf("crash at %q: run %+v, want verified %s", step, r, want)
			}
		}
		if rec.Abandoned == nil || len(rec.Evidence) == 0 && step == "seal: envelope written" {
			t.Errorf("crash at %q: record %+v", step, rec)
		}
		b, _ := os.ReadFile(filepath.Join(snaps[i], RunsDir, runID, RecordFile))
		if err := checkSchema(t, b); err != nil {
			t.Errorf("crash at %q: abandoned record does not validate against the schema: %v", step, err)
		}
		// Closing twice, or closing a sealed run, is refused.
		if _, err := a.CloseAbandoned(runID, key, "again"); !errors.Is(err, ErrNotAbandoned) {
			t.Errorf("crash at %q: second close: %v", step, err)
		}
	}
	if tried != 3 {
		t.Fatalf("steps: %q", steps)
	}
}
