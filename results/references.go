package results

import (
	"errors"
	"fmt"
	"regexp"
)

// Check reports every reference ID that is not in its document's form (the
// forms Record.Validate enforces), and a missing EN 303 645 provision. Suites
// call it when they are defined, so a mistyped ID is found before a device
// is powered rather than when a record fails to seal.
func (r References) Check() error {
	var errs []error
	if len(r.EN303645) == 0 {
		errs = append(errs, errors.New("no EN 303 645 provision referenced"))
	}
	check := func(doc string, ids []string, re *regexp.Regexp) {
		for _, id := range ids {
			if !re.MatchString(id) {
				errs = append(errs, fmt.Errorf("%s reference %q does not match %s", doc, id, re))
			}
		}
	}
	check("EN 303 645", r.EN303645, reEN303645)
	check("TS 103 701", r.TS103701, reTS103701)
	check("PSTI", r.PSTI, rePSTI)
	check("EN 18031", r.EN18031, reEN18031)
	check("CRA", r.CRA, reCRA)
	return errors.Join(errs...)
}
