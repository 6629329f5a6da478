package reset

import (
	"regexp"
	"testing"
)

// TestCanariesAreFreshAndDistinct: two runs never seed the same value, and
// within one run no value contains another (a leftover of one could
// otherwise be read as another's).
func TestCanariesAreFreshAndDistinct(t *testing.T) {
	a, err := newCanaries()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newCanaries()
	if err != nil {
		t.Fatal(err)
	}
	word := regexp.MustCompile(`^[a-z]{3}-[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for _, cs := range []canaries{a, b} {
		if len(cs) != len(seedParams) {
			t.Fatalf("%d canaries, want one per parameter (%d)", len(cs), len(seedParams))
		}
		for _, c := range cs {
			if !word.MatchString(c.Value) {
				t.Errorf("%s = %q: want a single word PREFIX-HEX", c.Param, c.Value)
			}
			if seen[c.Value] {
				t.Errorf("%s = %q seeded twice", c.Param, c.Value)
			}
			seen[c.Value] = true
		}
	}
	if got := a.args(); len(got) != len(seedParams) || got["ssid"] != a.get("ssid") {
		t.Errorf("args %v", got)
	}
}

// TestVisibleNamesTheKindsShown: a kind counts as visible when one of its
// canaries shows in some command's output, and where names the commands.
func TestVisibleNamesTheKindsShown(t *testing.T) {
	cs, err := newCanaries()
	if err != nil {
		t.Fatal(err)
	}
	o := outputs{"wifi": "ssid: " + cs.get("ssid") + "\npsk: set (20 characters)\n", "log": "x " + cs.get("log") + "\n", "data": "data/accounts\n"}
	v := cs.visible(o)
	if !v["wifi"] || !v["logs"] || v["pairing"] || v["accounts"] || v["user_files"] {
		t.Errorf("visible = %v, want wifi and logs only", v)
	}
	if w := o.where(cs.get("log")); len(w) != 1 || w[0] != "log" {
		t.Errorf("where(log) = %v", w)
	}
}
