package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/results"
)

// bigRun writes a run of a long session: 12 cases over an hour, a
// transcript of 200 000 chunks (a chatty boot log on every power cycle) and
// 100 power events.
func bigRun(b *testing.B) string {
	b.Helper()
	a, err := results.OpenArchive(filepath.Join(b.TempDir(), "archive"))
	if err != nil {
		b.Fatal(err)
	}
	run, err := a.Begin(results.Meta{Bench: "bench", Fixture: "cam-1"})
	if err != nil {
		b.Fatal(err)
	}
	ep := run.Epoch().UTC()
	const chunks, span = 200_000, int64(time.Hour)
	w, err := run.Evidence("console-cam-1.jsonl", results.KindTranscript)
	if err != nil {
		b.Fatal(err)
	}
	for i := range chunks {
		ns := span / chunks * int64(i)
		l := results.TranscriptLine{MonoNs: ns, Wall: ep.Add(time.Duration(ns)), Dir: "rx", Text: fmt.Sprintf("[%8d.%06d] kernel: line %d <noise>\r\n", i/1000, i%1000, i)}
		if i%50 == 0 {
			l.Dir, l.Text = "tx", "show config\r"
		}
		w.Write(jsonl(b, l))
	}
	w.Close()
	var pw []any
	for i := range 100 {
		action := "on"
		if i%2 == 1 {
			action = "off"
		}
		ns := span / 100 * int64(i)
		pw = append(pw, results.PowerEvent{MonoNs: ns, Wall: ep.Add(time.Duration(ns)), Switch: "GPIO17", Action: action})
	}
	if err := run.AddEvidence("power-cam-1.jsonl", results.KindPower, jsonl(b, pw...)); err != nil {
		b.Fatal(err)
	}
	rec := &results.Record{Device: results.Device{Model: "Cam"}, Declarations: results.Declarations{SHA256: strings.Repeat("0", 64)}}
	for i := range 12 {
		start := span / 12 * int64(i)
		c := results.Case{ID: fmt.Sprintf("s/c%d", i), Suite: "s", Title: fmt.Sprintf("case %d", i),
			References: results.References{EN303645: []string{"5.1-1"}}, Verdict: results.Pass,
			Timing: results.Timing{StartMonoNs: start, DurationNs: span / 12}}
		if i%3 == 0 {
			c.Verdict, c.Reason = results.Fail, "found"
			c.Evidence = []results.EvidenceRef{{Path: "evidence/console-cam-1.jsonl", FromNs: start, ToNs: start + span/12}}
		}
		rec.Cases = append(rec.Cases, c)
	}
	if err := run.Seal(rec, key(b)); err != nil {
		b.Fatal(err)
	}
	return run.Dir()
}

func BenchmarkLoad(b *testing.B) {
	dir := bigRun(b)
	if fi, err := os.Stat(filepath.Join(dir, "evidence", "console-cam-1.jsonl")); err == nil {
		b.SetBytes(fi.Size())
	}
	for b.Loop() {
		src, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		for _, run := range src.Runs {
			run.Evidence() // read and decode the transcript and power events
		}
	}
}

// BenchmarkReport is what `bench report` costs: load, then write.
func BenchmarkReport(b *testing.B) {
	dir := bigRun(b)
	for _, f := range Formats {
		b.Run(string(f), func(b *testing.B) {
			for b.Loop() {
				rep, err := Load(dir)
				if err != nil {
					b.Fatal(err)
				}
				if err := Write(io.Discard, rep, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
