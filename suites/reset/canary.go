package reset

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// A canary is a value the bench seeds into the device before a reset and
// looks for afterwards. Each is fresh per run (random), so a leftover of an
// earlier run can neither pass nor fail this one, and long enough that it
// cannot turn up in a device's output by chance.
type canary struct {
	Param string // create-user-data's parameter that takes it
	Kind  string // the declarations' erase category it belongs to
	Value string
}

// canaries is the user data of one deletion function's test.
type canaries []canary

// seedParams are create-user-data's parameters, with the category each
// belongs to (fixtures.EraseCategories). "settings" has none: the profile
// format has no way to say how to change a setting, so no canary is seeded
// for it and the case says so.
var seedParams = []struct{ param, kind, prefix string }{
	{"user", "accounts", "cbu"},
	{"password", "accounts", "cbw"},
	{"ssid", "wifi", "cbs"},
	{"psk", "wifi", "cbk"},
	{"peer", "pairing", "cbp"},
	{"file", "user_files", "cbf"},
	{"text", "user_files", "cbt"},
	{"log", "logs", "cbl"},
}

// newCanaries makes a fresh set: PREFIX-HEX, single words of letters,
// digits and '-' that any shell, account name and file name take.
func newCanaries() (canaries, error) {
	var cs canaries
	for _, p := range seedParams {
		v, err := random(p.prefix)
		if err != nil {
			return nil, err
		}
		cs = append(cs, canary{Param: p.param, Kind: p.kind, Value: v})
	}
	return cs, nil
}

// random is prefix, '-' and 16 hex digits (64 bits) from crypto/rand.
func random(prefix string) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make a canary: %w", err)
	}
	return prefix + "-" + hex.EncodeToString(b), nil
}

// args are create-user-data's arguments.
func (cs canaries) args() map[string]string {
	m := map[string]string{}
	for _, c := range cs {
		m[c.Param] = c.Value
	}
	return m
}

func (cs canaries) get(param string) string {
	for _, c := range cs {
		if c.Param == param {
			return c.Value
		}
	}
	return ""
}

// outputs are the inspection commands' outputs, by command name.
type outputs map[string]string

// where lists the commands whose output shows value, sorted.
func (o outputs) where(value string) []string {
	var in []string
	for name, out := range o {
		if strings.Contains(out, value) {
			in = append(in, name)
		}
	}
	slices.Sort(in)
	return in
}

// visible returns the categories of which some canary shows in o.
func (cs canaries) visible(o outputs) map[string]bool {
	seen := map[string]bool{}
	for _, c := range cs {
		if len(o.where(c.Value)) > 0 {
			seen[c.Kind] = true
		}
	}
	return seen
}
