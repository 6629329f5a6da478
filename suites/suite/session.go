package suite

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/fixtures/procedure"
	"github.com/certbench/certbench/results"
)

// Console is what a case may do on the device's console. *console.Console
// satisfies it; accept it wherever a case talks to the UART.
type Console interface {
	Send(ctx context.Context, s string) error
	SendLine(ctx context.Context, s string) error
	Expect(ctx context.Context, timeout time.Duration, patterns ...console.Pattern) (*console.Match, error)
	Run(ctx context.Context, command string, timeout time.Duration) (console.Result, error)
	// Note writes a line of the case's own into the transcript, so a reader
	// of the evidence sees what the bench was doing.
	Note(detail string)
}

// Power switches the fixture's power: a GPIO relay or a power command.
type Power interface {
	On(ctx context.Context) error
	Off(ctx context.Context) error
	Cycle(ctx context.Context) error
}

// Button presses the device's reset button through its line.
type Button interface {
	Press(ctx context.Context) error
	Hold(ctx context.Context, d time.Duration) error
}

// Procedures runs the profile's step scripts. *procedure.Runner satisfies
// it.
type Procedures interface {
	Run(ctx context.Context, name string, args map[string]string) (procedure.Result, error)
	Check(name string, args map[string]string) error
	// Timeout is a timeout written for the device (in the profile, the
	// declarations) on the device's clock, as procedures scale it.
	Timeout(d time.Duration) time.Duration
}

// Evidence keeps a file in the run's evidence folder. *results.Run
// satisfies it.
type Evidence interface {
	AddEvidence(name string, kind results.Kind, data []byte) error
}

// Session is what a case's body is given: the fixture's drivers, its
// configuration, and the means to state a verdict. A Session serves one
// case; the runner makes a new one for each. Fail, NotApplicable,
// Inconclusive and failed assertions end the body by unwinding it (as
// testing's FailNow does), so call them from the body's own goroutine.
type Session struct {
	Fixture      *fixtures.Fixture
	Profile      *fixtures.Profile
	Declarations *fixtures.Declarations
	// Label is the unit's sticker as the bench read it (bench file, label
	// file or command).
	Label fixtures.Label

	Console    Console
	Power      Power
	Button     Button // nil when the fixture has no button line
	Procedures Procedures
	Evidence   Evidence
	// Images are the firmware images the run was given, by role
	// ("older-signed", "newer"), as paths.
	Images map[string]string

	g      gomega.Gomega
	checks int
	stated *Statement
	refs   []results.EvidenceRef
}

// stop unwinds a body that stated its verdict, as testing's FailNow does:
// the case ends at the statement, whatever the body would have done next.
type stop struct{}

// Expect is gomega's Expect, counted as a check. A failed assertion ends
// the case with FAIL and gomega's message.
func (s *Session) Expect(actual any, extra ...any) types.Assertion {
	s.checks++
	return s.gomega().Expect(actual, extra...)
}

// Gomega is the session's gomega instance, for Eventually, Consistently and
// matchers that need one. Assertions through it count as checks only via
// Expect; prefer Expect, or call Checked after an Eventually.
func (s *Session) Gomega() gomega.Gomega { return s.gomega() }

func (s *Session) gomega() gomega.Gomega {
	if s.g == nil {
		s.g = gomega.NewGomega(func(message string, _ ...int) {
			s.state(results.Fail, message)
		})
	}
	return s.g
}

// Checked records that the body checked something without gomega (a
// comparison it made itself): what it established, written to the console
// transcript so the evidence shows it.
func (s *Session) Checked(what string) {
	s.checks++
	if s.Console != nil {
		s.Console.Note("checked: " + what)
	}
}

// Fail ends the case with FAIL: an indication that the device differs from
// its declarations or breaks the provision. The reason says which, in words
// a reader of the report understands.
func (s *Session) Fail(format string, a ...any) { s.state(results.Fail, fmt.Sprintf(format, a...)) }

// NotApplicable ends the case with NOT_APPLICABLE and the justification.
func (s *Session) NotApplicable(reason string) { s.state(results.NotApplicable, reason) }

// Inconclusive ends the case with INCONCLUSIVE: the bench could not decide,
// and reason says what was missing.
func (s *Session) Inconclusive(reason string) { s.state(results.Inconclusive, reason) }

// Cite points the case's record at a piece of evidence (a path as listed in
// the record, optionally a window on the monotonic clock).
func (s *Session) Cite(ref results.EvidenceRef) { s.refs = append(s.refs, ref) }

func (s *Session) state(v results.Verdict, reason string) {
	if s.stated == nil { // the first statement stands
		s.stated = &Statement{Verdict: v, Reason: reason}
	}
	panic(stop{})
}
