// Package busybox gives tests a real target device: Debian's
// busybox-static running getty, login and ash on a pty, with its own
// /etc/passwd and /etc/shadow in a temporary root, reached through an
// adapter as a bench reaches a UART through a USB-serial adapter.
//
// The console engine's imitations (consoletest, fixtures/sim) behave as
// their authors believed devices behave; this one is the program real
// devices run, so its quirks are the real ones (see below).
//
// # The wiring
//
//	bench ── Path ─▶ adapter pty ◀═ bridge ═▶ device pty ── /dev/ttyS0: getty → login → ash
//
// Start builds the root (bin/busybox and a link for each applet,
// etc/passwd, shadow, group, hostname, issue, profile, inittab, home
// folders) and powers the unit: a fresh device pty of the configured size
// (80×24 by default), the Boot text, then busybox init, chrooted in the
// root, in new mount, PID and UTS namespaces, as PID 1 of its own
// namespace with its own /proc. init sets the hostname and runs getty on
// /dev/ttyS0 (the device pty, bind-mounted there, so login finds its tty
// by name as on a board), and respawns it when login or the shell exits.
//
// The bridge copies bytes both ways between the device pty and the
// adapter pty, whose slave the bench opens through Path (a symlink, as
// /dev/serial/by-id/... is). What the bench sends while the unit is off
// is dropped, as by a UART to an unpowered board.
//
// Power(false) is a power cut: SIGKILL to the namespace's PID 1 takes
// every process of the unit with it at once, and the device pty goes.
// With an adapter that stays (the default), Path keeps pointing at the
// same pty across cycles and output already carried to it stays in its
// input buffer until the bench reads or flushes it: a prompt printed
// before the cut is still there after it. (An adapter nobody reads holds
// what the kernel's pty buffer holds; beyond that the device's writes
// wait, where a real adapter would drop bytes.) With Options.Replug the adapter
// goes with the power, as a USB-UART the device powers does: the adapter
// pty is hung up (the bench's reads return EOF) and Path removed at
// power-off, a new pty linked at power-on (often under the same /dev/pts
// number; PTY names the current one).
//
// Print injects output on the device's side (a stray kernel line, a stale
// prompt) between the device's own writes; Type types into the device's
// console input, as someone else on its UART would. Tap sees everything
// sent toward the bench without taking it from the bench, so a test can
// wait until the device reached a state without opening the console.
// Open opens Path as the bench would, for tests of the target itself.
//
// # What busybox does (1.35.0, Debian's busybox-static)
//
// These are facts of the program, shown by this package's tests:
//
//   - getty waits 0.1 s and flushes its input before it prints /etc/issue
//     and "HOST login: ": what is typed before the prompt is lost. init
//     starts a new getty about a second after login or the shell exits
//     (TestLogoutRespawnsGetty).
//   - getty reads a name at its prompt; a
//     stray line there ("x\r" from Type) is taken as the user name, and
//     login then asks "Password: " for user x (TestStrayLineIsUserName).
//     A name ended by "\n" rather than "\r" makes getty set the tty for a
//     terminal that sends LF: a later "\r" no longer ends a line.
//   - login flushes its input, prints "Password: ", and only then turns
//     echo off (libbb/bb_ask_noecho): a password sent before the prompt is
//     lost (TestTypeAheadPasswordLost), one sent in the instant after the
//     prompt may be echoed. That instant is microseconds here; Hold keeps
//     it open (TestEchoRace): it stops the console process (ptrace) right
//     after a write containing a text, as a loaded device's scheduler
//     might, until Release. Echo reports the tty's echo flag.
//   - A failed login pauses FailDelay (3 s, fixed at build time) before
//     "Login incorrect"; after three failures login exits and getty
//     starts again. login gives up on a password after
//     Options.LoginTimeout (LOGIN_TIMEOUT, 60 s by default;
//     TestLoginTimeout).
//   - ash sends ESC [6n (a cursor position query) right after each prompt
//     when no input is pending (TestCursorQueryAfterPrompt). Left
//     unanswered, ash sleeps 20 ms after reading the next line
//     (libbb/lineedit.c): BenchmarkRoundTrip measures `true` at 20.6 ms
//     unanswered and 0.23 ms when the far end answers ESC [row;colR, as
//     a terminal does.
//   - ash wraps the echo of a long command line with "\r\r\n" where it
//     reaches the last column (TestLongLineWraps); COLUMNS is also set in
//     /etc/profile.
//
// # Where it runs
//
// As root, the test process makes the namespaces itself. Otherwise
// util-linux unshare makes them in a user namespace that maps the caller
// to root and the caller's /etc/subuid range to the other users
// (--map-auto, through Debian's uidmap package): busybox login calls
// setgroups, which a namespace mapping one user alone denies. Where
// neither works Start skips the test with the reason, except under CI
// (CI set), where it fails: .ci/run installs busybox-static.
//
// Every process is killed, every pty closed and the root removed when the
// test ends.
package busybox
