// Package consoletest provides the far side of a console link for tests:
// a pty whose master the test drives while the console opens the slave by
// path, a TCP server playing a serial server (ser2net in raw mode), and
// Far, the device's end of either, which collects what the console sends.
//
// Both can vanish and come back, as real ports do: PTY.Hangup and
// PTY.Replace, Server.Restart.
package consoletest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Guard bounds every wait in this package: a failure guard, not a delay.
const Guard = 10 * time.Second

// PTY is a pseudo-terminal standing in for a UART. The console opens
// Path, a symlink (like /dev/serial/by-id/...) to the slave; the test
// plays the device on Far, the master.
type PTY struct {
	t    testing.TB
	Path string // symlink to the current slave, e.g. /tmp/.../ttyDEV
	mu   sync.Mutex
	far  *Far
	tty  *os.File
}

// NewPTY makes a pty and the symlink to its slave. It is closed at the
// end of the test.
func NewPTY(t testing.TB) *PTY {
	p := &PTY{t: t, Path: filepath.Join(t.TempDir(), "ttyDEV")}
	p.Replace()
	t.Cleanup(p.Hangup)
	return p
}

// Far returns the device's end of the current pty.
func (p *PTY) Far() *Far {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.far
}

// Hangup closes the master, as a device whose USB adapter loses power:
// the slave node disappears and the console's reads fail. Path goes too, as
// a /dev/serial/by-id link does on unplugging: the kernel soon hands the
// freed /dev/pts number to the next pty opened anywhere on the machine
// (another test package's), and a console reopening a link left pointing
// there would read that pty's bytes.
func (p *PTY) Hangup() {
	p.mu.Lock()
	defer p.mu.Unlock()
	os.Remove(p.Path)
	if p.far != nil {
		p.far.Close()
		p.tty.Close()
		p.far, p.tty = nil, nil
	}
}

// Vanish closes the master but leaves Path pointing at the freed
// /dev/pts number, as a bridge that died without removing its link; Tty
// says which number that was.
func (p *PTY) Vanish() (tty string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.far != nil {
		tty = p.tty.Name()
		p.far.Close()
		p.tty.Close()
		p.far, p.tty = nil, nil
	}
	return tty
}

// Stranger opens ptys until the kernel hands out tty (a /dev/pts path
// freed by Vanish) to one made after made, as it would to the next program
// on the machine that opens a pty, and returns that pty's master, in raw
// mode. The kernel gives the lowest free number, so this is normally the
// first pty opened; a pty's creation time has the kernel's clock-tick
// granularity (a few ms), so one made within the tick of made is closed
// and opened again until the tick has passed.
func Stranger(t testing.TB, tty string, made time.Time) *Far {
	t.Helper()
	for range 1 << 20 {
		ptmx, slave, err := pty.Open()
		if err != nil {
			t.Fatalf("open pty: %v", err)
		}
		if slave.Name() != tty {
			t.Cleanup(func() { ptmx.Close(); slave.Close() })
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(slave.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		if !time.Unix(st.Ctim.Unix()).After(made) {
			ptmx.Close()
			slave.Close()
			continue
		}
		master := nonblocking(t, ptmx)
		raw(t, slave)
		t.Cleanup(func() { slave.Close() })
		return NewFar(t, master)
	}
	t.Fatalf("the kernel did not hand out %s again", tty)
	return nil
}

// Replace makes a fresh pty and points Path at it, as a device coming
// back (perhaps under another /dev/pts number). The old one is closed.
func (p *PTY) Replace() *Far {
	p.Hangup()
	ptmx, tty, err := pty.Open()
	if err != nil {
		p.t.Fatalf("open pty: %v", err)
	}
	master := nonblocking(p.t, ptmx)
	raw(p.t, tty)
	tmp := p.Path + ".new"
	os.Remove(tmp)
	if err := os.Symlink(tty.Name(), tmp); err != nil {
		p.t.Fatalf("symlink pty: %v", err)
	}
	if err := os.Rename(tmp, p.Path); err != nil {
		p.t.Fatalf("symlink pty: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.far, p.tty = NewFar(p.t, master), tty
	return p.far
}

// nonblocking returns a non-blocking copy of a pty master. The master
// comes back in blocking mode, and closing a blocking *os.File waits for
// the Read in progress: the master would stay open and Hangup would not
// hang up. A non-blocking copy goes through Go's poller, whose Close
// interrupts the Read and closes at once.
func nonblocking(t testing.TB, ptmx *os.File) *os.File {
	fd, err := unix.Dup(int(ptmx.Fd()))
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		t.Fatalf("pty master: %v", err)
	}
	master := os.NewFile(uintptr(fd), ptmx.Name())
	ptmx.Close()
	return master
}

// raw makes the slave raw from the start, so nothing the device writes
// before the console opens is echoed back or translated by the line
// discipline.
func raw(t testing.TB, tty *os.File) {
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("pty termios: %v", err)
	}
	tio.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Iflag &^= unix.ICRNL | unix.IXON | unix.INLCR | unix.IGNCR
	tio.Oflag &^= unix.OPOST
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatalf("pty termios: %v", err)
	}
}

// Server plays a serial server's raw TCP port on 127.0.0.1.
type Server struct {
	t     testing.TB
	Addr  string
	mu    sync.Mutex
	ln    net.Listener
	conns chan net.Conn
	far   *Far
}

// NewServer listens on a free loopback port until the end of the test.
func NewServer(t testing.TB) *Server {
	s := &Server{t: t, Addr: "127.0.0.1:0"}
	s.listen()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) listen() {
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(Guard); ; {
		// The port may still be in TIME_WAIT cleanup right after a stop.
		if ln, err = net.Listen("tcp", s.Addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("listen %s: %v", s.Addr, err)
	}
	conns := make(chan net.Conn, 4)
	s.mu.Lock()
	s.ln, s.Addr, s.conns = ln, ln.Addr().String(), conns
	s.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
}

// Far waits for the console to connect and returns the device's end.
func (s *Server) Far() *Far {
	s.mu.Lock()
	conns, far := s.conns, s.far
	s.mu.Unlock()
	if far != nil {
		return far
	}
	select {
	case c, ok := <-conns:
		if !ok {
			s.t.Fatalf("server %s stopped before the console connected", s.Addr)
		}
		far = NewFar(s.t, c)
	case <-time.After(Guard):
		s.t.Fatalf("console did not connect to %s within %v", s.Addr, Guard)
	}
	s.mu.Lock()
	s.far = far
	s.mu.Unlock()
	return far
}

// Stop closes the listener and the connection, like a server going down.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	if s.far != nil {
		s.far.Close()
		s.far = nil
	}
}

