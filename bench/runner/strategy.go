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
	Watch(patterns ...console.Pattern) *console.Watch
	Note(detail string)
}

// marker is a console that can end what earlier output may answer (see
// console.Console.Mark): after a power cut, a prompt the last boot printed
// must not answer a wait for this one.
type marker interface{ Mark(reason string) }

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

// boot switches the device off (unless it is) and on, and waits for its
// login prompt, sending nothing: a key in the autoboot window would stop the
// boot. It watches for the prompt rather than waiting for it, so the prompt
// stays unread for the case (the profile's login procedure starts by
// waiting for it), and no Enter is needed to ask for another, which a getty
// flushing its input would drop.
func (s *Strategy) boot(ctx context.Context) error {
	if s.state != suite.Off {
		if err := s.Power.Off(ctx); err != nil {
			return err
		}
	}
	if m, ok := s.Console.(marker); ok {
		m.Mark("strategy: power off: output before this is the last boot's")
	}
	if err := s.Power.On(ctx); err != nil {
		return err
	}
	// Watched from power-on, not before: bytes the last boot wrote before
	// the cut can still land after it (and after the mark), and a watch
	// started earlier would take that stale prompt for this boot's. A boot
	// takes seconds to its prompt; switching on returns at once.
	w := s.Console.Watch(s.Login)
	defer w.Stop()
	s.Console.Note("strategy: power on, watching for the login prompt")
	t := time.NewTimer(s.BootTimeout)
	defer t.Stop()
	select {
	case <-w.Fired():
		return nil
	case <-w.Broken():
		return fmt.Errorf("boot to the login prompt: %w", w.Err())
	case <-t.C:
		return fmt.Errorf("boot to the login prompt: no %s within %s", s.Login, s.BootTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PowerOnWith switches the device off and on and runs during while it
// boots (reading the banner it prints on the way), then forgets the state:
// whether the boot ends at a login prompt, a shell or nothing is the cases'
// business, not the identity's.
func (s *Strategy) PowerOnWith(ctx context.Context, during func(context.Context) error) error {
	defer s.Forget()
	if s.state != suite.Off {
		if err := s.Power.Off(ctx); err != nil {
			return err
		}
	}
	if m, ok := s.Console.(marker); ok {
		m.Mark("identity: power off: output before this is the last boot's")
	}
	if err := s.Power.On(ctx); err != nil {
		return err
	}
	return during(ctx)
}

func orUnnamed(prompt string) string {
	if prompt == "" {
		return "an alternative without a prompt name"
	}
	return "its " + prompt + " prompt"
}
