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
// SafeState or Cycle) and let the off-time pass, or give a Command a status
// command: it then reads the state, and a fixture already on is left alone.
//
// The package keeps no state between processes (no state file holding the
// time of the last Off): the wait from an unknown state costs at most one
// minimum off-time, whereas a file is one more thing to go stale, and on a
// Raspberry Pi without a real-time clock the wall time can jump at boot
// and make a recent Off look old.
//
// # Reading the state back
//
// A relay's state is the level written to its line. A Command's is what
// its programs say: with an optional status command (CommandConfig.Status)
// the switch reads it. The status command must exit 0, and its standard
// output match exactly one of two patterns (by default a line that is just
// "on" or "off"; for uhubctl, `Port 2: [0-9a-f]{4} power` and `... off`);
// anything else is a failed read, a bench fault, never a guess. With it:
//
//   - a switch whose state is unknown reads it before it acts: already as
//     asked, nothing runs (a vendor's on-script that refuses with "already
//     on", exit 1, is never called) and On does not wait the off-time;
//   - after each switch it reads the state back until it agrees, for at
//     most the command timeout (pdudaemon's HTTP listener answers "OK -
//     accepted request" before its queue switches the outlet);
//   - a command that failed with an exit status while the state reads as
//     asked is taken as done, and the event says so.
//
// Without one, a command that exits 0 is assumed to have switched, and each
// event says that this is assumed.
//
// # Stopping a command
//
// A command that times out or whose context ends is stopped the way closing
// a terminal stops a session: its process group gets SIGHUP (and SIGCONT),
// then the command itself SIGKILL. A child it left in its group ends (unless
// it catches SIGHUP); a helper it detached on purpose survives: started with
// nohup it ignores SIGHUP, started with setsid or as a daemon it is in a
// group of its own. A command's output goes to an unnamed temporary file,
// not a pipe, for the same helpers: one that inherits it and goes on
// printing would die of SIGPIPE once the bench stopped reading a pipe; a
// file takes its writes until it exits, and the command is done when it
// exits, however long its helpers run.
//
// A command stopped by its context may have switched already (a PDU cuts
// the outlet before its client exits): its event has no error, but the
// state "unknown" and "interrupted after it started".
//
// # Buttons
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
// an error, a panic or a signal all end with every line safe. The signals
// caught are Signals: every one whose default action would end the process
// and that a program may catch (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
// SIGUSR1/2, ...): an SSH session that drops sends SIGHUP, and left to its
// default it ended the process with the relay off on a fixture whose safe
// state is on.
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
// An event is written when its action ends, stamped with its start too
// (Start, StartWall) and its end (Mono, Wall): a 1.2 s off-script cuts
// power somewhere in between, and a console may see the cut before the
// command returns. It says the State known after it ("on", "off",
// "unknown") and keeps the status command's output. Log.Watch hears of
// each action as it starts and as it ends, so a person can follow a slow
// PDU.
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
