package runner_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/certbench/certbench/bench/lease"
	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites/debug"
	"github.com/certbench/certbench/suites/suite"
)

// BenchmarkRun runs the debug-interfaces suite (one case: its device time
// is known) on N simulated units at a hundredth of real
// time, and reports the bench's own overhead beside it: ns/op minus the
// device's time (device-ms/op: what the unit itself takes at this scale to
// stay off for min_off, count down its autoboot and boot, summed over a
// run). Scaled further down the device's windows get shorter than the
// bench's reaction time (a key meant for a 30 µs autoboot window lands at
// the login prompt), which measures the host, not the bench. Compare
// units=1 with units=8 for how parallel fixtures scale.
//
//	go test -run '^$' -bench Run -benchtime 20x ./bench/runner/
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("units=%d", n), func(b *testing.B) {
			const scale = 0.01
			dir := b.TempDir()
			var units []sim.UnitConfig
			for i := range n {
				units = append(units, sim.UnitConfig{Name: fmt.Sprintf("bn%d-%d", n, i)})
			}
			lab, err := sim.Start(b.Context(), sim.Config{Dir: filepath.Join(dir, "units"), TimeScale: scale, Units: units})
			if err != nil {
				b.Fatal(err)
			}
			defer lab.Close()
			path := filepath.Join(dir, "lab", "bench.yaml")
			if err := lab.WriteBenchFile(path); err != nil {
				b.Fatal(err)
			}
			bf, err := fixtures.LoadBench(path)
			if err != nil {
				b.Fatal(err)
			}
			key, err := results.GenerateKey(results.ECDSAP256)
			if err != nil {
				b.Fatal(err)
			}
			cfg := runner.Config{Bench: bf, Suites: []*suite.Suite{debug.Suite}, Archive: filepath.Join(dir, "archive"), Key: key,
				TimeScale: scale, Leases: &lease.Dir{Path: filepath.Join(dir, "leases")}}
			// One run boots the unit twice, each time after the bench file's
			// 2 s min_off: once for the identity (3 s of autoboot, 2.5 s of
			// kernel and init to the banner) and once for the case (the
			// same to its login prompt), as the unit's boot log counts them
			// (fixtures/sim, boot.go). An upper bound: the unit's last
			// lines before the prompt take less than a full step.
			device := time.Duration(float64(2*7500*time.Millisecond) * scale)
			b.ResetTimer()
			for b.Loop() {
				outs, err := runner.Run(b.Context(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range outs {
					if o.Err != nil || o.Verdict() != results.Pass {
						b.Fatalf("%s: %s %v %+v", o.Fixture, o.Verdict(), o.Err, o.Record.Cases)
					}
				}
			}
			b.ReportMetric(float64(device)/float64(time.Millisecond), "device-ms/op")
		})
	}
}
