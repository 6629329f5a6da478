package suites_test

import (
	"strings"
	"testing"

	"github.com/certbench/certbench/suites"
)

func TestEverySuiteValidates(t *testing.T) {
	seen := map[string]bool{}
	for _, st := range suites.All() {
		if err := st.Validate(); err != nil {
			t.Error(err)
		}
		if seen[st.Name] {
			t.Errorf("suite %q listed twice", st.Name)
		}
		seen[st.Name] = true
	}
}

func TestSelect(t *testing.T) {
	if _, err := suites.Select([]string{"nope"}); err == nil || !strings.Contains(err.Error(), "debug-interfaces") {
		t.Fatalf("unknown suite: %v", err)
	}
	got, err := suites.Select([]string{"debug-interfaces"})
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
}
