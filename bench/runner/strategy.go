package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/fixtures/procedure"
	"github.com/certbench/certbench/suites/suite"
)

// Strategy brings a fixture's device to the state a case starts from, in
// the spirit of labgrid's strategies: off → booted (a login prompt pending)
// → shell (logged in through the profile's login procedure). From a state
// it does not know it power-cycles: the only transition that works on any
// device whatever it was doing.
type Strategy struct {
	Power   suite.Power
	Console strategyConsole
	Procs   *procedure.Runner
	// Login is the login prompt; Autoboot, when set, is the bootloader's
	// window, which the strategy never types into.
	Login    console.Pattern
	Autoboot console.Pattern
	// BootTimeout bounds a boot from power-on to the login prompt.
	BootTimeout time.Duration
	// Credentials log in for the shell state: the login procedure's
	// arguments (user, password). Nil: the shell state cannot be reached.
	Credentials map[string]string

	state suite.State // "" when unknown
}

type strategyConsole interface {
	SendLine(ctx context.Context, s string) error
	Expect(ctx context.Context, timeout time.Duration, patterns ...console.Pattern) (*console.Match, error)
	Note(detail string)
}

// State is where the strategy believes the device is; "" means unknown.
func (s *Strategy) State() suite.State { return s.state }

// Forget says the device may be in any state (a case ended, or failed,
// somewhere the strategy cannot vouch for).
func (s *Strategy) Forget() { s.state = "" }

// Reach brings the device to want. An error is the reason the case cannot
// start there; its verdict is ERROR, because a device that will not boot or
// log in with the fixture's own credentials is not what the case tests.
func (s *Strategy) Reach(ctx context.Context, want suite.State) error {
	if want == suite.Any || want == s.state {
		return nil
	}
	err := s.reach(ctx, want)
	if err != nil {
		s.state = ""
		return fmt.Errorf("bring the device to state %s: %w", want, err)
	}
	s.state = want
	return nil
}

func (s *Strategy) reach(ctx context.Context, want suite.State) error {
	switch want {
	case suite.Off:
		return s.Power.Off(ctx)
	case suite.Booted:
		return s.boot(ctx)
	case suite.Shell:
		if s.Credentials == nil {
			return errors.New("the fixture has no credentials to log in with (bench file: label.password)")
		}
		if err := s.boot(ctx); err != nil {
			return err
		}
		res, err := s.Procs.Run(ctx, "login", s.Credentials)
		if err != nil {
			return fmt.Errorf("log in: %w", err)
		}
		if res.Prompt != "shell" {
			return fmt.Errorf("log in as %s with the fixture's credentials: the device answered %s, not a shell prompt", s.Credentials["user"], orUnnamed(res.Prompt))
		}
		return nil
	}
	return fmt.Errorf("unknown state %q", want)
}

// boot power-cycles (or switches on) the device and waits for its login
// prompt, sending nothing until then: a key in the autoboot window would stop
// the boot. It leaves a fresh prompt pending for the case: the one it saw is
// consumed, so it asks for another once the boot is over.
func (s *Strategy) boot(ctx context.Context) error {
	var err error
	if s.state == suite.Off {
		err = s.Power.On(ctx)
	} else {
		err = s.Power.Cycle(ctx)
	}
	if err != nil {
		return err
	}
	s.Console.Note("strategy: power switched, waiting for the login prompt")
	if _, err := s.Console.Expect(ctx, s.BootTimeout, s.Login); err != nil {
		return fmt.Errorf("boot to the login prompt: %w", err)
	}
	if err := s.Console.SendLine(ctx, ""); err != nil {
		return err
	}
	return nil
}

func orUnnamed(prompt string) string {
	if prompt == "" {
		return "an alternative without a prompt name"
	}
	return "its " + prompt + " prompt"
}
