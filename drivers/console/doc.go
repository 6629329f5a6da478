// Package console drives a device's UART console: a local serial port
// (go.bug.st/serial) or a serial server's raw TCP port (ser2net), behind
// one type, Console.
//
// # Opening: which device, and only its current output
//
// Open resolves the configured port and records what it led to (the
// Identity: device node, its major:minor number, for a USB adapter vendor,
// product and serial number and USB port from sysfs, for a pty its creation
// time) in the "open" event; Console.Identity returns it for a record. It
// takes an advisory lock (flock) on the device node, so a second console
// on the same port, in this process or another bench, even as root, is
// refused with a *BusyError naming the holder (from /proc/locks). What the
// port had received before it was opened (a login prompt from an earlier
// boot) is drained into a "discard" event with its bytes, and the input
// buffers are flushed (ResetInputBuffer): it never answers a wait. A
// serial server's (TCP) bytes are kept: it cannot tell old from new.
//
// # Following a byte
//
// Open starts one reader per console. Each chunk it reads is, in order:
//
//  1. written to the transcript (JSON Lines, formats.md) as "rx", raw, with
//     monotonic and wall time, whether or not anything is waiting, under
//     the same lock as steps 2 and 3, so that a "mark" event sits between
//     the same bytes in the transcript as in the engine (the
//     start of a UTF-8 character cut off at the end of a read goes with
//     the next read, if that comes within 50 ms and before any other
//     record, so the line stays text rather than two b64 fragments);
//  2. normalized for matching (normalize.go): ANSI escape sequences and NUL
//     bytes removed, CR, LF and CRLF each made one "\n", state kept across
//     chunks so a sequence split between reads is still removed;
//  3. appended to a bounded buffer (the backlog, 64 KiB by default) and
//     run past the patterns of the wait in progress and of any standing
//     watches (engine.go);
//  4. copied to an Attach session, if one is open.
//
// Bytes sent (Send, SendLine, Login, Run, Attach) are written to the
// transcript as "tx" just before they go out; SendSecret writes a "tx"
// line marked redacted, with the byte count, instead of a secret's bytes.
//
// # Patterns and the bounded window
//
// A Pattern is a Literal or a Regexp (RE2 syntax), matched against the
// normalized text. Every pattern has a maximum match width: computed from
// the expression when it is bounded (`login: ` is 7 bytes, `\d{1,3}` is 3),
// DefaultMaxWidth (1 KiB) when it could grow without limit (`.*`, `\S+`),
// adjustable with WithMaxWidth up to MaxWidthLimit (16 KiB). Expressions
// that could match the empty string, mention \r, or are bounded but wider
// than the limit are rejected by Regexp with a message saying what to write
// instead.
//
// The width is what keeps matching linear: when new text arrives, a match
// ending in it can only start width-1 bytes before it, so each pattern
// looks at the new text plus that much, never the whole buffer. Better
// still, most patterns contain a fixed string every match must contain
// (" login: " in `\S+ login: `); the engine finds it with bytes.Index and
// runs the regular expression only where it occurs (or one of a set, for
// alternatives: `error|failed`). The buffer is trimmed to the backlog, so
// memory does not grow with the stream.
//
// Speed (go test -bench . on the development machine, 64 to 512-byte
// chunks): about 350 MB/s for three typical patterns; about 15 MB/s when one
// of them has no fixed string at all (`\d{2,}\s+[A-Z]{3}\b`), which is
// Go's regexp scanning every chunk plus the pattern's width. A 115200-baud
// UART delivers 11.5 KB/s.
//
// Streaming has the usual consequences (pexpect's too): `$` and `\b` see
// the end of the text received so far, so `# $` means "the device's last
// output is a # prompt". A match that ends at the end of the text received
// so far in a run that more text would lengthen (`(?P<state>[a-z]+)` has
// the "c" of "confirmed") is held until more output shows where the run
// ends, or until the wait's time is up, when it is taken as it is; a
// pattern ending in `$` is never held. `^` and `\b` at the left of the
// window look back to the previous line start, so they are not fooled by
// where a chunk happens to begin.
//
// Patterns see only what normalization leaves: Regexp rejects one that
// needs a byte it removes (ESC, NUL, CR: `\x1b\[6n` could never match),
// saying what to write instead, and CheckLiteral does for literals. U+FFFD
// in a pattern matches any byte that is not valid UTF-8 (as Go's regexp
// reads them), the usual sign of a wrong baud rate: it is never part of a
// prefilter factor, and a Literal holding it is matched as the expression.
// FuzzEngine compares the engine with Go's regexp on the same normalized
// text.
//
// # Waiting
//
// A wait (Expect, Wait) looks at the output since the previous match or
// Mark (up to the backlog of it) and then at new output, and returns the
// first of its patterns to appear: the match that ends first, ties going
// to the pattern listed first. It consumes the output up to the end of the
// match. When one pattern's text is the start of what another prints next
// ("Login incorrect", then "Too many failed login attempts"), Wait.Settle
// and Wait.Priority settle them: a match that a pattern of higher priority
// outranks waits up to Settle for that one, which wins if it appears.
//
// Mark ends what may be matched: only output after it counts, for the wait
// in flight too; it is a "mark" event in the transcript. Call it when the
// device's earlier output stops being current: at a power cut, or at a
// profile's mark step. PowerTimeline is the wiring for the first: a writer
// for the fixture's power-event log that puts each event into the
// console's transcript (Event) and marks the console at every cut.
// Wait.Not lists patterns that must not appear meanwhile ("Kernel panic");
// a Watch is a standing one over any span of time, and Absent watches for
// a fixed time. Neither consumes output.
//
// # Errors: the bench's fault or the device's
//
// ErrLost (a port that vanished: a USB adapter powered by the device, a
// serial server restarting, a pty whose far side closed), ErrClosed and
// ErrTranscript are the bench's side: a case's verdict is ERROR. ErrTimeout
// (with the tail of the output), ErrUnwanted, ErrLoginIncorrect,
// ErrLockedOut and ErrEchoed describe the device's behaviour, for the case
// to judge. ErrLoginDisturbed says Login could not make the attempt it
// intended (a stray line taken as the user name): neither a success nor a
// refusal, so a credential sweep must not count it as either. A
// *BusyError (port locked by another console) is the bench's side.
//
// # Logging in and running commands
//
// Login (session.go) answers only a login prompt nobody has read, asking
// for one with a newline when none is pending unless the device may not be
// listening yet (nothing printed since a power cut) or the bootloader's
// autoboot window may be open; it checks the echo of the user name before
// it answers a password prompt, and starts over rather than send the
// password to a user it did not name. Run delimits a command's output by a
// start and an end marker that only running the line prints, so however
// the shell wraps or redraws the echoed line, none of it is output.
//
// # Losing and regaining the port
//
// A read error, or a serial device node that disappears while the port is
// idle (a read timeout alone, which go.bug.st/serial reports as (0, nil),
// means only "no data yet"), marks the port lost: the transcript gets a
// "lost" event, the wait in flight ends with ErrLost, and the reader tries
// to open the port again, 20 ms apart at first and doubling up to
// Config.MaxBackoff. When it opens, the transcript gets a "reopen" event
// saying how long the gap was and what the port led to. It must be the
// same device (SameDevice): the same USB adapter by serial number on any
// node (a by-id link may lead to ttyUSB1 after replugging), the same pty,
// or a new pty behind a symlink that has been re-made since (a bridge, or
// the simulated lab, making a new link for a device that came back). A
// link left pointing at a /dev/pts number the kernel has since given to
// another program leads to another device: it is refused (a "refused"
// event, once per device found), nothing is read from or sent to it, and
// the console goes on waiting for its own device with the gap kept open:
// waits fail with the *LostError, which says what was refused. What a
// reopened port had buffered is kept: it came after the gap. (A pty's
// creation time has the kernel's clock-tick granularity: a pty created,
// lost and replaced by another program's within one tick, a few ms, could
// not be told apart.) No match spans a gap. A wait started while
// the port is lost waits for it to return. An expect-not can only vouch
// for output it saw: a Watch or Absent that a gap (or Close) overlapped
// reports ErrLost (or ErrClosed), unless its pattern appeared. Modem-control
// lines are never touched: their ioctls fail on a pty.
package console
