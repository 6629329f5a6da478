package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
	"golang.org/x/sys/unix"
)

// Port says how to reach a console: Serial (a local UART) or TCP (a serial
// server such as ser2net in raw mode). Accept a Port in config, build a
// Serial or TCP value.
type Port interface {
	// open connects; called again to reopen after a loss. accept sees
	// what the port leads to before anything is opened or sent, and may
	// refuse it (the error is returned).
	open(ctx context.Context, accept func(Identity) error) (conn, error)
	// String names the port for messages and the transcript.
	String() string
}

var (
	_ Port = Serial{}
	_ Port = TCP{}
)

// conn is an open port.
type conn interface {
	// Read returns (0, nil) when no data came in a while: the caller
	// loops. Any error means the port is gone (or was closed).
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Close() error
	// identity is what the port resolved to when opened.
	identity() Identity
	// discard reads and returns what the port had received before it was
	// opened, then drops anything left in the input buffers.
	discard() ([]byte, error)
}

// Serial is a local UART, named by Path or by USB identity.
type Serial struct {
	// Path of the device node: /dev/serial/by-id/... (stable across
	// re-plugging; prefer it), /dev/ttyUSB0, or a pty such as /dev/pts/3.
	Path string
	// With no Path, the USB serial adapter with this vendor and product
	// ID (hex, e.g. "0403" and "6001") and, if set, this serial number.
	// It is looked up again on every reopen.
	VID, PID, SerialNumber string

	Baud     int    // default 115200
	DataBits int    // 5 to 8, default 8
	Parity   string // "none" (default), "odd", "even", "mark", "space"
	StopBits int    // 1 (default) or 2
}

// Validate checks the settings without touching the hardware.
func (s Serial) Validate() error {
	_, err := s.mode()
	if err == nil && s.Path == "" && (s.VID == "" || s.PID == "") {
		err = errors.New("serial port: set a path (e.g. /dev/serial/by-id/usb-FTDI_...) or a USB vid and pid")
	}
	return err
}

func (s Serial) mode() (*serial.Mode, error) {
	m := &serial.Mode{BaudRate: s.Baud, DataBits: s.DataBits}
	if m.BaudRate == 0 {
		m.BaudRate = 115200
	}
	if m.BaudRate < 0 {
		return nil, fmt.Errorf("serial %s: baud rate %d: give a positive rate such as 115200", s, s.Baud)
	}
	if m.DataBits == 0 {
		m.DataBits = 8
	}
	if m.DataBits < 5 || m.DataBits > 8 {
		return nil, fmt.Errorf("serial %s: data bits %d: give 5, 6, 7 or 8", s, s.DataBits)
	}
	switch strings.ToLower(s.Parity) {
	case "", "none", "n":
		m.Parity = serial.NoParity
	case "odd", "o":
		m.Parity = serial.OddParity
	case "even", "e":
		m.Parity = serial.EvenParity
	case "mark", "m":
		m.Parity = serial.MarkParity
	case "space", "s":
		m.Parity = serial.SpaceParity
	default:
		return nil, fmt.Errorf("serial %s: parity %q: give none, odd, even, mark or space", s, s.Parity)
	}
	switch s.StopBits {
	case 0, 1:
		m.StopBits = serial.OneStopBit
	case 2:
		m.StopBits = serial.TwoStopBits
	default:
		return nil, fmt.Errorf("serial %s: stop bits %d: give 1 or 2", s, s.StopBits)
	}
	// No InitialStatusBits: setting DTR/RTS is a modem-line ioctl, which
	// fails on a pty and would make a virtual console unopenable.
	return m, nil
}

func (s Serial) String() string {
	if s.Path != "" {
		return s.Path
	}
	id := "usb " + s.VID + ":" + s.PID
	if s.SerialNumber != "" {
		id += " serial " + s.SerialNumber
	}
	return id
}

// pollGone is how often an idle serial port checks that its device node
// still exists.
const pollGone = 250 * time.Millisecond

func (s Serial) open(ctx context.Context, accept func(Identity) error) (conn, error) {
	mode, err := s.mode()
	if err != nil {
		return nil, err
	}
	path := s.Path
	if path == "" {
		if path, err = s.find(); err != nil {
			return nil, err
		}
	}
	node, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w", path, explainSerial(path, err))
	}
	id, err := identify(s.String(), path, node)
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w", path, explainSerial(path, err))
	}
	if err := accept(id); err != nil {
		return nil, err
	}
	// A second descriptor of the node carries the advisory lock (the
	// serial library does not show its own) and drains what was
	// buffered before the console opened.
	lock, err := unix.Open(node, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w", path, explainSerial(path, err))
	}
	if err := id.opened(lock); err != nil {
		unix.Close(lock)
		return nil, fmt.Errorf("open serial port %s: %w", path, err)
	}
	if err := lockNode(node, lock); err != nil {
		unix.Close(lock)
		return nil, fmt.Errorf("open serial port %s: %w", path, err)
	}
	p, err := serial.Open(node, mode)
	if err != nil {
		unix.Close(lock)
		return nil, fmt.Errorf("open serial port %s: %w", path, explainSerial(path, err))
	}
	if err := p.SetReadTimeout(pollGone); err != nil {
		p.Close()
		unix.Close(lock)
		return nil, fmt.Errorf("open serial port %s: set read timeout: %w", path, err)
	}
	return &serialConn{Port: p, path: path, id: id, lock: lock}, nil
}

