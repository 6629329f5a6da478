package results

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/certbench/certbench/results/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// checkSchema validates a record's bytes against schema/record.schema.json.
func checkSchema(t testing.TB, record []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Record))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "https://github.com/certbench/certbench/results/schema/record.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(record))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func TestSchemaAcceptsRecord(t *testing.T) {
	b, err := sampleRecord().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSchema(t, b); err != nil {
		t.Fatalf("record does not validate against the schema: %v\n%s", err, b)
	}
}

// Incomplete evidence: accepted under a FAIL, refused under a PASS or
// NOT_APPLICABLE, by the schema and by ParseRecord alike.
func TestSchemaIncompleteEvidence(t *testing.T) {
	rec := sampleRecord()
	rec.Evidence[1].Incomplete, rec.Evidence[1].IncompleteReason = true, "write evidence/power-cam-1.jsonl: no space left on device"
	b, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSchema(t, b); err != nil {
		t.Errorf("schema refused a FAIL record with incomplete evidence: %v", err)
	}
	if _, err := ParseRecord(b); err != nil {
		t.Errorf("ParseRecord refused a FAIL record with incomplete evidence: %v", err)
	}
	for _, v := range []Verdict{Pass, NotApplicable} {
		rec.Cases = []Case{{ID: "a/b", Suite: "a", Title: "t", Verdict: v, Reason: "r", References: References{EN303645: []string{"5.1-1"}}}}
		rec.Verdict = v
		b, _ := rec.Marshal()
		if err := checkSchema(t, b); err == nil {
			t.Errorf("schema accepted a %s record with incomplete evidence", v)
		}
		_, err := ParseRecord(b)
		var ie *IncompleteEvidenceError
		if !errors.As(err, &ie) || !errors.Is(err, ErrInvalidRecord) || len(ie.Files) != 1 || ie.Files[0].Path != "evidence/power-cam-1.jsonl" {
			t.Errorf("ParseRecord of a %s record with incomplete evidence: %v", v, err)
		}
	}
}

// The schema and Validate must refuse the same mistakes.
func TestSchemaRefuses(t *testing.T) {
	good, _ := sampleRecord().Marshal()
	for name, edit := range map[string][2]string{
		"verdict":      {`"verdict": "NOT_APPLICABLE"`, `"verdict": "SKIPPED"`},
		"provision":    {`"5.1-1"`, `"5.1.1"`},
		"version":      {`"schema_version": 1`, `"schema_version": 2`},
		"extra field":  {`"run_id"`, `"colour": "red", "run_id"`},
		"digest":       {strings.Repeat("cd", 32), strings.Repeat("CD", 32)},
		"no reason":    {`"reason": "declarations: no UART exposed on the product"`, `"reason": ""`},
		"evidence dir": {`"path": "evidence/power-cam-1.jsonl"`, `"path": "../power-cam-1.jsonl"`},
		"clock source": {`"source": "adjtimex"`, `"source": "sundial"`},
		"reason without incomplete": {`"sha256": "` + strings.Repeat("02", 32) + `"`,
			`"sha256": "` + strings.Repeat("02", 32) + `", "incomplete_reason": "disk full"`},
		"incomplete without reason": {`"sha256": "` + strings.Repeat("02", 32) + `"`,
			`"sha256": "` + strings.Repeat("02", 32) + `", "incomplete": true`},
	} {
		t.Run(name, func(t *testing.T) {
			bad := strings.Replace(string(good), edit[0], edit[1], 1)
			if bad == string(good) {
				t.Fatalf("edit %q not found", edit[0])
			}
			if err := checkSchema(t, []byte(bad)); err == nil {
				t.Errorf("schema accepted the record with %s changed", name)
			}
			if _, err := ParseRecord([]byte(bad)); err == nil {
				t.Errorf("ParseRecord accepted the record with %s changed", name)
			}
		})
	}
}
