// Package schema holds the JSON Schema of the run record (record.schema.json),
// for tools that check records without this module's Go types.
package schema

import _ "embed"

// Record is the JSON Schema (draft 2020-12) of record.json, schema_version 1.
//
//go:embed record.schema.json
var Record []byte
