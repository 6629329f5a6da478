package results

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// sampleRecord is a complete, valid record as a run on a camera would make it.
func sampleRecord() *Record {
	t0 := time.Date(2026, 11, 24, 23, 50, 0, 0, time.UTC)
	return &Record{
		SchemaVersion: SchemaVersion,
		RunID:         "20261124T235000Z-cam-1-0a1b2c",
		Bench:         Bench{Name: "lab-bench-1", Host: "pi-7", Software: "v0.1.0"},
		Fixture:       Fixture{Name: "cam-1", Profile: "acme-cam"},
		Device: Device{Model: "ACME Cam 2", Serial: "AC2-000123",
			Firmware: Firmware{Version: "2.1.0", SHA256: strings.Repeat("ab", 32)}},
		Declarations: Declarations{Name: "acme-cam.yaml", SHA256: strings.Repeat("cd", 32)},
		Started:      t0,
		Finished:     t0.Add(90 * time.Second),
		Clock:        Clock{Synchronized: true, Source: "adjtimex"},
		Verdict:      Fail,
		Cases: []Case{
			{
				ID: "default-credentials/uart-login", Suite: "default-credentials",
				Title: "No default password on the UART login",
				References: References{EN303645: []string{"5.1-1"}, TS103701: []string{"5.1-1-2a", "5.1-1-2c"},
					PSTI: []string{"1(2)"}, EN18031: []string{"AUM-5-1"}, CRA: []string{"I(2)(b)", "I(2)(d)"}},
				Verdict: Fail, Reason: `login "root"/"xc3511" accepted on the UART`,
				Evidence: []EvidenceRef{{Path: "evidence/console-cam-1.jsonl", FromNs: 1_000_000, ToNs: 9_000_000}},
				Timing:   Timing{Started: t0, Finished: t0.Add(10 * time.Second), StartMonoNs: 1_000_000, DurationNs: 10e9},
			},
			{
				ID: "uart-shell/auth", Suite: "uart-shell", Title: "UART shell requires authentication",
				References: References{EN303645: []string{"5.6-4A"}, TS103701: []string{"5.6-4-2"}, EN18031: []string{"GEC-5"}, CRA: []string{"I(2)(j)"}},
				Verdict:    NotApplicable, Reason: "declarations: no UART exposed on the product",
			},
		},
		Images: []Image{{Name: "cam-fw-2.1.0.img", Role: "installed", Version: "2.1.0", SHA256: strings.Repeat("ab", 32), Size: 4096}},
		Evidence: []File{
			{Path: "evidence/console-cam-1.jsonl", Kind: KindTranscript, Size: 120, SHA256: strings.Repeat("01", 32)},
			{Path: "evidence/power-cam-1.jsonl", Kind: KindPower, Size: 80, SHA256: strings.Repeat("02", 32)},
		},
	}
}

func TestRunVerdict(t *testing.T) {
	cs := func(vs ...Verdict) []Case {
		var out []Case
		for _, v := range vs {
			out = append(out, Case{Verdict: v})
		}
		return out
	}
	for _, tc := range []struct {
		cases []Case
		want  Verdict
		exit  int
	}{
		{cs(Pass, Pass), Pass, 0},
		{cs(Pass, NotApplicable), Pass, 0},
		{cs(NotApplicable, NotApplicable), NotApplicable, 0},
		{nil, NotRun, 3},
		{cs(Pass, Fail, Error, NotRun, Inconclusive), Fail, 1},
		{cs(Pass, Inconclusive, NotRun, Error), Error, 3},
		{cs(Inconclusive, NotRun, Pass), NotRun, 3},
		{cs(Pass, Inconclusive, NotApplicable), Inconclusive, 3},
		{cs(Pass, "MAYBE"), Pass, 0}, // Validate refuses the unknown verdict
		{cs("MAYBE"), Error, 3},
	} {
		got := RunVerdict(tc.cases)
		if got != tc.want {
			t.Errorf("RunVerdict(%v) = %s, want %s", tc.cases, got, tc.want)
		}
		if e := ExitCode(got); e != tc.exit {
			t.Errorf("ExitCode(%s) = %d, want %d", got, e, tc.exit)
		}
	}
	if ExitCode("") != 3 {
		t.Error("ExitCode of an empty verdict must not be success")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := sampleRecord()
	if err := r.Validate(); err != nil {
		t.Fatalf("sample record invalid: %v", err)
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRecord(b)
	if err != nil {
		t.Fatalf("ParseRecord: %v", err)
	}
	b2, _ := got.Marshal()
	if string(b) != string(b2) {
		t.Fatalf("round trip changed the record:\n%s\n----\n%s", b, b2)
	}
}

func TestParseRecordRefuses(t *testing.T) {
	good, _ := sampleRecord().Marshal()
	for name, tc := range map[string]struct {
		json string
		want string
	}{
		"unknown verdict": {strings.Replace(string(good), `"verdict": "NOT_APPLICABLE"`, `"verdict": "SKIPPED"`, 1), `verdict "SKIPPED"`},
		"newer schema":    {strings.Replace(string(good), `"schema_version": 1`, `"schema_version": 2`, 1), "schema_version 2"},
		"unknown field":   {strings.Replace(string(good), `"run_id"`, `"colour": "red", "run_id"`, 1), `unknown field "colour"`},
		"wrong run verdict": {strings.Replace(string(good), `"verdict": "FAIL",
  "cases"`, `"verdict": "PASS",
  "cases"`, 1), "cases make it FAIL"},
		"bad provision": {strings.Replace(string(good), `"5.1-1"`, `"5.1.1"`, 1), `"5.1.1"`},
		"unlisted evidence": {strings.Replace(string(good), `"path": "evidence/console-cam-1.jsonl"`, `"path": "evidence/other.jsonl"`, 1), // the case's, which comes first
			"evidence/other.jsonl is not in the record's evidence list"},
		"truncated": {string(good[:len(good)/2]), "not JSON"},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.json == string(good) {
				t.Fatal("test did not change the record")
			}
			_, err := ParseRecord([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("err does not wrap ErrInvalidRecord: %v", err)
			}
		})
	}
}
