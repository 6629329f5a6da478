package network

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// evidence is a Recorder's output, read back.
type evidence struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (e *evidence) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.buf.Write(p)
}

func (e *evidence) records(t *testing.T) []Record {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(e.buf.Bytes()))
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("evidence line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func (e *evidence) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.buf.String()
}

// noSecret fails if secret appears anywhere in the evidence, and checks
// that a redaction is marked.
func (e *evidence) noSecret(t *testing.T, secret string) {
	t.Helper()
	if strings.Contains(e.String(), secret) {
		t.Errorf("the evidence holds the password %q:\n%s", secret, e.String())
	}
	marked := false
	for _, r := range e.records(t) {
		if r.Redacted && strings.Contains(r.Text, Redacted) {
			marked = true
		}
	}
	if !marked {
		t.Errorf("no record marks a redaction:\n%s", e.String())
	}
}

var shellPrompts = Prompts{
	Login:    regexp.MustCompile(`login: $`),
	Password: regexp.MustCompile(`Password: $`),
	Shell:    regexp.MustCompile(`[#$] $`),
	Failed:   regexp.MustCompile(`Login incorrect`),
	Lockout:  regexp.MustCompile(`(?i)locked|too many`),
}
