package runner

import (
	"strings"
	"testing"

	"github.com/certbench/certbench/fixtures"
)

// Pattern hands on the pattern compiled when the profile loaded; one that
// waits for a variable's value is never compiled with ${name} in it as
// regular-expression text (it would wait for text no device prints).
func TestPatternIsTheOneCompiledAtLoad(t *testing.T) {
	p, err := fixtures.ParseProfile("x.yaml", []byte(`model: M
prompts: {shell: '# $'}
procedures:
  p:
    params: [c]
    steps: [{expect: 'got ${c}'}]
`))
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.Prompts.Shell.Console()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Pattern(p.Prompts.Shell)
	if err != nil || got.String() != want.String() {
		t.Fatalf("Pattern(shell) = %v, %v; want %v", got, err, want)
	}
	if _, err := Pattern(p.Procedures["p"].Steps[0].Patterns[0]); err == nil || !strings.Contains(err.Error(), "${c}") {
		t.Fatalf("a pattern with a variable: %v", err)
	}
}
