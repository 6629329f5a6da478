package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/console/consoletest"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/drivers/power/powertest"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/results/report"
	"periph.io/x/conn/v3/gpio"
)

// TestDriversEvidenceReadsBackInTheArchive holds the contract between the
// drivers, which write evidence, and results, which reads it without
// importing them: a transcript with every kind of record (rx, tx, bytes that
// are not UTF-8, a lost port, a reopen) and a power log with a wait written
// into a real run must seal, verify, and read back whole in a report.
func TestDriversEvidenceReadsBackInTheArchive(t *testing.T) {
	skipOnNonLinux(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	key, err := results.GenerateKey(results.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "archive")
	a, err := results.OpenArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Now()
	run, err := a.Begin(results.Meta{Bench: "test-bench", Fixture: "cam-1", Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := run.Evidence("console-cam-1.jsonl", results.KindTranscript)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := run.Evidence("power-cam-1.jsonl", results.KindPower)
	if err != nil {
		t.Fatal(err)
	}

	powertest.Register(t, "CBTEST_EVIDENCE_RELAY", gpio.High)
	log := power.NewLog(pw, epoch)
	relay, err := power.NewRelay(power.RelayConfig{Line: "CBTEST_EVIDENCE_RELAY", ActiveLow: true, MinOff: time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Cycle(ctx); err != nil {
		t.Fatal(err)
	}

	dev := consoletest.NewPTY(t)
	con, err := console.Open(ctx, console.Config{Name: "cam-1", Port: console.Serial{Path: dev.Path}, Transcript: tw, Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	dev.Far().Write("U-Boot \xff\xfe\x00 2024.01\r\nlogin: ")
	if _, err := con.Expect(ctx, 5*time.Second, console.Literal("login: ")); err != nil {
		t.Fatal(err)
	}
	if err := con.SendLine(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	dev.Far().Expect("admin")
	dev.Hangup() // the adapter vanishes ...
	// Whether the loss lands during the wait or before it, the wait ends
	// as the bench's fault, never as the device's timeout.
	if _, err := con.Expect(ctx, 100*time.Millisecond, console.Literal("Password: ")); !errors.Is(err, console.ErrLost) {
		t.Fatalf("an expect across a lost port: %v, want ErrLost", err)
	}
	dev.Replace().Write("Password: ") // ... and comes back
	if _, err := con.Expect(ctx, 5*time.Second, console.Literal("Password: ")); err != nil {
		t.Fatal(err)
	}
	if err := con.Close(); err != nil {
		t.Fatal(err)
	}
	if err := relay.SafeState(); err != nil {
		t.Fatal(err)
	}
	if err := log.Err(); err != nil {
		t.Fatal(err)
	}
	for _, w := range []interface{ Close() error }{tw, pw} {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rec := &results.Record{
		Device:       results.Device{Model: "TestDev", Serial: "T-1"},
		Declarations: results.Declarations{Name: "declarations.yaml", SHA256: strings.Repeat("ab", 32)},
		Cases: []results.Case{{ID: "demo/one", Suite: "demo", Title: "one", Verdict: results.Pass,
			References: results.References{EN303645: []string{"5.1-1"}}}},
	}
	if err := run.Seal(rec, key); err != nil {
		t.Fatal(err)
	}

	vr, err := results.Verify(dir, results.VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
	if err != nil || !vr.OK() {
		t.Fatalf("verify: %v %+v", err, vr)
	}
	// Each file parses strictly as formats.md says.
	for _, name := range []string{"console-cam-1.jsonl", "power-cam-1.jsonl"} {
		f, err := os.Open(filepath.Join(run.Dir(), "evidence", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if name[0] == 'c' {
			lines, err := results.ReadTranscript(f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			kinds := map[string]bool{}
			for _, l := range lines {
				kinds[l.Dir+"/"+l.Event] = true
				if l.Dir == "rx" && l.B64 != nil {
					kinds["rx-b64"] = true
				}
			}
			for _, k := range []string{"rx/", "tx/", "event/lost", "event/reopen", "event/close", "rx-b64"} {
				if !kinds[k] {
					t.Errorf("transcript has no %s record: %v", k, kinds)
				}
			}
		} else {
			evs, err := results.ReadPowerEvents(f)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(evs) < 3 {
				t.Errorf("power log has %d events, want off, wait, on and safe", len(evs))
			}
		}
	}
	// And the report verifies the archive as bench verify does, and reads
	// the files without a notice.
	src, err := report.Load(dir, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !src.Verification.OK() || !src.Runs[0].Stated() {
		t.Errorf("report: archive not verified: %v", src.Verification.Problems)
	}
	for _, ev := range src.Runs[0].Evidence() {
		if len(ev.Notices) > 0 {
			t.Errorf("report notices on %s: %v", ev.Path, ev.Notices)
		}
	}
}

// TestEvidenceLinesHaveOneDefinition holds the drivers' evidence lines and
// results' readers of them to one format (results/formats.md): every field
// a driver writes, filled in, decodes strictly into results' type and back
// to the same JSON. A field added on one side only fails here.
func TestEvidenceLinesHaveOneDefinition(t *testing.T) {
	strict := func(t *testing.T, line []byte, into any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 123456789, time.UTC)
	ev := power.Event{Mono: 2 * time.Second, Wall: now, Switch: `fixture "cam-1"`, Action: power.ActionOff,
		Start: time.Second, StartWall: now.Add(-time.Second), Level: "High", Detail: "d", Output: "o",
		State: power.StateOff, StatusOutput: "off\n", Err: "e"}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var pe results.PowerEvent
	strict(t, b, &pe)
	if pe.StartMonoNs == nil || *pe.StartMonoNs != int64(time.Second) || pe.State != "off" || pe.StatusOutput != "off\n" || !pe.StartWall.Equal(now.Add(-time.Second)) || pe.Error != "e" {
		t.Fatalf("power event read back as %+v", pe)
	}
	rec := console.Record{MonoNS: 5, Wall: now.Format(time.RFC3339Nano), Dir: "event", Text: "t", B64: "AAE=", Event: console.EventMark, Detail: "d", Redacted: true}
	b, err = json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var tl results.TranscriptLine
	strict(t, b, &tl)
	if tl.MonoNs != 5 || tl.Event != "mark" || string(tl.B64) != "\x00\x01" || tl.Detail != "d" || !tl.Redacted {
		t.Fatalf("transcript line read back as %+v", tl)
	}
}
