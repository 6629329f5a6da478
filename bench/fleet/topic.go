package fleet

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// DefaultPrefix is the first topic level of every fleet topic.
const DefaultPrefix = "certbench"

// Topics are one bench's topics under a prefix (fleet.md, "Topics").
type Topics struct {
	Prefix, Bench string
}

func (t Topics) base() string       { return t.Prefix + "/" + t.Bench + "/" }
func (t Topics) Status() string     { return t.base() + "status" }     // retained Status; the agent's will
func (t Topics) Job() string        { return t.base() + "job" }        // signed jobs, controller → bench
func (t Topics) Event() string      { return t.base() + "event" }      // Event, bench → controllers
func (t Topics) Record() string     { return t.base() + "record" }     // Delivery, bench → controllers
func (t Topics) Evidence() string   { return t.base() + "evidence" }   // Chunk, bench → controllers
func (t Topics) Checkpoint() string { return t.base() + "checkpoint" } // retained CheckpointMessage

// AllStatus is the filter of every bench's status under prefix.
func AllStatus(prefix string) string { return prefix + "/+/status" }

// checkPrefix refuses a prefix that is not plain topic levels.
func checkPrefix(p string) error {
	if p == "" || strings.ContainsAny(p, "#+\x00") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.HasPrefix(p, "$") {
		return fmt.Errorf("topic prefix %q: write plain topic levels such as certbench or lab/bench (no +, #, leading $ or /)", p)
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Schemas of the fleet messages (schema/*.schema.json, JSON Schema 2020-12).
const (
	SchemaJob        = "job"
	SchemaStatus     = "status"
	SchemaEvent      = "event"
	SchemaDelivery   = "delivery"
	SchemaChunk      = "chunk"
	SchemaCheckpoint = "checkpoint"
)

//go:embed schema/*.schema.json
var schemaFS embed.FS

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema
	schemasErr  error
)

// Schema returns the JSON Schema document of a message kind.
func Schema(kind string) ([]byte, error) {
	return schemaFS.ReadFile("schema/" + kind + ".schema.json")
}

// Validate checks a message against its schema.
func Validate(kind string, msg []byte) error {
	schemasOnce.Do(func() {
		c := jsonschema.NewCompiler()
		schemas = map[string]*jsonschema.Schema{}
		for _, k := range []string{SchemaJob, SchemaStatus, SchemaEvent, SchemaDelivery, SchemaChunk, SchemaCheckpoint} {
			b, err := Schema(k)
			if err != nil {
				schemasErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				schemasErr = fmt.Errorf("schema %s: %w", k, err)
				return
			}
			url := "https://github.com/certbench/certbench/bench/fleet/schema/" + k + ".schema.json"
			if err := c.AddResource(url, doc); err != nil {
				schemasErr = err
				return
			}
			s, err := c.Compile(url)
			if err != nil {
				schemasErr = fmt.Errorf("schema %s: %w", k, err)
				return
			}
			schemas[k] = s
		}
	})
	if schemasErr != nil {
		return schemasErr
	}
	s, ok := schemas[kind]
	if !ok {
		return fmt.Errorf("no schema %q", kind)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg))
	if err != nil {
		return fmt.Errorf("%s message is not JSON: %w", kind, err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%s message does not follow %s.schema.json: %v", kind, kind, oneLine(err))
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// marshal is json.Marshal for messages, which always marshal.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
