package results

import (
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BenchmarkSeal measures recording one whole run into an archive: Begin,
// four evidence files, Seal (sign, write, sync, index append).
func BenchmarkSeal(b *testing.B) {
	for _, alg := range []string{ECDSAP256, Ed25519} {
		b.Run(alg, func(b *testing.B) {
			a := testArchive(b)
			key := testKey(b, alg)
			for i := 0; b.Loop(); i++ {
				writeRun(b, a, key, fmt.Sprintf("cam-%d", i))
			}
		})
	}
}

// BenchmarkSignRecord measures the signature alone.
func BenchmarkSignRecord(b *testing.B) {
	r := sampleRecord()
	js, _ := r.Marshal()
	for _, alg := range []string{ECDSAP256, Ed25519} {
		b.Run(alg, func(b *testing.B) {
			key := testKey(b, alg)
			for b.Loop() {
				if _, err := SignRecord(key, r, js); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var (
	bigOnce sync.Once
	bigDir  string
	bigKey  crypto.Signer
	bigMade time.Duration
)

// bigArchive makes, once, an archive of runs sealed runs (each with four
// evidence files).
func bigArchive(b *testing.B, runs int) {
	bigOnce.Do(func() {
		dir, err := os.MkdirTemp("", "results-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bigDir = filepath.Join(dir, "archive")
		a, err := OpenArchive(bigDir)
		if err != nil {
			b.Fatal(err)
		}
		a.sync = fixedSync{synced: true, known: true}
		bigKey = testKey(b, ECDSAP256)
		t0 := time.Now()
		for i := range runs {
			writeRun(b, a, bigKey, fmt.Sprintf("cam-%d", i%8))
		}
		bigMade = time.Since(t0)
	})
	b.Logf("made %d runs in %v (%v per run, with fsync)", runs, bigMade, bigMade/time.Duration(runs))
}

// BenchmarkVerifyArchive1000 verifies an archive of 1,000 sealed runs (each
// with four evidence files); the ns/run metric is per run.
func BenchmarkVerifyArchive1000(b *testing.B) {
	const runs = 1000
	bigArchive(b, runs)
	opts := VerifyOptions{Keys: []crypto.PublicKey{bigKey.Public()}}
	for b.Loop() {
		rep, err := Verify(bigDir, opts)
		if err != nil || !rep.OK() || len(rep.Runs) != runs {
			b.Fatalf("verify: %v, %d runs, %d problems", err, len(rep.Runs), len(rep.Problems))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/runs, "ns/run")
}

// BenchmarkSealInto1000 records one more run into a copy of the 1,000-run
// archive: what a seal costs on a long index (the checkpoint is signed over
// all of it; the process reads the index whole once, then only what was
// appended).
func BenchmarkSealInto1000(b *testing.B) {
	bigArchive(b, 1000)
	dst := filepath.Join(b.TempDir(), "archive")
	if err := os.CopyFS(dst, os.DirFS(bigDir)); err != nil {
		b.Fatal(err)
	}
	a, err := OpenArchive(dst)
	if err != nil {
		b.Fatal(err)
	}
	a.sync = fixedSync{synced: true, known: true}
	writeRun(b, a, bigKey, "cam-first") // the first seal of the process reads the index whole
	for i := 0; b.Loop(); i++ {
		writeRun(b, a, bigKey, fmt.Sprintf("cam-%d", i))
	}
}