// find resolves a USB identity to a device path.
func (s Serial) find() (string, error) {
	ports, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return "", fmt.Errorf("serial %s: list USB serial ports: %w", s, err)
	}
	return s.pick(ports)
}

// pick chooses the one USB port matching s among ports.
func (s Serial) pick(ports []*enumerator.PortDetails) (string, error) {
	var found, seen []string
	for _, p := range ports {
		if !p.IsUSB {
			continue
		}
		seen = append(seen, fmt.Sprintf("%s (vid %s pid %s serial %q)", p.Name, p.VID, p.PID, p.SerialNumber))
		if strings.EqualFold(p.VID, s.VID) && strings.EqualFold(p.PID, s.PID) &&
			(s.SerialNumber == "" || p.SerialNumber == s.SerialNumber) {
			found = append(found, p.Name)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return "", fmt.Errorf("serial %s: %d adapters match (%s): set the serial number to pick one", s, len(found), strings.Join(found, ", "))
	case len(seen) == 0:
		return "", fmt.Errorf("serial %s: no USB serial adapter is plugged in: check the cable and that the adapter is powered", s)
	}
	return "", fmt.Errorf("serial %s: no USB serial adapter matches; present: %s", s, strings.Join(seen, "; "))
}

func explainSerial(path string, err error) error {
	var pe *serial.PortError
	if errors.As(err, &pe) {
		switch pe.Code() {
		case serial.PermissionDenied:
			return fmt.Errorf("%w: add the bench user to the dialout group (sudo usermod -aG dialout $USER, then log in again) or fix the udev rule for %s", err, path)
		case serial.PortBusy:
			return fmt.Errorf("%w: another program has it open (screen, minicom, ModemManager, another bench?)", err)
		case serial.InvalidSerialPort:
			return fmt.Errorf("%w: %s is not a serial port", err, path)
		}
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%w: no such device: check the adapter is plugged in and the path (ls -l /dev/serial/by-id/)", err)
	}
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%w: add the bench user to the dialout group", err)
	}
	return err
}

// serialConn tells "no data yet" (a read timeout: (0, nil)) from "adapter
// gone": on each timeout it checks the device node still exists, since a
// USB adapter that loses power may otherwise just stay silent.
type serialConn struct {
	serial.Port
	path   string
	id     Identity
	lock   int // a descriptor of the node holding the flock; non-blocking
	closed atomic.Bool
	unlock sync.Once
}

func (c *serialConn) identity() Identity { return c.id }

// discard drains the input queue through the lock's non-blocking
// descriptor (the port is in raw mode by now, so a partial line such as
// "login: " is readable), then flushes the input buffers (tcflush), which
// on a USB adapter also clears the adapter's own FIFO. Bytes arriving
// between the two are dropped unseen: a window of microseconds.
func (c *serialConn) discard() ([]byte, error) {
	var out []byte
	buf := make([]byte, readSize)
	for len(out) < 1<<20 {
		n, err := unix.Read(c.lock, buf)
		out = append(out, buf[:max(n, 0)]...)
		if err != nil || n == 0 {
			break // EAGAIN: drained
		}
	}
	if err := c.Port.ResetInputBuffer(); err != nil {
		return out, fmt.Errorf("flush input of %s: %w", c.path, err)
	}
	return out, nil
}

func (c *serialConn) Read(p []byte) (int, error) {
	n, err := c.Port.Read(p)
	if n == 0 && err == nil {
		if _, serr := os.Stat(c.path); errors.Is(serr, fs.ErrNotExist) {
			return 0, fmt.Errorf("%s disappeared", c.path)
		}
	}
	var pe *serial.PortError
	if err != nil && errors.As(err, &pe) && pe.Code() == serial.PortClosed && !c.closed.Load() {
		// go.bug.st/serial reports a hang-up as "port closed"; we did
		// not close it.
		err = fmt.Errorf("%s hung up (adapter unplugged or unpowered, or the pty's far side closed): %w", c.path, err)
	}
	return n, err
}

func (c *serialConn) Close() error {
	c.closed.Store(true)
	err := c.Port.Close()
	c.unlock.Do(func() { unix.Close(c.lock) })
	return err
}

// TCP is a serial server's raw TCP port (ser2net "raw" mode, a terminal
// server's "raw TCP" setting): bytes pass through unchanged, no telnet
// negotiation.
type TCP struct {
	Addr string // host:port
}

func (t TCP) String() string { return "tcp " + t.Addr }

// Validate checks the address's form without connecting.
func (t TCP) Validate() error {
	if _, _, err := net.SplitHostPort(t.Addr); err != nil {
		return fmt.Errorf("serial server address %q: %v: write host:port, e.g. 127.0.0.1:2001", t.Addr, err)
	}
	return nil
}

func (t TCP) open(ctx context.Context, accept func(Identity) error) (conn, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	id := Identity{Port: t.String(), Kind: "tcp", Addr: t.Addr}
	if err := accept(id); err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial serial server %s: %w: check the server (ser2net) is running, listens on that port in raw mode, and the address", t.Addr, err)
	}
	return tcpConn{c, id}, nil
}

type tcpConn struct {
	net.Conn
	id Identity
}

func (c tcpConn) identity() Identity { return c.id }

// discard keeps a serial server's bytes: it cannot tell those buffered
// before the connection from those printed since.
func (c tcpConn) discard() ([]byte, error) { return nil, nil }

func (c tcpConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n == 0 && err == nil {
		err = io.ErrNoProgress // never (0, nil) from a net.Conn, but be sure
	}
	return n, err
}
