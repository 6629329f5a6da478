package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Login logs in with user and password using Config.Prompts, within
// timeout (positive), sending included. It returns nil once the shell
// prompt appears, or an error that tells the outcomes apart:
//   - ErrLoginIncorrect: the Failed pattern appeared, or the login
//     prompt came back (devices that refuse silently), after the attempt
//     intended: the user name echoed as sent, then the password;
//   - ErrLockedOut: the Lockout pattern appeared;
//   - ErrTimeout: none of the prompts appeared in time;
//   - ErrLoginDisturbed: the attempt intended could not be made (the
//     device kept taking other input for the user name);
//   - ErrEchoed (with Config.RequireEchoOff): the password was echoed; the
//     error also wraps the outcome (nil, ErrLoginIncorrect, ...);
//   - ErrLost, ErrClosed, ctx's error: the bench's side failed.
//
// # Getting a prompt nobody has read
//
// Login answers a login prompt printed since the last match (and the last
// Mark or gap): the last one, when several are queued (Enter pressed
// several times). When none is pending and none comes within
// Config.PromptQuiet, it asks for a fresh one by sending a newline, but
// never while the bootloader's autoboot window may be open (a key there
// stops the boot): after a Mark or a gap (a power cut, a device coming
// back) it sends nothing before the device has printed a line, and, with
// Prompts.Autoboot set, before the autoboot prompt has appeared and been
// followed by a line end; nor when the autoboot prompt is the last line
// the device printed. Then it waits for the boot's own prompt.
//
// # Answering the intended prompt
//
// A stray line at the login prompt (line noise, a keystroke left over) is
// taken by the device as the user name, and the password would then go to
// another user: so before answering a password prompt Login checks that
// what the device echoed since the login prompt is exactly the user name.
// If not, it does not send the password: it answers with an empty line, so
// the unintended attempt ends, lets it end (its "Login incorrect" is not
// reported), and starts over from a fresh prompt, up to three times.
//
// With Config.Settle set, a prompt that a lockout message may follow (a
// failure message) is settled as Wait.Settle says, Lockout outranking
// every other prompt.
//
// Config.AnswerDelay paces the answers (busybox login prints its password
// prompt before it turns echo off, so an answer in the same instant may be
// echoed); the profile's login procedure, when it has one, is the one to
// follow. The password is sent as a secret (SendSecret): the transcript
// records a redaction, never the password; what the device echoes of it is
// the device's own output and stays.
func (c *Console) Login(ctx context.Context, user, password string, timeout time.Duration) error {
	p := c.cfg.Prompts
	if p.Login.IsZero() || p.Shell.IsZero() {
		return fmt.Errorf("console %q: login needs the profile's login and shell prompts", c.cfg.Name)
	}
	if timeout <= 0 {
		return fmt.Errorf("console %q: login as %q: timeout %v: give a positive timeout", c.cfg.Name, user, timeout)
	}
	l := &login{c: c, user: user, password: password, began: time.Now()}
	l.deadline = l.began.Add(timeout)
	var havePrompt bool
	var why []string
	for range 3 {
		intended, prompt, err := l.attempt(ctx, havePrompt)
		if intended {
			return err
		}
		why = append(why, err.Error())
		c.Note(fmt.Sprintf("login as %q: %v; starting over", user, err))
		havePrompt = prompt
	}
	return fmt.Errorf("console %q: login as %q: %w: %s", c.cfg.Name, user, ErrLoginDisturbed, strings.Join(why, "; "))
}

// Prompt kinds a login waits for.
const (
	kLogin = iota
	kPassword
	kShell
	kFailed
	kLockout
)

type login struct {
	c               *Console
	user, password  string
	began, deadline time.Time
}

func (l *login) left() time.Duration { return max(time.Until(l.deadline), time.Nanosecond) }

func (l *login) fail(step string, err error) error {
	return fmt.Errorf("login as %q: %s: %w", l.user, step, err)
}

// wait waits for the first of the prompts of kinds (for d, or what is
// left when d is 0), Lockout outranking the others while settling.
func (l *login) wait(ctx context.Context, d time.Duration, kinds ...int) (int, *Match, error) {
	p := l.c.cfg.Prompts
	all := [...]Pattern{p.Login, p.Password, p.Shell, p.Failed, p.Lockout}
	// A failure message (and the login prompt after it) may be followed
	// by a lockout message: they settle; the others end the wait at once.
	var ps []Pattern
	var prio []int
	failed := slices.Contains(kinds, kFailed)
	for _, k := range kinds {
		ps = append(ps, all[k])
		if k == kFailed || failed && k == kLogin {
			prio = append(prio, 0)
		} else {
			prio = append(prio, 1)
		}
	}
	if d == 0 || d > l.left() {
		d = l.left()
	}
	m, err := l.c.Wait(ctx, Wait{For: ps, Timeout: d, Settle: l.c.cfg.Settle, Priority: prio})
	if err != nil {
		return 0, nil, sinceStart(err, l.began)
	}
	return kinds[m.Index], m, nil
}

