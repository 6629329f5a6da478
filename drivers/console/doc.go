// Package console drives a device's UART console: a local serial port
// (go.bug.st/serial) or a serial server's raw TCP port (ser2net), behind
// one type, Console.
//
// # Following a byte
//
// Open starts one reader per console. Each chunk it reads is, in order:
//
//  1. written to the transcript (JSON Lines, formats.md) as "rx", raw, with
//     monotonic and wall time, whether or not anything is waiting (the
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
// transcript as "tx" just before they go out.
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
// output is a # prompt", and a greedy `\d+` at the very end of a chunk may
// match fewer digits than follow. `^` and `\b` at the left of the window
// look back to the previous line start, so they are not fooled by where a
// chunk happens to begin.
//
// # Waiting
//
// A wait (Expect, Wait) looks at the output since the previous match (up
// to the backlog of it) and then at new output, and returns the first of
// its patterns to appear: the match that ends first, ties going to the
// pattern listed first. It consumes the output up to the end of the match.
// Wait.Not lists patterns that must not appear meanwhile ("Kernel panic");
// a Watch is a standing one over any span of time, and Absent watches for
// a fixed time. Neither consumes output.
//
// # Errors: the bench's fault or the device's
//
// ErrLost (a port that vanished: a USB adapter powered by the device, a
// serial server restarting, a pty whose far side closed), ErrClosed and
// ErrTranscript are the bench's side: a case's verdict is ERROR. ErrTimeout
// (with the tail of the output), ErrUnwanted, ErrLoginIncorrect and
// ErrLockedOut describe the device's behaviour, for the case to judge.
//
// # Losing and regaining the port
//
// A read error, or a serial device node that disappears while the port is
// idle (a read timeout alone, which go.bug.st/serial reports as (0, nil),
// means only "no data yet"), marks the port lost: the transcript gets a
// "lost" event, the wait in flight ends with ErrLost, and the reader tries
// to open the port again, 20 ms apart at first and doubling up to
// Config.MaxBackoff. When it opens, the transcript gets a "reopen" event
// saying how long the gap was. No match spans a gap. A wait started while
// the port is lost waits for it to return. An expect-not can only vouch
// for output it saw: a Watch or Absent that a gap (or Close) overlapped
// reports ErrLost (or ErrClosed), unless its pattern appeared. Modem-control
// lines are never touched: their ioctls fail on a pty.
package console
