// Package suites lists the certification suites the bench runs. Each suite
// is a package of its own (suites/NAME) holding its cases; suites/suite is
// their contract with the runner.
package suites

import (
	"fmt"
	"strings"

	"github.com/certbench/certbench/suites/debug"
	"github.com/certbench/certbench/suites/reset"
	"github.com/certbench/certbench/suites/suite"
)

// All returns every suite, in the order `bench run` runs them.
func All() []*suite.Suite {
	return []*suite.Suite{debug.Suite, reset.Suite}
}

// Select returns the suites called names, in All's order; no names: all.
func Select(names []string) ([]*suite.Suite, error) {
	all := All()
	if len(names) == 0 {
		return all, nil
	}
	var out []*suite.Suite
	for _, st := range all {
		for _, n := range names {
			if st.Name == n {
				out = append(out, st)
				break
			}
		}
	}
	for _, n := range names {
		found := false
		for _, st := range all {
			found = found || st.Name == n
		}
		if !found {
			var have []string
			for _, st := range all {
				have = append(have, st.Name)
			}
			return nil, fmt.Errorf("no suite %q: the suites are %s", n, strings.Join(have, ", "))
		}
	}
	return out, nil
}
