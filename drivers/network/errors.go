package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// What a probe found, as sentinels for errors.Is. The first five are the
// device's behaviour, for a case to judge; ErrBench is the bench's own
// side (a case's verdict is ERROR); a cancelled ctx gives ctx's error.
var (
	// ErrRefused: nothing listens at the address (TCP RST to the SYN).
	ErrRefused = errors.New("connection refused")
	// ErrClosed: the device closed or reset the connection mid-exchange.
	ErrClosed = errors.New("connection closed by the device")
	// ErrTimeout: no answer, or not the one awaited, within the timeout.
	ErrTimeout = errors.New("timed out")
	// ErrDenied: the device refused the credentials (a wrong password).
	ErrDenied = errors.New("credentials refused")
	// ErrLocked: the device refused because logins are locked (brute-force
	// prevention): a lockout message, HTTP 429, and the like.
	ErrLocked = errors.New("locked out")
	// ErrNoLogin: the device gave access without asking for credentials
	// (a shell before any login prompt, a page served without a challenge).
	ErrNoLogin = errors.New("access given without a login")
	// ErrNotAuthorized: MQTT CONNACK 5: the credentials were not accepted
	// as authorising this client (brokers differ on when they say 4 or 5).
	ErrNotAuthorized = errors.New("not authorized")
	// ErrUnavailable: the service said it cannot serve now (MQTT CONNACK 3,
	// HTTP 503 without a lock).
	ErrUnavailable = errors.New("server unavailable")
	// ErrUnexpected: the device answered something the probe cannot read
	// as success or refusal (HTTP 500, a protocol error); the case decides.
	ErrUnexpected = errors.New("unexpected answer")
	// ErrBench: the bench's own fault: bad arguments, the evidence could
	// not be written, no route from the bench.
	ErrBench = errors.New("bench fault")
)

// Error is what every probe returns on failure: what was done (Op, with
// the user when a login was tried) on which address, the kind (one of the
// sentinels above, or ctx's error), what the device said, and the cause.
//
//	telnet login admin@127.0.0.1:2323: credentials refused (device said "Login incorrect")
type Error struct {
	Op   string // "telnet login", "http basic GET /", "ssh login", "mqtt connect"
	User string // "" when no login was tried
	Addr string
	Kind error
	Said string // the device's words that decided it, when there are any
	// RetryAfter is how long a locked HTTP interface asked to wait
	// (Retry-After), 0 when it did not say.
	RetryAfter time.Duration
	Err        error // the underlying error, if any
}

func (e *Error) Error() string {
	who := e.Addr
	if e.User != "" {
		who = e.User + "@" + e.Addr
	}
	s := fmt.Sprintf("%s %s: %v", e.Op, who, e.Kind)
	if e.Said != "" {
		s += fmt.Sprintf(" (device said %q)", e.Said)
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %v)", e.RetryAfter)
	}
	if e.Err != nil && e.Err != e.Kind {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches the kind, so errors.Is(err, ErrLocked) works.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap gives the cause, for errors.As (a *net.OpError, say).
func (e *Error) Unwrap() error { return e.Err }

// classify names the kind of a transport error. ctx decides between a
// deadline of ours and a cancellation.
func classify(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return ErrTimeout
		}
		return ctxErr
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrRefused
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return ErrClosed
	}
	return ErrBench
}