func (l *login) outcome(k int, m *Match) error {
	c := l.c
	switch k {
	case kFailed:
		return fmt.Errorf("console %q: login as %q: %w (device said %q)", c.cfg.Name, l.user, ErrLoginIncorrect, m.Text)
	case kLogin:
		return fmt.Errorf("console %q: login as %q: %w (the login prompt came back)", c.cfg.Name, l.user, ErrLoginIncorrect)
	case kLockout:
		return fmt.Errorf("console %q: login as %q: %w (device said %q)", c.cfg.Name, l.user, ErrLockedOut, m.Text)
	}
	return nil // the shell prompt
}

func (l *login) pause(ctx context.Context) error {
	if l.c.cfg.AnswerDelay <= 0 {
		return nil
	}
	t := time.NewTimer(min(l.c.cfg.AnswerDelay, l.left()))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt makes one login attempt. intended is false when the attempt
// made was not the one intended (err says why); prompt then says a fresh
// login prompt has just been matched.
func (l *login) attempt(ctx context.Context, havePrompt bool) (intended, prompt bool, err error) {
	c := l.c
	p := c.cfg.Prompts
	if !havePrompt {
		k, m, err := l.prompt(ctx)
		if err != nil {
			return true, false, l.fail("waiting for the login prompt", err)
		}
		if k == kLockout {
			return true, false, l.outcome(k, m)
		}
	}
	// Several prompts may be queued (each newline sent asks for one):
	// answer the last, or the next would read as "prompt came back".
	for {
		if _, err := c.wait(ctx, Wait{For: []Pattern{p.Login}}, true); err != nil {
			break
		}
	}
	if err := l.pause(ctx); err != nil {
		return true, false, l.fail("before sending the user name", err)
	}
	if err := c.SendLine(ctx, l.user); err != nil {
		return true, false, l.fail("sending the user name", err)
	}
	var k int
	var m *Match
	echo := l.user + "\n"
	for range 10 {
		k, m, err = l.wait(ctx, 0, kPassword, kShell, kFailed, kLockout, kLogin)
		if err != nil {
			return true, false, l.fail("waiting for the password prompt", err)
		}
		// A login prompt before the echo of the user name (on a line of
		// its own, right after the prompt answered) was queued before it
		// was sent, not an answer to it.
		if k != kLogin || strings.HasPrefix(m.Before, echo) || strings.Contains(m.Before, "\n"+echo) {
			break
		}
	}
	if k != kPassword {
		return true, false, l.outcome(k, m)
	}
	// The password prompt is for the user the device read: what it echoed
	// since the login prompt must be the user name and nothing else.
	if got := strings.Trim(m.Before, "\n"); got != l.user {
		why := fmt.Errorf("the device echoed %q, not the user name, before asking for a password: it took other input as the user name", got)
		// End that attempt without the password; its outcome is not ours.
		if err := c.SendLine(ctx, ""); err != nil {
			return true, false, l.fail("ending the unintended attempt", err)
		}
		k, m, err = l.wait(ctx, 0, kShell, kFailed, kLockout, kLogin)
		switch {
		case err != nil:
			return true, false, l.fail("waiting for the unintended attempt to end", err)
		case k == kShell:
			return true, false, fmt.Errorf("console %q: login as %q: %w: %v, and that login succeeded: a shell of another user is open", c.cfg.Name, l.user, ErrLoginDisturbed, why)
		case k == kLockout:
			return true, false, fmt.Errorf("console %q: login as %q: %w: %v, and the device then said %q", c.cfg.Name, l.user, ErrLoginDisturbed, why, m.Text)
		}
		return false, k == kLogin, why
	}
	if err := l.pause(ctx); err != nil {
		return true, false, l.fail("before sending the password", err)
	}
	if err := c.SendSecret(ctx, l.password); err != nil {
		return true, false, l.fail("sending the password", err)
	}
	if err := c.SendLine(ctx, ""); err != nil { // the newline is no secret
		return true, false, l.fail("sending the password", err)
	}
	k, m, err = l.wait(ctx, 0, kShell, kFailed, kLockout, kLogin)
	if err != nil {
		return true, false, l.fail("waiting for the shell prompt", err)
	}
	out := l.outcome(k, m)
	if c.cfg.RequireEchoOff && l.password != "" && strings.Contains(m.Before, l.password) {
		return true, false, &EchoError{Console: c.cfg.Name, User: l.user, Outcome: out}
	}
	return true, false, out
}

// prompt gets a login prompt nobody has read: one pending, one that comes
// within PromptQuiet, or one asked for with a newline when that is safe.
func (l *login) prompt(ctx context.Context) (int, *Match, error) {
	c := l.c
	quiet := c.cfg.PromptQuiet
	if quiet <= 0 {
		quiet = time.Second
	}
	k, m, err := l.wait(ctx, quiet, kLogin, kLockout)
	if err == nil || !errors.Is(err, ErrTimeout) || time.Until(l.deadline) <= 0 {
		return k, m, err
	}
	c.mu.Lock()
	why := c.st.whyNotAsk(c.cfg.Prompts.Autoboot)
	c.mu.Unlock()
	if why != "" {
		c.Note("login: not asking for a login prompt: " + why)
	} else {
		c.Note("login: no login prompt pending: asking for one")
		if err := c.SendLine(ctx, ""); err != nil {
			return 0, nil, err
		}
	}
	return l.wait(ctx, 0, kLogin, kLockout)
}

// Result is what Run got back.
type Result struct {
	Output    string // normalized output, without the echoed command line
	Status    int    // the command's exit status ($?)
	Truncated bool   // the output was longer than Config.Backlog; its beginning is missing
}

// Run runs a shell command (one line) on the device within timeout
// (positive), sending included, and returns its output and exit status.
// It sends
//
//	echo __CB''NONCE_S__; COMMAND; echo __CB''NONCE_$?__
//
// and takes as the output exactly what comes between the line
// __CB<NONCE>_S__ and __CB<NONCE>_<status>__, which only the shell's
// running of the line prints: the echoed command line shows ” and $?, so
// neither marker is in it, however the shell wraps it at the terminal's
// width or redraws it (a wrap or a redraw inserts line ends and escape
// sequences into the echo, it never removes the quotes). Prompt-like
// text in the output is never mistaken for the end. Then, if
// Config.Prompts.Shell is set, it waits for the prompt so the next
// command starts clean. Call it at a shell prompt.
func (c *Console) Run(ctx context.Context, command string, timeout time.Duration) (Result, error) {
	if strings.ContainsAny(command, "\r\n") {
		return Result{}, fmt.Errorf("console %q: run %q: one line only: join commands with ; or &&", c.cfg.Name, command)
	}
	if timeout <= 0 {
		return Result{}, fmt.Errorf("console %q: run %q: timeout %v: give a positive timeout", c.cfg.Name, command, timeout)
	}
	began := time.Now()
	deadline := began.Add(timeout)
	// Sending (with Config.CharDelay) may use up the time; what is left
	// may then be zero or less, which a Wait would take for "no limit".
	left := func() time.Duration { return max(time.Until(deadline), time.Nanosecond) }
	nonce := newNonce()
	begin := Literal("__CB" + nonce + "_S__\n")
	end := MustRegexp(`__CB` + nonce + `_(?P<status>\d{1,3})__`)
	cmd := strings.TrimRight(strings.TrimSpace(command), ";")
	sep := "; "
	if strings.HasSuffix(cmd, "&") && !strings.HasSuffix(cmd, "&&") {
		sep = " " // "cmd &; echo" is a syntax error
	}
	line := "echo __CB''" + nonce + "_S__; "
	if cmd != "" {
		line += cmd + sep
	}
	line += "echo __CB''" + nonce + "_$?__"
	if err := c.SendLine(ctx, line); err != nil {
		return Result{}, fmt.Errorf("run %q: %w", command, err)
	}
	if _, err := c.Wait(ctx, Wait{For: []Pattern{begin}, Timeout: left()}); err != nil {
		return Result{}, fmt.Errorf("run %q: the shell did not start it: %w", command, sinceStart(err, began))
	}
	m, err := c.Wait(ctx, Wait{For: []Pattern{end}, Timeout: left()})
	if err != nil {
		return Result{}, fmt.Errorf("run %q: %w", command, sinceStart(err, began))
	}
	res := Result{Output: strings.TrimSuffix(m.Before, "\n"), Truncated: m.Truncated}
	res.Status, _ = strconv.Atoi(m.Groups["status"]) // \d{1,3}: always a number
	if !c.cfg.Prompts.Shell.IsZero() {
		if _, err := c.Wait(ctx, Wait{For: []Pattern{c.cfg.Prompts.Shell}, Timeout: left()}); err != nil {
			return res, fmt.Errorf("run %q: finished with status %d, then %w", command, res.Status, sinceStart(err, began))
		}
	}
	return res, nil
}

// sinceStart makes a timeout say how long the whole Login or Run took,
// not just its last wait (which may have had only a nanosecond left).
func sinceStart(err error, start time.Time) error {
	var te *TimeoutError
	if errors.As(err, &te) {
		te.After = time.Since(start)
	}
	return err
}

func newNonce() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("console: no randomness for the run marker: " + err.Error()))
	}
	return hex.EncodeToString(b)
}
