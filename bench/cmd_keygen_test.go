package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A --key ending in .pub names where the public half goes: keygen refuses it
// with a message that says so, and writes nothing.
func TestKeygenRefusesPublicKeyPath(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"bench.pub", "BENCH.PUB"} {
		code, out, errs := runBin(t, nil, "keygen", "--key", filepath.Join(dir, name))
		if code != exitUsage {
			t.Errorf("keygen --key %s: exit %d, want %d\n%s%s", name, code, exitUsage, out, errs)
		}
		if strings.Contains(errs, "already exists") || !strings.Contains(errs, "public key") || !strings.Contains(errs, ".key") {
			t.Errorf("keygen --key %s: message does not say the path is the public key's and what to give instead: %s", name, errs)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("keygen wrote %d file(s) after refusing", len(ents))
	}
}
