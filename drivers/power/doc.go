// Package power switches fixtures' power and presses their buttons, and makes
// sure that whatever happens the hardware is left at its declared safe level.
//
// # Switches
//
// A Switch powers one fixture. Two kinds fill it:
//
//   - Relay: a GPIO line (periph.io gpio.PinOut) found by name in periph's
//     registry (gpioreg) after Init. Relay boards are often active-low, so
//     the configuration says which electrical level means "on"; events record
//     the level actually written.
//   - Command: external programs (a PDU's CLI, a pdudaemon client, uhubctl)
//     run as argv, without a shell, with a timeout.
//
// Every switch has a minimum off-time: power never comes back sooner than
// that after it was cut, so the device really loses power (capacitors drain,
// the SoC resets). On and Cycle wait only the remainder: if the switch has
// been off long enough already they do not wait at all. The wait is on a
// timer that the context can cancel.
//
// A switch that does not know its state (just made, as in a new `bench`
// process, or after an action failed) treats power as possibly cut just
// now: another process may have switched it off a moment ago, or the failed
// action may have cut it before failing. Its first On therefore waits the
// whole minimum off-time, recorded as a "wait" event whose detail says the
// state is unknown. To switch on without that wait, switch off first (Off,
// SafeState or Cycle) and let the off-time pass.
//
// The package keeps no state between processes (no state file holding the
// time of the last Off): the wait from an unknown state costs at most one
// minimum off-time, whereas a file is one more thing to go stale, and on a
// Raspberry Pi without a real-time clock the wall time can jump at boot
// and make a recent Off look old.
//
// A Button is a reset-button line: Press (momentary) and Hold(d). The line is
// released on every path out of a press: timeout, cancellation, panic.
//
// # Safe state
//
// Every switch and button has a declared safe level (normally off, and a
// button released). SafeState drives it there; it takes no context, is
// idempotent, never waits on a timer, and may be called from a signal handler
// goroutine or a deferred function while a Cycle or Hold is in progress: the
// interrupted operation then returns ErrInterrupted instead of switching the
// line back. A Safety collects everything that has a safe state; the bench
// command defers Safety.SafeAllInto and installs Safety.NotifyContext so that
// an error, a panic or SIGINT/SIGTERM all end with every line safe.
//
// Note for wiring: when the process exits, the kernel releases GPIO lines and
// may return them to inputs. Relay boards should be wired (pull-up/down) so
// that a released line means the safe level too.
//
// # Evidence
//
// Every transition is an Event in a Log: kept in memory (Log.Events) and
// written as one JSON line each (the power-event format of the evidence
// contract) to the io.Writer the caller gives. The Log's epoch is the run's
// shared time base, so power events line up with console transcripts.
//
// # Errors
//
// Every error from this package is a bench fault (an ERROR verdict, never the
// device's fault), except a cancelled or expired context, which callers test
// with errors.Is(err, context.Canceled) or context.DeadlineExceeded. Action
// errors are *Error; the cause can be *UnknownLineError, *CommandError or
// ErrInterrupted.
//
// Error text names the switch once, by the Name its configuration gives
// (the bench passes `fixture "cam-1"`), and says "power" once, so a caller
// returns it without wrapping it again:
//
//	power on fixture "cam-1": line GPIO17: writing Low: EIO
//	power switch fixture "cam-2": on command: exec: "pdudaemon-client": executable file not found in $PATH
package power
