package console_test

import (
	"strings"
	"testing"

	"github.com/certbench/certbench/drivers/console"
)

// Patterns that need a byte the engine removes could never match: they
// are rejected, saying what to write instead.
func TestPatternsNeedingRemovedBytesAreRejected(t *testing.T) {
	for _, expr := range []string{`\x1b\[6n`, `[\x1b]\[0m`, `a\x00b`, `\x{1b}\[1m`} {
		if _, err := console.Regexp(expr); err == nil || !strings.Contains(err.Error(), "removes before matching") || !strings.Contains(err.Error(), "match only the text") {
			t.Errorf("%s: want a rejection saying what to write, got %v", expr, err)
		}
	}
	for _, ok := range []string{`[\x00-\x1f]`, `[^\x1b]+x`, `\x{FFFD}`} {
		if _, err := console.Regexp(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := console.CheckLiteral("\x1b[6n"); err == nil || !strings.Contains(err.Error(), "ESC") {
		t.Errorf("literal with ESC: %v", err)
	}
	if err := console.CheckLiteral("login: "); err != nil {
		t.Error(err)
	}
}

// U+FFFD in a pattern catches what a wrong baud rate prints: bytes that
// are not UTF-8 (which the prefilter once looked for as EF BF BD).
func TestReplacementCharacterMatchesInvalidBytes(t *testing.T) {
	l := openPTY(t, console.Config{})
	l.far().WriteBytes([]byte("boot \xfe\xff\x80 ok\r\n"))
	m, err := l.c.Expect(ctx, guard, console.MustRegexp(`boot \x{FFFD}{3}`))
	if err != nil || m.Text != "boot \xfe\xff\x80" {
		t.Fatalf("regexp: %+v, %v", m, err)
	}
	l.far().WriteBytes([]byte("again \xc0\r\n"))
	if m, err := l.c.Expect(ctx, guard, console.Literal("again \uFFFD")); err != nil || m.Text != "again \xc0" {
		t.Fatalf("literal: %+v, %v", m, err)
	}
}
