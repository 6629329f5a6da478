package expect_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/certbench/certbench/bench/lease"
	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites"
	"github.com/certbench/certbench/suites/expect"
)

// BenchmarkRun is one run of every suite on a lab of 1 or 8 units, at the
// demo's time scale and at one where the device's delays are near zero:
// the bench's own cost per run is what is left there. The lab starts once;
// each iteration is one runner.Run, as `bench demo` makes.
func BenchmarkRun(b *testing.B) {
	eight, err := expect.Units(8)
	if err != nil {
		b.Fatal(err)
	}
	for _, units := range [][]sim.UnitConfig{{{Name: "cam-1"}}, eight} {
		for _, scale := range []float64{0.05, 0.01, 0.001} {
			b.Run(fmt.Sprintf("units=%d/scale=%g", len(units), scale), func(b *testing.B) {
				dir := b.TempDir()
				l, err := sim.Start(b.Context(), sim.Config{Dir: filepath.Join(dir, "units"), TimeScale: scale, Units: units})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				path := filepath.Join(dir, "lab", "bench.yaml")
				if err := l.WriteBenchFile(path); err != nil {
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
				cfg := runner.Config{Bench: bf, Suites: suites.All(), Archive: filepath.Join(dir, "archive"), Key: key,
					Software: "bench", TimeScale: l.TimeScale(), Leases: &lease.Dir{Path: filepath.Join(dir, "leases")}}
				wrong := 0
				for b.Loop() {
					outs, err := runner.Run(b.Context(), cfg)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range outs {
						if o.Record == nil || len(expect.Check(l.Unit(o.Fixture).Flaws(), cfg.Suites, o.Record.Cases)) > 0 {
							wrong++
						}
					}
				}
				b.ReportMetric(float64(wrong)/float64(b.N), "wrong-units/op")
			})
		}
	}
}
