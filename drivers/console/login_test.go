package console_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/console/consoletest"
)

// getty plays busybox's getty and login line by line: an empty line gets
// a fresh prompt, a name its echo and "Password: ", a password (echoed
// when echo is set) "# " for root/pw, "Login incorrect" and a new prompt
// otherwise. With stray, a line someone else typed is taken as the user
// name before the bench's comes in.
func getty(far *consoletest.Far, first string, stray string, echo bool) <-chan error {
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			far.Write(first)
			user := ""
			if stray != "" {
				far.Write(stray + "\r\nPassword: ")
				user = stray
			}
			for {
				line, err := far.ReadLine(guard)
				if err != nil {
					return err
				}
				switch {
				case user == "" && line == "":
					far.Write("\r\ngw login: ")
				case user == "":
					far.Write(line + "\r\nPassword: ")
					user = line
				default:
					if echo {
						far.Write(line)
					}
					if user == "root" && line == "pw" {
						far.Write("\r\n# ")
						return nil
					}
					far.Write("\r\nLogin incorrect\r\ngw login: ")
					user = ""
				}
			}
		}()
	}()
	return errc
}

// A stray line at the login prompt is taken as the user name: Login sees
// the echo is not its user name, keeps the password, lets that attempt
// fail unreported, and logs in from the next prompt.
func TestLoginStartsOverAfterAStrayUserName(t *testing.T) {
	l := openPTY(t, console.Config{Prompts: prompts})
	dev := getty(l.far(), "gw login: ", "x", false)
	if err := l.c.Login(ctx, "root", "pw", guard); err != nil {
		t.Fatalf("login after a stray line: %v", err)
	}
	if err := <-dev; err != nil {
		t.Fatal(err)
	}
	if got := l.far().Received(); strings.Count(got, "pw") != 1 {
		t.Fatalf("the password went out %d times (once is right: never to the stray user): %q", strings.Count(got, "pw"), got)
	}
}

// An idle device whose prompt was read already: Login asks for a fresh
// one with a newline instead of waiting out its time.
func TestLoginAsksForAFreshPrompt(t *testing.T) {
	l := openPTY(t, console.Config{Prompts: prompts, PromptQuiet: time.Millisecond})
	dev := getty(l.far(), "", "", false)
	if err := l.c.Login(ctx, "root", "pw", guard); err != nil {
		t.Fatalf("login at an idle device: %v", err)
	}
	if err := <-dev; err != nil {
		t.Fatal(err)
	}
}

// While the bootloader's autoboot prompt may show, Login sends nothing:
// a key would stop the boot.
func TestLoginSendsNothingDuringAutoboot(t *testing.T) {
	ps := prompts
	ps.Autoboot = console.MustRegexp(`Hit any key to stop autoboot: +\d`)
	for _, tc := range []struct {
		name  string
		setup func(l *link)
	}{
		{"the autoboot prompt showing", func(l *link) {
			l.far().Write("U-Boot 2024.01\r\nHit any key to stop autoboot:  3")
			l.tr.waitFor(t, "the prompt", func(rs []console.Record) bool { return strings.HasSuffix(string(stream(t, rs, "rx")), "3") })
		}},
		{"after a power cut, before the bootloader spoke", func(l *link) {
			l.far().Write("Hit any key to stop autoboot:  0\r\nbooting\r\n# ")
			l.tr.waitFor(t, "the old boot", func(rs []console.Record) bool { return strings.HasSuffix(string(stream(t, rs, "rx")), "# ") })
			l.c.Mark("power cycle")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openPTY(t, console.Config{Prompts: ps, PromptQuiet: time.Millisecond})
			tc.setup(l)
			err := l.c.Login(ctx, "root", "pw", 50*time.Millisecond)
			if !errors.Is(err, console.ErrTimeout) {
				t.Fatalf("want a timeout, got %v", err)
			}
			if got := l.far().Received(); got != "" {
				t.Fatalf("sent %q while the autoboot window may be open", got)
			}
		})
	}
	t.Run("after the window", func(t *testing.T) {
		l := openPTY(t, console.Config{Prompts: ps, PromptQuiet: time.Millisecond})
		l.c.Mark("power on")
		dev := getty(l.far(), "Hit any key to stop autoboot:  0\r\nStarting kernel\r\n", "", false)
		if err := l.c.Login(ctx, "root", "pw", guard); err != nil {
			t.Fatal(err)
		}
		if err := <-dev; err != nil {
			t.Fatal(err)
		}
	})
}

