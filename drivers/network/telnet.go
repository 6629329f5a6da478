package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"
)

// Telnet protocol bytes (RFC 854, 855).
const (
	tIAC  = 255
	tDONT = 254
	tDO   = 253
	tWONT = 252
	tWILL = 251
	tSB   = 250
	tSE   = 240
)

// Prompts are what a device prints around a login, from its profile (the
// same prompts the console drives). Login and Shell are required; Password
// is required unless the device asks for none; Failed and Lockout tell a
// refusal and a lock apart from a login prompt that merely came back.
// Patterns see normalized text: telnet commands, NUL bytes and ANSI escape
// sequences removed, and CR, LF and CRLF each made one "\n" (as the console
// normalizes); a profile's literal prompt is regexp.QuoteMeta of it.
type Prompts struct {
	Login    *regexp.Regexp // e.g. `login: $`
	Password *regexp.Regexp // e.g. `Password: $`
	Shell    *regexp.Regexp // e.g. `[#$] $`
	Failed   *regexp.Regexp // e.g. `Login incorrect`
	Lockout  *regexp.Regexp // e.g. `(?i)locked|too many`
}

// Telnet logs in over telnet (RFC 854) as a minimal client does: it refuses
// every option the server proposes (WONT to each DO, DONT to each WILL:
// no echo negotiation, no terminal type, no window size), so the exchange
// is plain NVT text, and answers the prompts it is given.
type Telnet struct {
	Addr    string // host:port
	Prompts Prompts
	Newline string        // ends each line sent; default "\r\n" (NVT)
	Timeout time.Duration // bounds a connect and each login or wait; default 10s
	Rec     *Recorder     // nil records nothing
}

// DefaultTimeout is a probe's timeout when it sets none.
const DefaultTimeout = 10 * time.Second

func (t *Telnet) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return DefaultTimeout
}

// Login connects, logs in as user and closes: nil when the shell prompt
// came; otherwise an *Error of kind ErrDenied, ErrLocked, ErrNoLogin (a
// shell with no login asked), ErrTimeout, ErrRefused, ErrClosed, ErrBench,
// or ctx's error.
func (t *Telnet) Login(ctx context.Context, user, password string) error {
	c, err := t.Dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Login(ctx, user, password)
}

// TelnetConn is one telnet connection. It is not safe for concurrent use.
type TelnetConn struct {
	t   *Telnet
	c   net.Conn
	x   *exchange
	op  string
	usr string

	st      telnetState
	buf     []byte // normalized text received
	from    int    // the start of what the next wait looks at
	readErr error  // the connection's end, once seen
}

// Dial connects. ctx and the timeout bound the connect.
func (t *Telnet) Dial(ctx context.Context) (*TelnetConn, error) {
	fail := func(kind, err error) error {
		return &Error{Op: "telnet connect", Addr: t.Addr, Kind: kind, Err: err}
	}
	if t.Prompts.Login == nil || t.Prompts.Shell == nil {
		return nil, fail(ErrBench, errors.New("no login or shell prompt: give the profile's prompts"))
	}
	dctx, cancel := context.WithTimeout(ctx, t.timeout())
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp", t.Addr)
	if err != nil {
		return nil, fail(classify(ctx, err), err)
	}
	x := t.Rec.open("telnet", t.Addr)
	x.event(EventConnect, c.LocalAddr().String()+" -> "+c.RemoteAddr().String())
	return &TelnetConn{t: t, c: c, x: x, op: "telnet"}, nil
}

// Close closes the connection.
func (c *TelnetConn) Close() error {
	err := c.c.Close()
	c.x.event(EventClose, "by the bench")
	return err
}

func (c *TelnetConn) newline() string {
	if c.t.Newline != "" {
		return c.t.Newline
	}
	return "\r\n"
}

func (c *TelnetConn) fail(kind error, said string, err error) error {
	return &Error{Op: c.op, User: c.usr, Addr: c.t.Addr, Kind: kind, Said: said, Err: err}
}

// SendLine sends s and the newline, recorded as sent.
func (c *TelnetConn) SendLine(ctx context.Context, s string) error {
	return c.send(ctx, s+c.newline(), false)
}

// SendSecret sends s and the newline; the record shows Redacted instead.
func (c *TelnetConn) SendSecret(ctx context.Context, s string) error {
	return c.send(ctx, s+c.newline(), true)
}

