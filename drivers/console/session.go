package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Login logs in with user and password using Config.Prompts, within
// timeout (positive), sending included. It returns nil once the shell prompt appears, or an error that
// tells the outcomes apart:
//   - ErrLoginIncorrect: the Failed pattern appeared, or the login
//     prompt came back (devices that refuse silently);
//   - ErrLockedOut: the Lockout pattern appeared;
//   - ErrTimeout: none of the prompts appeared in time;
//   - ErrLost, ErrClosed, ctx's error: the bench's side failed.
//
// It waits for the login prompt first, so call it when the device shows
// one (send a newline first to ask for a fresh one). Login prompts queued
// up before the user name went out (Enter pressed several times) are
// skipped: a prompt counts as "came back" only after the device echoed
// the user name. If the device asks
// for no password, the shell prompt after the user name is a success.
// The password is sent like any input, so it is in the transcript.
func (c *Console) Login(ctx context.Context, user, password string, timeout time.Duration) error {
	p := c.cfg.Prompts
	if p.Login.IsZero() || p.Shell.IsZero() {
		return fmt.Errorf("console %q: login needs the profile's login and shell prompts", c.cfg.Name)
	}
	if timeout <= 0 {
		return fmt.Errorf("console %q: login as %q: timeout %v: give a positive timeout", c.cfg.Name, user, timeout)
	}
	began := time.Now()
	deadline := began.Add(timeout)
	left := func() time.Duration { return max(time.Until(deadline), time.Nanosecond) }
	fail := func(step string, err error) error {
		return fmt.Errorf("login as %q: %s: %w", user, step, err)
	}
	// Each wait lists the prompts it accepts; kinds names them in order.
	const (
		kLogin = iota
		kPassword
		kShell
		kFailed
		kLockout
	)
	wait := func(kinds ...int) (int, *Match, error) {
		var ps []Pattern
		for _, k := range kinds {
			ps = append(ps, [...]Pattern{p.Login, p.Password, p.Shell, p.Failed, p.Lockout}[k])
		}
		m, err := c.Wait(ctx, Wait{For: ps, Timeout: left()})
		if err != nil {
			return 0, nil, sinceStart(err, began)
		}
		return kinds[m.Index], m, nil
	}
	outcome := func(k int, m *Match) error {
		switch k {
		case kFailed:
			return fmt.Errorf("console %q: login as %q: %w (device said %q)", c.cfg.Name, user, ErrLoginIncorrect, m.Text)
		case kLogin:
			return fmt.Errorf("console %q: login as %q: %w (the login prompt came back)", c.cfg.Name, user, ErrLoginIncorrect)
		case kLockout:
			return fmt.Errorf("console %q: login as %q: %w (device said %q)", c.cfg.Name, user, ErrLockedOut, m.Text)
		}
		return nil // the shell prompt
	}

	k, m, err := wait(kLogin, kLockout)
	if err != nil {
		return fail("waiting for the login prompt", err)
	}
	if k == kLockout {
		return outcome(k, m)
	}
	// Several prompts may be queued (each newline sent asks for one):
	// answer the last, or the next would read as "prompt came back".
	for {
		if _, err := c.wait(ctx, Wait{For: []Pattern{p.Login}}, true); err != nil {
			break
		}
	}
	if err := c.SendLine(ctx, user); err != nil {
		return fail("sending the user name", err)
	}
	for range 10 {
		k, m, err = wait(kPassword, kShell, kFailed, kLockout, kLogin)
		if err != nil {
			return fail("waiting for the password prompt", err)
		}
		// A login prompt before the echo of the user name (on a line of
		// its own, right after the prompt answered) was queued before it
		// was sent, not an answer to it.
		echo := user + "\n"
		if k != kLogin || strings.HasPrefix(m.Before, echo) || strings.Contains(m.Before, "\n"+echo) {
			break
		}
	}
	if k != kPassword {
		return outcome(k, m)
	}
	if err := c.SendLine(ctx, password); err != nil {
		return fail("sending the password", err)
	}
	k, m, err = wait(kShell, kFailed, kLockout, kLogin)
	if err != nil {
		return fail("waiting for the shell prompt", err)
	}
	return outcome(k, m)
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
//	COMMAND; echo __CB_''NONCE_$?__
//
// and waits for __CB_NONCE_<digits>__, which only the shell's expansion
// produces: the echoed command line shows ” and $? and cannot match, and
// prompt-like text in the output is never mistaken for the end. Then, if
// Config.Prompts.Shell is set, it waits for the prompt so the next command
// starts clean. Call it at a shell prompt.
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
	marker := MustRegexp(`__CB_` + nonce + `_(?P<status>\d{1,3})__`)
	cmd := strings.TrimRight(strings.TrimSpace(command), ";")
	sep := "; "
	if strings.HasSuffix(cmd, "&") && !strings.HasSuffix(cmd, "&&") {
		sep = " " // "cmd &; echo" is a syntax error
	}
	echo := "__CB_''" + nonce + "_$?__"
	if cmd == "" {
		sep = ""
	}
	if err := c.SendLine(ctx, cmd+sep+"echo "+echo); err != nil {
		return Result{}, fmt.Errorf("run %q: %w", command, err)
	}
	m, err := c.Wait(ctx, Wait{For: []Pattern{marker}, Timeout: left()})
	if err != nil {
		return Result{}, fmt.Errorf("run %q: %w", command, sinceStart(err, began))
	}
	out := m.Before
	// Drop the echoed command line: everything up to the end of the line
	// holding the unexpanded marker.
	if i := strings.LastIndex(out, nonce+"_$?__"); i >= 0 {
		out = out[i:]
		if j := strings.IndexByte(out, '\n'); j >= 0 {
			out = out[j+1:]
		} else {
			out = ""
		}
	}
	res := Result{Output: strings.TrimSuffix(out, "\n"), Truncated: m.Truncated}
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