// With RequireEchoOff, a password the device echoes is reported as such,
// with the login's outcome.
func TestLoginReportsAnEchoedPassword(t *testing.T) {
	l := openPTY(t, console.Config{Prompts: prompts, RequireEchoOff: true})
	dev := getty(l.far(), "gw login: ", "", true)
	err := l.c.Login(ctx, "root", "pw", guard)
	var echo *console.EchoError
	if !errors.Is(err, console.ErrEchoed) || !errors.As(err, &echo) || echo.Outcome != nil {
		t.Fatalf("want ErrEchoed with a successful outcome, got %v", err)
	}
	if err := <-dev; err != nil {
		t.Fatal(err)
	}
}

// AnswerDelay paces the answers: the device sees each only after it.
func TestLoginAnswerDelay(t *testing.T) {
	l := openPTY(t, console.Config{Prompts: prompts, AnswerDelay: 30 * time.Millisecond})
	dev := getty(l.far(), "gw login: ", "", false)
	began := time.Now()
	if err := l.c.Login(ctx, "root", "pw", guard); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 60*time.Millisecond {
		t.Fatalf("two answers delayed 30ms each took %v", d)
	}
	if err := <-dev; err != nil {
		t.Fatal(err)
	}
}

// When one alternative's text is the start of what follows (a failure
// message, then the lockout message), a settle time lets the one listed
// first win.
func TestSettleLetsAnEarlierPatternWin(t *testing.T) {
	l := openPTY(t, console.Config{})
	lockout, failed := console.Literal("Too many failed login attempts"), console.Literal("Login incorrect")
	registered := inFlight(l.c)
	got := make(chan *console.Match, 1)
	go func() {
		m, err := l.c.Wait(ctx, console.Wait{For: []console.Pattern{lockout, failed}, Timeout: guard, Settle: guard})
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	await(t, registered, "the wait")
	l.far().Write("Login incorrect\r\n")
	l.tr.waitFor(t, "the failure", func(rs []console.Record) bool { return len(stream(t, rs, "rx")) > 0 })
	l.far().Write("Too many failed login attempts\r\n")
	if m := <-got; m == nil || m.Index != 0 {
		t.Fatalf("the lockout should outrank the failure printed before it: %+v", m)
	}
	// Without an earlier pattern appearing, the match stands after Settle.
	l.far().Write("Login incorrect\r\n")
	m, err := l.c.Wait(ctx, console.Wait{For: []console.Pattern{lockout, failed}, Timeout: guard, Settle: time.Millisecond})
	if err != nil || m.Index != 1 {
		t.Fatalf("settled on %+v, %v; want the failure", m, err)
	}
}

// A capture ending in a run at the end of what has arrived waits for the
// run to end: "c" of "confirmed" is not the state.
func TestCaptureWaitsForTheEndOfARun(t *testing.T) {
	l := openPTY(t, console.Config{})
	registered := inFlight(l.c)
	got := make(chan *console.Match, 1)
	go func() {
		m, err := l.c.Expect(ctx, guard, console.MustRegexp(`slot (?P<slot>[AB]) (?P<state>[a-z]+)`))
		if err != nil {
			t.Error(err)
		}
		got <- m
	}()
	await(t, registered, "the expect")
	l.far().Write("slot B c")
	l.tr.waitFor(t, "the first part", func(rs []console.Record) bool { return strings.HasSuffix(string(stream(t, rs, "rx")), " c") })
	l.far().Write("onfirmed; rollback floor now 3\r\n")
	if m := <-got; m == nil || m.Groups["state"] != "confirmed" {
		t.Fatalf("captured %+v", m)
	}
	// At the end of its time, a run the device never went on with is
	// what it is.
	l.far().Write("slot A pending")
	l.tr.waitFor(t, "pending", func(rs []console.Record) bool { return strings.HasSuffix(string(stream(t, rs, "rx")), "pending") })
	m, err := l.c.Expect(ctx, 20*time.Millisecond, console.MustRegexp(`slot (?P<slot>[AB]) (?P<state>[a-z]+)`))
	if err != nil || m.Groups["state"] != "pending" {
		t.Fatalf("at the end of the time: %+v, %v", m, err)
	}
}
