package console

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors a caller tells apart with errors.Is. Bench faults (the case's
// verdict is ERROR): ErrLost, ErrClosed, ErrTranscript. Device behaviour
// (for the case to judge, often FAIL): ErrTimeout, ErrUnwanted,
// ErrLoginIncorrect, ErrLockedOut.
var (
	// ErrLost: the port went away (adapter unplugged or unpowered, serial
	// server restarted, pty closed) while waiting or sending. The console
	// reopens it by itself when it returns; the gap is in the transcript.
	ErrLost = errors.New("console lost")
	// ErrClosed: the Console was closed.
	ErrClosed = errors.New("console closed")
	// ErrTranscript: the transcript could not be written, so evidence is
	// incomplete; the console refuses further work.
	ErrTranscript = errors.New("console transcript write failed")
	// ErrTimeout: the device did not print what was expected in time.
	// The *TimeoutError carries the tail of what it did print.
	ErrTimeout = errors.New("timed out waiting for console output")
	// ErrUnwanted: a pattern that must not appear did (see *UnwantedError).
	ErrUnwanted = errors.New("unwanted console output")
	// ErrLoginIncorrect: the device refused the credentials.
	ErrLoginIncorrect = errors.New("login incorrect")
	// ErrLockedOut: the device reported a lockout.
	ErrLockedOut = errors.New("login locked out")
	// ErrLoginDisturbed: Login could not make the attempt it intended
	// (the device took other input as the user name): neither a success
	// nor a refusal of the credentials.
	ErrLoginDisturbed = errors.New("login attempt disturbed")
	// ErrEchoed: with Config.RequireEchoOff, the password was echoed.
	ErrEchoed = errors.New("password echoed")
	// ErrBusy: a second wait was started while one was in progress.
	ErrBusy = errors.New("another wait is in progress on this console")
)

// TimeoutError is returned when a wait's time runs out.
type TimeoutError struct {
	Console string
	Waiting []string      // the patterns waited for
	After   time.Duration // how long it waited
	Tail    string        // the last output seen (normalized, up to 512 bytes)
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("console %q: no %s after %v; last output: %q",
		e.Console, strings.Join(e.Waiting, " or "), e.After.Round(time.Millisecond), e.Tail)
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// UnwantedError is returned when a pattern that must not appear did: one
// in Wait.Not, or a standing Watch's.
type UnwantedError struct {
	Match *Match
	Watch bool // a standing watch fired, not the wait's own Not
}

func (e *UnwantedError) Error() string {
	return fmt.Sprintf("unwanted console output %q (pattern %s)", e.Match.Text, e.Match.Pattern)
}

// Is makes errors.Is(err, ErrUnwanted) true.
func (e *UnwantedError) Is(target error) bool { return target == ErrUnwanted }

// LostError says why and when the port was lost.
type LostError struct {
	Console string
	Cause   error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("console %q lost: %v", e.Console, e.Cause)
}

// Is makes errors.Is(err, ErrLost) true.
func (e *LostError) Is(target error) bool { return target == ErrLost }

func (e *LostError) Unwrap() error { return e.Cause }

// EchoError says the device echoed the password (Config.RequireEchoOff):
// it shows on the console, and lands in whatever logs the console.
// Outcome is the login's outcome otherwise (nil: logged in).
type EchoError struct {
	Console, User string
	Outcome       error
}

func (e *EchoError) Error() string {
	out := "logged in"
	if e.Outcome != nil {
		out = e.Outcome.Error()
	}
	return fmt.Sprintf("console %q: login as %q: the device echoed the password (%s)", e.Console, e.User, out)
}

// Is makes errors.Is(err, ErrEchoed) true.
func (e *EchoError) Is(target error) bool { return target == ErrEchoed }

func (e *EchoError) Unwrap() error { return e.Outcome }
