// Package debug holds the debug-interface suite: a UART must not give a
// shell, or a bootloader prompt, to someone who has not authenticated
// (EN 303 645 5.6-4A).
package debug

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onsi/gomega"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites/suite"
)

// Suite is the debug-interface suite.
var Suite = &suite.Suite{
	Name:  "debug-interfaces",
	Title: "Debug interfaces need authentication",
	Cases: []*suite.Case{UARTShell},
}

// UARTShell watches a whole boot on the UART: a shell prompt before any
// login, or a bootloader whose autoboot stops on a key and gives its
// prompt, is FAIL. It is the one case that types into the autoboot window,
// once, with a single key, after the window has opened.
var UARTShell = &suite.Case{
	ID:    "uart-shell-needs-auth",
	Title: "The UART gives no shell or bootloader prompt without authentication",
	References: results.References{
		EN303645: []string{"5.6-4A"},
		TS103701: []string{"5.6-4-2"},
		EN18031:  []string{"GEC-5"},
		CRA:      []string{"I(2)(j)"},
	},
	Start:   suite.Off,
	Applies: applies,
	Body:    uartShell,
}

// applies: the fixture has a UART wired, so the interface is present
// whatever the declarations list; only an ICS entry that justifies 5.6-4A
// as not applicable (no debug interface on the product) takes it out.
func applies(d *fixtures.Declarations) (bool, string) {
	if p, ok := d.Provision("5.6-4A"); ok && p.Support == fixtures.NotApplicable {
		return false, "the declarations state 5.6-4A is not applicable: " + p.Justification
	}
	return true, ""
}

func uartShell(ctx context.Context, s *suite.Session) error {
	p := s.Profile.Prompts
	if p.Login.IsZero() || p.Shell.IsZero() {
		return suite.Config(fmt.Errorf("profile %s: the case needs the login and shell prompts", s.Profile.Path))
	}
	login, shell := mustPattern(p.Login), mustPattern(p.Shell)
	boot := s.Procedures.Timeout(bootTimeout(s.Profile))
	watch := []console.Pattern{login, shell}
	if !p.Autoboot.IsZero() {
		watch = append(watch, mustPattern(p.Autoboot))
	}
	if err := s.Power.On(ctx); err != nil {
		return err
	}
	m, err := s.Console.Expect(ctx, boot, watch...)
	if err != nil {
		return err
	}
	if m.Index == 2 { // the autoboot window is open: one key
		// Enter stops an open bootloader as any key does, and if the
		// window has closed by the time it lands (a fast boot, a busy
		// bench) a getty takes it for an empty user name and prompts
		// again, so the wait below still ends on a login prompt.
		s.Console.Note("debug-interfaces: one key (Enter) into the autoboot window, to see whether it stops the boot")
		if err := s.Console.SendLine(ctx, ""); err != nil {
			return err
		}
		after := []console.Pattern{login, shell}
		if !p.Bootloader.IsZero() {
			after = append(after, mustPattern(p.Bootloader))
		}
		m, err = s.Console.Expect(ctx, boot, after...)
		if err != nil {
			return err
		}
		if m.Index == 2 {
			s.Fail("the bootloader's autoboot stopped on a single key and gave its command prompt %q without authentication", m.Text)
		}
		s.Checked("a key in the autoboot window did not stop the boot")
	}
	if m.Index == 1 {
		s.Fail("the UART gave a shell prompt %q after power-on without any login", m.Text)
	}
	// At the login prompt: an empty line must not give a shell either. A
	// getty that flushes its input before its prompt may drop the Enter, so
	// it is sent again (three times at most) until an answer comes.
	wait := s.Procedures.Timeout(s.Profile.Timeout) / 3
	for try := 1; ; try++ {
		if err := s.Console.SendLine(ctx, ""); err != nil {
			return err
		}
		m, err = s.Console.Expect(ctx, wait, login, shell)
		if err == nil {
			break
		}
		if try == 3 || !errors.Is(err, console.ErrTimeout) {
			return err
		}
	}
	s.Expect(m.Index).To(gomega.Equal(0), "the UART gave a shell prompt %q for an empty login", m.Text)
	return nil
}

func mustPattern(p fixtures.Pattern) console.Pattern {
	cp, err := p.Console()
	if err != nil {
		panic(err) // a prompt of a loaded profile is compiled and has no variables
	}
	return cp
}

// bootTimeout is how long the profile lets a boot take: its login
// procedure's first wait, else its default.
func bootTimeout(p *fixtures.Profile) time.Duration {
	if p.Login != nil && len(p.Login.Steps) > 0 && p.Login.Steps[0].Kind == fixtures.Expect {
		return p.Login.Steps[0].Timeout
	}
	return p.Timeout
}
