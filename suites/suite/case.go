package suite

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/results"
)

// Case is one certification test case. Its fields are set once, in the
// suite's source, and never changed while cases run.
type Case struct {
	// ID is the case's name within its suite: lower-case words joined by
	// '-', e.g. "uart-shell-needs-auth". The record's case id is
	// "SUITE/ID".
	ID    string
	Title string
	// References are the requirement IDs the case checks.
	References results.References
	// Needs is what the fixture must have for the case to run at all.
	Needs Needs
	// Start is the device state the runner brings the device to before the
	// body runs.
	Start State
	// Applies decides from the declarations whether the provision applies.
	// It returns false with the reason (the declared justification, or which
	// declaration rules it out) for NOT_APPLICABLE. Nil: always applies.
	Applies func(*fixtures.Declarations) (ok bool, reason string)
	// Body tests the device. See the package doc for how it ends.
	Body func(ctx context.Context, s *Session) error
}

// Needs lists what a case cannot run without. A fixture that lacks one gets
// INCONCLUSIVE naming it: the device may be fine, the bench cannot tell.
type Needs struct {
	Button     bool     // a reset-button line is wired
	Services   []string // network services the fixture lists (telnet, http, ...)
	Procedures []string // profile procedures the body calls
	Images     []string // firmware image roles the run must be given
}

// State is where a device is when a case starts, as a strategy in the
// spirit of labgrid's reaches it: from off, through booted, to a shell.
type State string

// States, in the order a power-on passes them.
const (
	// Off: unpowered. A case that starts here switches power on itself,
	// to watch the whole boot.
	Off State = "off"
	// Booted: powered, at the login prompt, nobody logged in.
	Booted State = "booted"
	// Shell: logged in through the profile's login procedure.
	Shell State = "shell"
	// Any: the case does not care; the runner leaves the device as it is.
	Any State = "any"
)

// Suite is a group of cases for one concern. Cases run in the order listed.
type Suite struct {
	Name  string // e.g. "default-credentials"
	Title string
	Cases []*Case
}

// FullID is the case's id in a record: "SUITE/ID".
func (s *Suite) FullID(c *Case) string { return s.Name + "/" + c.ID }

var reName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate checks a suite's definition: names, titles, references and bodies.
// It is for the suite's own tests and for the runner at start, so a
// mistyped reference is found before a device is powered, not when a record
// fails to seal. Every problem is returned, joined.
func (s *Suite) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !reName.MatchString(s.Name) {
		bad("suite %q: name must be lower-case words joined by '-'", s.Name)
	}
	if strings.TrimSpace(s.Title) == "" {
		bad("suite %q: title is empty", s.Name)
	}
	if len(s.Cases) == 0 {
		bad("suite %q: no cases", s.Name)
	}
	seen := map[string]bool{}
	for i, c := range s.Cases {
		where := fmt.Sprintf("suite %q case %d %q", s.Name, i, c.ID)
		if !reName.MatchString(c.ID) {
			bad("%s: id must be lower-case words joined by '-'", where)
		}
		if seen[c.ID] {
			bad("%s: id used twice", where)
		}
		seen[c.ID] = true
		if strings.TrimSpace(c.Title) == "" {
			bad("%s: title is empty", where)
		}
		if c.Body == nil {
			bad("%s: no body", where)
		}
		switch c.Start {
		case Off, Booted, Shell, Any:
		default:
			bad("%s: start state %q is not off, booted, shell or any", where, c.Start)
		}
		if err := c.References.Check(); err != nil {
			bad("%s: references: %v", where, err)
		}
	}
	return errors.Join(errs...)
}
