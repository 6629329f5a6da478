package network

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSH tries a password login over SSH (golang.org/x/crypto/ssh) by the
// "password" method and by "keyboard-interactive", as many devices offer
// only the latter: each question asked without echo is answered with the
// password, each with echo with the user name. The device's host key is
// recorded (algorithm and SHA-256 fingerprint) and never checked: the
// device is what is under test, not a host to trust. SSH is encrypted, so
// the evidence holds the exchange as SSH sees it (banner, questions,
// answers redacted, the server's verdict), not bytes.
type SSH struct {
	Addr    string        // host:port
	Timeout time.Duration // bounds the connect, handshake and authentication; default 10s
	Rec     *Recorder     // nil records nothing
	// Lockout is how a lock shows in what the server sends before or
	// during authentication: its banner, a keyboard-interactive
	// instruction or question, or its disconnect message.
	Lockout *regexp.Regexp
}

// Login connects, authenticates as user and closes: nil when the server
// accepted the password; otherwise an *Error of kind ErrDenied, ErrLocked,
// ErrNoLogin (accepted with no password asked), ErrClosed (the server
// hung up or disconnected, its message in Said), ErrTimeout, ErrRefused,
// ErrUnexpected (no common algorithms, a broken handshake), or ctx's error.
func (s *SSH) Login(ctx context.Context, user, password string) error {
	x := s.Rec.open("ssh", s.Addr, password)
	return x.outcome(s.login(ctx, x, user, password))
}

var errLockShown = errors.New("lock shown")

func (s *SSH) login(ctx context.Context, x *exchange, user, password string) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	fail := func(kind error, said string, err error) error {
		return &Error{Op: "ssh login", User: user, Addr: s.Addr, Kind: kind, Said: said, Err: err}
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp", s.Addr)
	if err != nil {
		return &Error{Op: "ssh connect", Addr: s.Addr, Kind: classify(ctx, err), Err: err}
	}
	defer c.Close()
	x.event(EventConnect, c.LocalAddr().String()+" -> "+c.RemoteAddr().String())
	c.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()

	lockSaid := ""
	shows := func(text string) bool {
		if s.Lockout != nil && lockSaid == "" {
			if m := s.Lockout.FindString(text); m != "" {
				lockSaid = strings.TrimSpace(text)
			}
		}
		return lockSaid != ""
	}
	asked := false
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{
			ssh.PasswordCallback(func() (string, error) {
				asked = true
				x.txRedacted("password auth as " + user + ": " + Redacted)
				return password, nil
			}),
			ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
				x.rx([]byte("keyboard-interactive " + strings.Join(append([]string{name, instruction}, questions...), " | ")))
				if shows(name + "\n" + instruction + "\n" + strings.Join(questions, "\n")) {
					return nil, errLockShown
				}
				answers := make([]string, len(questions))
				shown := make([]string, len(questions))
				for i := range questions {
					asked = true
					answers[i], shown[i] = password, Redacted
					if echos[i] {
						answers[i], shown[i] = user, user
					}
				}
				x.txRedacted("keyboard-interactive answers: " + strings.Join(shown, " | "))
				return answers, nil
			}),
		},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			x.event(EventHostKey, key.Type()+" "+ssh.FingerprintSHA256(key))
			return nil
		},
		BannerCallback: func(msg string) error {
			x.rx([]byte("banner: " + msg))
			shows(msg)
			return nil
		},
		Timeout: timeout,
	}
	sc, chans, reqs, err := ssh.NewClientConn(c, s.Addr, cfg)
	if err == nil {
		x.event(EventNote, "server version "+string(sc.ServerVersion()))
		go ssh.DiscardRequests(reqs)
		go func() {
			for ch := range chans {
				ch.Reject(ssh.Prohibited, "")
			}
		}()
		sc.Close()
		if !asked {
			return fail(ErrNoLogin, "", nil)
		}
		return nil
	}
	msg := err.Error()
	switch {
	case lockSaid != "" || shows(msg):
		return fail(ErrLocked, lockSaid, nil)
	case strings.Contains(msg, "unable to authenticate"):
		return fail(ErrDenied, "", err)
	case strings.Contains(msg, "ssh: disconnect"):
		return fail(ErrClosed, msg, err)
	}
	kind := classify(ctx, err)
	if kind == ErrBench && strings.HasPrefix(msg, "ssh: ") {
		kind = ErrUnexpected // the server's protocol, not the bench
	}
	return fail(kind, "", err)
}