func (c *TelnetConn) send(ctx context.Context, s string, secret bool) error {
	if secret {
		c.x.txRedacted(Redacted + c.newline())
	} else {
		c.x.tx([]byte(s))
	}
	c.c.SetWriteDeadline(time.Now().Add(c.t.timeout()))
	stop := context.AfterFunc(ctx, func() { c.c.SetWriteDeadline(time.Now()) })
	defer stop()
	if _, err := c.c.Write(escapeIAC([]byte(s))); err != nil {
		return c.fail(classify(ctx, err), "", err)
	}
	return nil
}

func escapeIAC(p []byte) []byte {
	out := make([]byte, 0, len(p))
	for _, b := range p {
		out = append(out, b)
		if b == tIAC {
			out = append(out, tIAC)
		}
	}
	return out
}

// Match is what a wait found.
type Match struct {
	Index  int    // which pattern
	Text   string // the text it matched
	Before string // the text between the previous match and this one
	Line   string // the line the match is on, as far as received
}

// Expect waits up to timeout for the first of ps to appear in the text
// since the previous match: the match that ends first, ties going to the
// pattern listed first. Nil patterns are skipped. It consumes the text up
// to the end of the match.
func (c *TelnetConn) Expect(ctx context.Context, timeout time.Duration, ps ...*regexp.Regexp) (Match, error) {
	deadline := time.Now().Add(timeout)
	stop := context.AfterFunc(ctx, func() { c.c.SetReadDeadline(time.Now()) })
	defer stop()
	chunk := make([]byte, 4096)
	for {
		if m, ok := c.find(ps); ok {
			return m, nil
		}
		if c.readErr != nil {
			return Match{}, c.fail(classify(ctx, c.readErr), c.tail(), c.readErr)
		}
		if err := ctx.Err(); err != nil {
			return Match{}, c.fail(classify(ctx, err), c.tail(), err)
		}
		c.c.SetReadDeadline(deadline)
		n, err := c.c.Read(chunk)
		if n > 0 {
			c.x.rx(chunk[:n])
			c.feed(chunk[:n])
		}
		if err != nil {
			kind := classify(ctx, err)
			if kind == ErrTimeout || kind == ctx.Err() {
				return Match{}, c.fail(kind, c.tail(), err)
			}
			c.readErr = err // what was read before the end is still matched
			c.x.event(EventClose, "by the device: "+err.Error())
		}
	}
}

// find looks for the earliest-ending match in the text not yet consumed.
func (c *TelnetConn) find(ps []*regexp.Regexp) (Match, bool) {
	text := c.buf[c.from:]
	best, bestEnd, bestStart := -1, 0, 0
	for i, p := range ps {
		if p == nil {
			continue
		}
		loc := p.FindIndex(text)
		if loc != nil && (best < 0 || loc[1] < bestEnd) {
			best, bestStart, bestEnd = i, loc[0], loc[1]
		}
	}
	if best < 0 {
		return Match{}, false
	}
	m := Match{Index: best, Text: string(text[bestStart:bestEnd]), Before: string(text[:bestStart])}
	ls := bytes.LastIndexByte(text[:bestStart], '\n') + 1
	le := bytes.IndexByte(text[bestEnd:], '\n')
	if le < 0 {
		le = len(text)
	} else {
		le += bestEnd
	}
	m.Line = strings.TrimSpace(string(text[ls:le]))
	c.from += bestEnd
	return m, true
}

// tail is the end of the text received, for messages.
func (c *TelnetConn) tail() string {
	const n = 200
	t := c.buf[max(0, len(c.buf)-n):]
	return string(t)
}

// maxBuf bounds the text kept; a login is a few hundred bytes.
const maxBuf = 64 << 10

// telnetState is where the parser is between two reads.
type telnetState struct {
	cmd    byte // 0, tIAC, or the command awaiting its option byte
	sb     bool // inside a subnegotiation
	sbIAC  bool // an IAC seen inside it
	esc    int  // 0; 1 after ESC; 2 inside a CSI sequence
	lastCR bool
}