// Restart stops the server and listens again on the same port.
func (s *Server) Restart() {
	s.Stop()
	s.listen()
}

// Far is the device's end of a link: it collects everything the console
// sends, and writes what the device says.
type Far struct {
	t      testing.TB
	rw     io.ReadWriteCloser
	mu     sync.Mutex
	got    bytes.Buffer
	mark   int // Expect looks from here on
	update chan struct{}
	closed bool
}

// NewFar starts collecting from rw.
func NewFar(t testing.TB, rw io.ReadWriteCloser) *Far {
	f := &Far{t: t, rw: rw, update: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := rw.Read(buf)
			f.mu.Lock()
			f.got.Write(buf[:n])
			close(f.update)
			f.update = make(chan struct{})
			f.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return f
}

// Write sends s to the console, as the device printing it.
func (f *Far) Write(s string) {
	f.t.Helper()
	if _, err := io.WriteString(f.rw, s); err != nil {
		f.t.Errorf("device write %q: %v", s, err)
	}
}

// WriteBytes is Write for arbitrary bytes.
func (f *Far) WriteBytes(b []byte) {
	f.t.Helper()
	if _, err := f.rw.Write(b); err != nil {
		f.t.Errorf("device write: %v", err)
	}
}

// Expect waits until the console has sent s (after what earlier Expects
// matched) and returns what came before it.
func (f *Far) Expect(s string) string {
	f.t.Helper()
	got, err := f.Await(s, Guard)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

// Await is Expect returning an error instead of failing the test, for
// device goroutines.
func (f *Far) Await(s string, within time.Duration) (string, error) {
	deadline := time.After(within)
	for {
		f.mu.Lock()
		data := f.got.Bytes()[f.mark:]
		if i := bytes.Index(data, []byte(s)); i >= 0 {
			before := string(data[:i])
			f.mark += i + len(s)
			f.mu.Unlock()
			return before, nil
		}
		update := f.update
		f.mu.Unlock()
		select {
		case <-update:
		case <-deadline:
			return "", fmt.Errorf("device did not receive %q within %v; got %q", s, within, data)
		}
	}
}

// ReadLine waits for the next line the console sends (ending in \n or
// \r) and returns it without the line end.
func (f *Far) ReadLine(within time.Duration) (string, error) {
	deadline := time.After(within)
	for {
		f.mu.Lock()
		data := f.got.Bytes()[f.mark:]
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			line := string(data[:i])
			f.mark += i + 1
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				f.mark++
			}
			f.mu.Unlock()
			return strings.TrimRight(line, "\r\n"), nil
		}
		update := f.update
		f.mu.Unlock()
		select {
		case <-update:
		case <-deadline:
			return "", errors.New("no line from the console")
		}
	}
}

// Received returns everything the console has sent so far.
func (f *Far) Received() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got.String()
}

// Close closes the device's end.
func (f *Far) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.mu.Unlock()
	f.rw.Close()
}
