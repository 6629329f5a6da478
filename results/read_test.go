package results

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadEvidenceWrittenByARun(t *testing.T) {
	a := testArchive(t)
	run := writeRun(t, a, testKey(t, ECDSAP256), "cam-1")
	rec, err := LoadRecord(run.Dir())
	if err != nil {
		t.Fatal(err)
	}
	ids, err := a.Runs()
	if err != nil || len(ids) != 1 || ids[0] != rec.RunID {
		t.Fatalf("Runs() = %v, %v", ids, err)
	}
	f, _ := os.Open(filepath.Join(run.Dir(), "evidence/console-cam-1.jsonl"))
	defer f.Close()
	lines, err := ReadTranscript(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 || lines[1].Text != "login: " || lines[2].Dir != "tx" || string(lines[3].B64) != "\xff\xfe" {
		t.Fatalf("transcript: %+v", lines)
	}
	p, _ := os.Open(filepath.Join(run.Dir(), "evidence/power-cam-1.jsonl"))
	defer p.Close()
	evs, err := ReadPowerEvents(p)
	if err != nil || len(evs) != 1 || evs[0].Switch != "GPIO17" || evs[0].Level != "Low" {
		t.Fatalf("power: %+v %v", evs, err)
	}
}

func TestReadEvidenceRefusesBadLines(t *testing.T) {
	const wall = `"wall":"2026-11-24T23:50:01.123456789Z"`
	for name, tc := range map[string]struct {
		power bool
		text  string
		want  string
	}{
		"both text and b64":  {false, `{"mono_ns":1,` + wall + `,"dir":"rx","text":"a","b64":"YQ=="}` + "\n", "line 1: dir \"rx\" needs exactly one"},
		"neither":            {false, `{"mono_ns":1,` + wall + `,"dir":"tx"}` + "\n", "exactly one"},
		"bad dir":            {false, `{"mono_ns":1,` + wall + `,"dir":"rx","text":"a"}` + "\n" + `{"mono_ns":1,` + wall + `,"dir":"up","text":"a"}` + "\n", "line 2: dir \"up\""},
		"bad event":          {false, `{"mono_ns":1,` + wall + `,"dir":"event","event":"boom"}` + "\n", `event "boom"`},
		"torn last line":     {false, `{"mono_ns":1,` + wall + `,"dir":"rx","te`, "line 1 is cut off"},
		"redacted rx":        {false, `{"mono_ns":1,` + wall + `,"dir":"rx","redacted":true}` + "\n", `"redacted" is only on a tx line`},
		"redacted with text": {false, `{"mono_ns":1,` + wall + `,"dir":"tx","text":"pw","redacted":true}` + "\n", `neither "text" nor "b64"`},
		"redacted event":     {false, `{"mono_ns":1,` + wall + `,"dir":"event","event":"note","redacted":true}` + "\n", `only on a tx line`},
		"bad action":         {true, `{"mono_ns":1,` + wall + `,"switch":"GPIO17","action":"explode"}` + "\n", `action "explode"`},
		"bad level":          {true, `{"mono_ns":1,` + wall + `,"switch":"GPIO17","action":"on","level":"1"}` + "\n", `level "1"`},
		"no wall":            {true, `{"mono_ns":1,"switch":"GPIO17","action":"on"}` + "\n", `no "wall"`},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			if tc.power {
				_, err = ReadPowerEvents(strings.NewReader(tc.text))
			} else {
				_, err = ReadTranscript(strings.NewReader(tc.text))
			}
			if !errors.Is(err, ErrEvidenceFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// A secret sent through the console is a tx line with neither text nor b64,
// marked redacted (formats.md); the reader takes it.
func TestReadTranscriptTakesARedactedLine(t *testing.T) {
	const wall = `"wall":"2026-11-24T23:50:01.123456789Z"`
	lines, err := ReadTranscript(strings.NewReader(`{"mono_ns":1,` + wall + `,"dir":"tx","detail":"secret: 9 bytes","redacted":true}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !lines[0].Redacted || lines[0].Detail != "secret: 9 bytes" {
		t.Fatalf("read %+v", lines)
	}
}
