package report

import (
	"crypto"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certbench/certbench/results"
)

// The hostile things a device prints on its console in the test archive.
const (
	hostileScript = `<script>alert("pwned")</script>]]><!--` // ]]> would end a CDATA section
	hostileModel  = `Evil<img src=x onerror=alert(1)> Cam`
)

var (
	keyOnce sync.Once
	testKey crypto.Signer
)

func key(t testing.TB) crypto.Signer {
	keyOnce.Do(func() {
		k, err := results.GenerateKey(results.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		testKey = k
	})
	return testKey
}

// lab is a test archive: what a bench writes after three runs on three
// fixtures and a crash during a fourth.
type lab struct {
	dir                        string
	failRun, passRun, crashRun string
	failRunDir, passRunDir     string
	crashRunDir                string
	failCases                  []results.Case
}

func jsonl(t testing.TB, vs ...any) []byte {
	t.Helper()
	var b []byte
	for _, v := range vs {
		line, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, line...), '\n')
	}
	return b
}

const ms = int64(time.Millisecond)

// newLab writes the test archive into a fresh temporary folder.
func newLab(t testing.TB) *lab {
	t.Helper()
	return newLabIn(t, t.TempDir())
}

func newLabIn(t testing.TB, parent string) *lab {
	t.Helper()
	l := &lab{dir: filepath.Join(parent, "archive")}
	a, err := results.OpenArchive(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	l.failRunDir, l.failCases = writeFailRun(t, a)
	l.failRun = filepath.Base(l.failRunDir)
	l.passRunDir = writePassRun(t, a)
	l.passRun = filepath.Base(l.passRunDir)

	// A crash: the run began and wrote evidence, then the bench died.
	run, err := a.Begin(results.Meta{Bench: "lab-bench-1", Fixture: "cam-3"})
	if err != nil {
		t.Fatal(err)
	}
	ep := run.Epoch().UTC()
	if err := run.AddEvidence("power-cam-3.jsonl", results.KindPower, jsonl(t,
		results.PowerEvent{MonoNs: 1 * ms, Wall: ep, Switch: "GPIO22", Action: "on", Level: "Low"})); err != nil {
		t.Fatal(err)
	}
	con, err := run.Evidence("console-cam-3.jsonl", results.KindTranscript)
	if err != nil {
		t.Fatal(err)
	}
	con.Write(jsonl(t, results.TranscriptLine{MonoNs: 5 * ms, Wall: ep, Dir: "rx", Text: "U-Boot 2024.01\r\n"}))
	con.Write([]byte(`{"mono_ns":9000000,"wall":"` + ep.Format(time.RFC3339Nano) + `","dir":"rx","te`)) // cut off by the crash
	con.Close()
	l.crashRunDir = run.Dir()
	l.crashRun = run.ID()
	return l
}

// writeFailRun records a run on cam-1 with one case of every verdict and a
// console full of hostile output.
func writeFailRun(t testing.TB, a *results.Archive) (string, []results.Case) {
	t.Helper()
	run, err := a.Begin(results.Meta{Bench: "lab-bench-1", Fixture: "cam-1"})
	if err != nil {
		t.Fatal(err)
	}
	ep := run.Epoch().UTC()
	at := func(ns int64) time.Time { return ep.Add(time.Duration(ns)) }
	tr := func(ns int64, dir, text string) results.TranscriptLine {
		return results.TranscriptLine{MonoNs: ns, Wall: at(ns), Dir: dir, Text: text}
	}
	lines := []any{
		results.TranscriptLine{MonoNs: 1 * ms, Wall: at(1 * ms), Dir: "event", Event: "open", Detail: "/dev/ttyUSB0 115200"},
		tr(150*ms, "rx", "U-Boot 2024.01 (Jan 08 2024)\r\nHit any key to stop autoboot:  1 "),
		tr(1150*ms, "rx", "\r\nStarting kernel ...\r\n[    0.000000] Linux version 5.15.0\r\n"),
		tr(2200*ms, "rx", "ACME Cam 2 firmware 2.1.0 serial AC2-000123\r\n"),
		tr(2300*ms, "rx", hostileScript+"\r\n"),
		tr(2400*ms, "rx", "\x1b[31mred\x1b[0m \u202eevil\u202c\r\n"),
		results.TranscriptLine{MonoNs: 2500 * ms, Wall: at(2500 * ms), Dir: "rx", B64: []byte{'b', 'a', 'd', ' ', 0xff, 0xfe, '\r', '\n'}},
		tr(3000*ms, "rx", "cam login: "),
		tr(3100*ms, "tx", "root\r"),
		tr(3150*ms, "rx", "root\r\nPassword: "),
		tr(3200*ms, "tx", "xc3511\r"),
		tr(3400*ms, "rx", "\r\nBusyBox v1.36.1 built-in shell (ash)\r\n# "),
		results.TranscriptLine{MonoNs: 5000 * ms, Wall: at(5000 * ms), Dir: "event", Event: "lost", Detail: "read /dev/ttyUSB0: input/output error"},
		results.TranscriptLine{MonoNs: 6500 * ms, Wall: at(6500 * ms), Dir: "event", Event: "reopen", Detail: "after 1.5s"},
		tr(7000*ms, "rx", "U-Boot 2024.01 (Jan 08 2024)\r\n"),
		tr(8000*ms, "rx", "cam login: "),
	}
	if err := run.AddEvidence("console-cam-1.jsonl", results.KindTranscript, jsonl(t, lines...)); err != nil {
		t.Fatal(err)
	}
	pw := func(ns int64, action, level, errText string) results.PowerEvent {
		return results.PowerEvent{MonoNs: ns, Wall: at(ns), Switch: "GPIO17", Action: action, Level: level, Error: errText}
	}
	if err := run.AddEvidence("power-cam-1.jsonl", results.KindPower, jsonl(t,
		pw(100*ms, "on", "Low", ""),
		pw(4800*ms, "off", "High", ""),
		pw(4800*ms, "wait", "", ""),
		pw(6300*ms, "on", "Low", ""),
		pw(9000*ms, "safe", "High", ""),
	)); err != nil {
		t.Fatal(err)
	}
	if err := run.AddEvidence("http-admin.jsonl", results.KindNetwork, []byte(`{"mono_ns":8500000000,"request":"GET /admin","status":200}`+"\n")); err != nil {
		t.Fatal(err)
	}
	timing := func(from, to int64) results.Timing {
		return results.Timing{Started: at(from), Finished: at(to), StartMonoNs: from, DurationNs: to - from}
	}
	cases := []results.Case{{
		ID: "update/tampered", Suite: "update", Title: "Tampered image refused",
		References: results.References{EN303645: []string{"5.3-2", "5.3-9"}, TS103701: []string{"5.3-2-2"}, EN18031: []string{"SUM-2"}, CRA: []string{"I(2)(c)", "I(2)(f)"}},
		Verdict:    results.Pass, Timing: timing(8000*ms, 8400*ms),
	}, {
		ID: "default-credentials/uart-login", Suite: "default-credentials", Title: "No default password on the UART login",
		References: results.References{EN303645: []string{"5.1-1"}, TS103701: []string{"5.1-1-2a", "5.1-1-2c"},
			PSTI: []string{"1(2)"}, EN18031: []string{"AUM-5-1"}, CRA: []string{"I(2)(b)", "I(2)(d)"}},
		Verdict: results.Fail, Reason: `login "root"/"xc3511" accepted on the UART ` + hostileScript,
		Evidence: []results.EvidenceRef{{Path: "evidence/console-cam-1.jsonl", FromNs: 2900 * ms, ToNs: 3500 * ms, Note: "the login"}},
		Timing:   timing(2900*ms, 3500*ms),
	}, {
		ID: "resilience/power-loss", Suite: "resilience", Title: "Recovers cleanly from power loss",
		References: results.References{EN303645: []string{"5.9-2"}, TS103701: []string{"5.9-2-2"}, CRA: []string{"I(2)(h)"}},
		Verdict:    results.Error, Reason: "console lost: read /dev/ttyUSB0: input/output error",
		Timing: timing(4500*ms, 6600*ms),
	}, {
		ID: "update/rollback", Suite: "update", Title: "Older signed image refused",
		References: results.References{EN303645: []string{"5.3-2"}, TS103701: []string{"5.3-2-2"}, EN18031: []string{"SUM-2"}},
		Verdict:    results.Inconclusive, Reason: "no older signed image was supplied",
		Timing: timing(8400*ms, 8500*ms),
	}, {
		ID: "uart-shell/auth", Suite: "uart-shell", Title: "UART shell requires authentication",
		References: results.References{EN303645: []string{"5.6-4A"}, TS103701: []string{"5.6-4-2"}, EN18031: []string{"GEC-5"}, CRA: []string{"I(2)(j)"}},
		Verdict:    results.NotApplicable, Reason: "declarations: no UART exposed on the product",
	}, {
		ID: "config/http-admin", Suite: "config", Title: "Admin page requires authentication",
		References: results.References{EN303645: []string{"5.5-5"}, TS103701: []string{"5.5-5-2"}, CRA: []string{"I(2)(d)"}},
		Verdict:    results.NotRun, Reason: "run cancelled",
		Evidence: []results.EvidenceRef{{Path: "evidence/http-admin.jsonl"}},
	}}
	rec := &results.Record{
		Bench:        results.Bench{Host: "pi-7", Software: "test"},
		Fixture:      results.Fixture{Name: "cam-1", Profile: "acme-cam"},
		Device:       results.Device{Model: "ACME Cam 2", Serial: "AC2-000123", Firmware: results.Firmware{Version: "2.1.0", SHA256: strings.Repeat("ab", 32)}},
		Declarations: results.Declarations{Name: "acme-cam.yaml", SHA256: strings.Repeat("cd", 32)},
		Cases:        cases,
		Started:      ep,
		Finished:     ep.Add(9 * time.Second),
	}
	if err := run.Seal(rec, key(t)); err != nil {
		t.Fatal(err)
	}
	return run.Dir(), rec.Cases
}

// writePassRun records a passing run on cam-2 of a device whose model name is
// hostile, whose case names no evidence (the excerpt is the last lines before
// the verdict).
func writePassRun(t testing.TB, a *results.Archive) string {
	t.Helper()
	run, err := a.Begin(results.Meta{Bench: "lab-bench-1", Fixture: "cam-2"})
	if err != nil {
		t.Fatal(err)
	}
	ep := run.Epoch().UTC()
	var lines []any
	for i := range 30 {
		lines = append(lines, results.TranscriptLine{MonoNs: int64(i) * 100 * ms, Wall: ep, Dir: "rx", Text: "boot line " + string(rune('A'+i)) + "\r\n"})
	}
	if err := run.AddEvidence("console-cam-2.jsonl", results.KindTranscript, jsonl(t, lines...)); err != nil {
		t.Fatal(err)
	}
	rec := &results.Record{
		Device:       results.Device{Model: hostileModel, Serial: "E-1", Firmware: results.Firmware{Version: "1.0.0"}},
		Declarations: results.Declarations{SHA256: strings.Repeat("ef", 32)},
		Cases: []results.Case{{
			ID: "default-credentials/uart-login", Suite: "default-credentials", Title: "No default password on the UART login",
			References: results.References{EN303645: []string{"5.1-1"}, TS103701: []string{"5.1-1-2a"}, PSTI: []string{"1(2)"}},
			Verdict:    results.Pass,
			Timing:     results.Timing{StartMonoNs: 1000 * ms, DurationNs: 1500 * ms},
		}},
	}
	if err := run.Seal(rec, key(t)); err != nil {
		t.Fatal(err)
	}
	return run.Dir()
}

// sharedLab is one lab for tests that only read it (sealing syncs to disk,
// which is slow on a busy machine); tests that change files make their own.
var (
	sharedOnce sync.Once
	sharedDir  string
	shared     *lab
)

func readOnlyLab(t *testing.T) *lab {
	t.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "report-lab-")
		if err != nil {
			t.Fatal(err)
		}
		sharedDir = dir
		shared = newLabIn(t, dir)
	})
	if shared == nil {
		t.Fatal("the shared test archive could not be made")
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}