// feed parses received bytes: it answers option requests, drops telnet
// commands and subnegotiations, and appends normalized text.
func (c *TelnetConn) feed(p []byte) {
	st := &c.st
	var reply []byte
	for _, b := range p {
		switch {
		case st.sb:
			switch {
			case st.sbIAC && b == tSE:
				st.sb, st.sbIAC = false, false
			case st.sbIAC:
				st.sbIAC = false
			case b == tIAC:
				st.sbIAC = true
			}
			continue
		case st.cmd == tIAC:
			st.cmd = 0
			switch b {
			case tIAC:
				c.text(b) // an escaped 255
			case tDO, tDONT, tWILL, tWONT:
				st.cmd = b
			case tSB:
				st.sb = true
			}
			continue
		case st.cmd != 0:
			switch st.cmd {
			case tDO:
				reply = append(reply, tIAC, tWONT, b)
			case tWILL:
				reply = append(reply, tIAC, tDONT, b)
			}
			st.cmd = 0
			continue
		case b == tIAC:
			st.cmd = tIAC
			continue
		}
		c.text(b)
	}
	if len(reply) > 0 {
		c.x.event(EventNote, "refused options: "+optionNames(reply))
		c.x.tx(reply) // as b64: the bytes are not text
		c.c.SetWriteDeadline(time.Now().Add(c.t.timeout()))
		c.c.Write(reply) // a failure shows on the next read
	}
	if len(c.buf) > maxBuf {
		cut := len(c.buf) - maxBuf/2
		c.buf = append(c.buf[:0], c.buf[cut:]...)
		c.from = max(0, c.from-cut)
	}
}

// text appends one data byte, normalized.
func (c *TelnetConn) text(b byte) {
	st := &c.st
	switch st.esc {
	case 1:
		if b == '[' {
			st.esc = 2
		} else {
			st.esc = 0
		}
		return
	case 2:
		if b >= 0x40 && b <= 0x7e {
			st.esc = 0
		}
		return
	}
	switch b {
	case 0x1b:
		st.esc = 1
		return
	case 0:
		return
	case '\r':
		st.lastCR = true
		c.buf = append(c.buf, '\n')
		return
	case '\n':
		if st.lastCR {
			st.lastCR = false
			return
		}
	}
	st.lastCR = false
	c.buf = append(c.buf, b)
}

// Login logs in as user on this connection (see Telnet.Login). The
// password is sent with SendSecret.
func (c *TelnetConn) Login(ctx context.Context, user, password string) error {
	c.op, c.usr = "telnet login", user
	c.x.hide(password)
	err := c.login(ctx, user, password)
	c.x.outcome(err)
	return err
}

func (c *TelnetConn) login(ctx context.Context, user, password string) error {
	p := c.t.Prompts
	deadline := time.Now().Add(c.t.timeout())
	left := func() time.Duration { return max(time.Until(deadline), time.Nanosecond) }
	const (
		kLogin = iota
		kPassword
		kShell
		kFailed
		kLockout
	)
	wait := func(step string, kinds ...int) (int, Match, error) {
		ps := make([]*regexp.Regexp, len(kinds))
		for i, k := range kinds {
			ps[i] = [...]*regexp.Regexp{p.Login, p.Password, p.Shell, p.Failed, p.Lockout}[k]
		}
		m, err := c.Expect(ctx, left(), ps...)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Op = c.op + " (" + step + ")"
			}
			return 0, m, err
		}
		return kinds[m.Index], m, nil
	}
	outcome := func(k int, m Match) error {
		switch k {
		case kShell:
			return nil
		case kFailed:
			return c.fail(ErrDenied, m.Line, nil)
		case kLockout:
			return c.fail(ErrLocked, m.Line, nil)
		case kLogin:
			return c.fail(ErrDenied, "", errors.New("the login prompt came back"))
		}
		return c.fail(ErrUnexpected, m.Text, nil)
	}

	k, m, err := wait("waiting for the login prompt", kLogin, kPassword, kShell, kLockout)
	if err != nil {
		return err
	}
	switch k {
	case kShell:
		return c.fail(ErrNoLogin, m.Text, nil)
	case kLockout:
		return outcome(k, m)
	case kLogin:
		if err := c.SendLine(ctx, user); err != nil {
			return err
		}
		k, m, err = wait("waiting for the password prompt", kPassword, kShell, kFailed, kLockout, kLogin)
		if err != nil {
			return err
		}
		if k != kPassword {
			return outcome(k, m)
		}
	}
	if err := c.SendSecret(ctx, password); err != nil {
		return err
	}
	k, m, err = wait("waiting for the shell prompt", kShell, kFailed, kLockout, kLogin)
	if err != nil {
		return err
	}
	return outcome(k, m)
}

// optionNames names the replies in reply (IAC cmd opt triples).
func optionNames(reply []byte) string {
	var s []byte
	for i := 0; i+2 < len(reply); i += 3 {
		if i > 0 {
			s = append(s, ", "...)
		}
		cmd := map[byte]string{tWONT: "WONT", tDONT: "DONT"}[reply[i+1]]
		s = fmt.Appendf(s, "%s %d", cmd, reply[i+2])
	}
	return string(s)
}
