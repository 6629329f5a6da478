package network

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// telnetServer is a small telnet server speaking the negotiation a
// busybox or embedded telnetd opens with (DO TTYPE, WILL ECHO, WILL SGA,
// DO NAWS), then a getty: login prompt, password prompt, a shell, a lock
// after lockAfter failures. It records the option replies it got.
type telnetServer struct {
	ln        net.Listener
	password  string
	lockAfter int
	hangUp    bool // close the connection after the user name
	silent    bool // send nothing at all

	replies chan []byte // the client's IAC replies of each connection
	fails   int
}

func startTelnet(t *testing.T, ts *telnetServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.ln = ln
	ts.replies = make(chan []byte, 16)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go ts.serve(c)
		}
	}()
	return ln.Addr().String()
}

// serverRead reads input bytes, collecting IAC triples apart.
type serverRead struct {
	r       *bufio.Reader
	replies []byte
}

func (s *serverRead) line() (string, error) {
	var b []byte
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == tIAC {
			cmd, _ := s.r.ReadByte()
			opt, _ := s.r.ReadByte()
			s.replies = append(s.replies, tIAC, cmd, opt)
			continue
		}
		if c == '\r' {
			if n, _ := s.r.Peek(1); len(n) == 1 && (n[0] == '\n' || n[0] == 0) {
				s.r.ReadByte()
			}
			return string(b), nil
		}
		b = append(b, c)
	}
}

func (ts *telnetServer) serve(c net.Conn) {
	defer c.Close()
	if ts.silent {
		bufio.NewReader(c).ReadByte() // until the client goes
		return
	}
	c.Write([]byte{tIAC, tDO, 24, tIAC, tWILL, 1, tIAC, tWILL, 3, tIAC, tDO, 31})
	c.Write([]byte("\x1b[2J\r\nGW-2 gateway\r\ngw login: "))
	sr := &serverRead{r: bufio.NewReader(c)}
	defer func() { ts.replies <- sr.replies }()
	for {
		user, err := sr.line()
		if err != nil {
			return
		}
		if ts.hangUp {
			return
		}
		c.Write([]byte(user + "\r\nPassword: "))
		pass, err := sr.line()
		if err != nil {
			return
		}
		switch {
		case ts.lockAfter > 0 && ts.fails >= ts.lockAfter:
			c.Write([]byte("\r\nToo many failed logins: locked for 60 s\r\ngw login: "))
		case user == "admin" && pass == ts.password:
			c.Write([]byte("\r\nBusyBox v1.35.0 built-in shell (ash)\r\n# "))
			sr.line()
			return
		default:
			ts.fails++
			c.Write([]byte("\r\nLogin incorrect\r\ngw login: "))
		}
	}
}

func TestTelnetLogin(t *testing.T) {
	ts := &telnetServer{password: "correct-horse"}
	addr := startTelnet(t, ts)
	var ev evidence
	tn := &Telnet{Addr: addr, Prompts: shellPrompts, Rec: NewRecorder(&ev, time.Time{})}
	if err := tn.Login(t.Context(), "admin", "correct-horse"); err != nil {
		t.Fatal(err)
	}
	// Each option the server proposed was refused, once: WONT to DO,
	// DONT to WILL.
	want := []byte{tIAC, tWONT, 24, tIAC, tDONT, 1, tIAC, tDONT, 3, tIAC, tWONT, 31}
	if got := <-ts.replies; !bytes.Equal(got, want) {
		t.Errorf("option replies % x, want % x", got, want)
	}
	ev.noSecret(t, "correct-horse")
	recs := ev.records(t)
	if last := recs[len(recs)-1]; last.Event != EventClose {
		t.Errorf("last record %+v, want the close", last)
	}
	var outcome string
	for _, r := range recs {
		if r.Event == EventOutcome {
			outcome = r.Detail
		}
		if r.Proto != "telnet" || r.Addr != addr || r.Conn != 1 || r.Wall == "" {
			t.Errorf("record %+v: want proto telnet, addr %s, conn 1, wall time", r, addr)
		}
	}
	if outcome != "ok" {
		t.Errorf("outcome %q, want ok", outcome)
	}
}

func TestTelnetOutcomes(t *testing.T) {
	ctx := t.Context()
	t.Run("denied", func(t *testing.T) {
		addr := startTelnet(t, &telnetServer{password: "correct-horse"})
		err := (&Telnet{Addr: addr, Prompts: shellPrompts}).Login(ctx, "admin", "12345")
		if !errors.Is(err, ErrDenied) || !strings.HasPrefix(err.Error(), "telnet login admin@"+addr+": credentials refused") {
			t.Fatalf("got %v, want credentials refused", err)
		}
	})
	t.Run("short password redacted where sent", func(t *testing.T) {
		// Too short to be searched for in the device's text, so only the
		// send's own redaction keeps it out.
		addr := startTelnet(t, &telnetServer{password: "correct-horse"})
		var ev evidence
		err := (&Telnet{Addr: addr, Prompts: shellPrompts, Rec: NewRecorder(&ev, time.Time{})}).Login(ctx, "admin", "q7Z")
		if !errors.Is(err, ErrDenied) {
			t.Fatalf("got %v", err)
		}
		ev.noSecret(t, "q7Z")
	})
	t.Run("denied without a failed prompt", func(t *testing.T) {
		addr := startTelnet(t, &telnetServer{password: "correct-horse"})
		p := shellPrompts
		p.Failed = nil
		err := (&Telnet{Addr: addr, Prompts: p}).Login(ctx, "admin", "12345")
		if !errors.Is(err, ErrDenied) {
			t.Fatalf("got %v, want credentials refused (the login prompt came back)", err)
		}
	})
	t.Run("locked", func(t *testing.T) {
		ts := &telnetServer{password: "correct-horse", lockAfter: 1}
		addr := startTelnet(t, ts)
		tn := &Telnet{Addr: addr, Prompts: shellPrompts}
		c, err := tn.Dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(ctx, "admin", "wrong"); !errors.Is(err, ErrDenied) {
			t.Fatalf("first: %v", err)
		}
		// A correct password refused while locked is a lock, not a denial.
		err = c.Login(ctx, "admin", "correct-horse")
		var e *Error
		if !errors.Is(err, ErrLocked) || !errors.As(err, &e) || !strings.Contains(e.Said, "Too many failed logins") {
			t.Fatalf("got %v, want locked out with the device's words", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		addr := startTelnet(t, &telnetServer{hangUp: true})
		err := (&Telnet{Addr: addr, Prompts: shellPrompts}).Login(ctx, "admin", "x")
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v, want closed", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		err := (&Telnet{Addr: addr, Prompts: shellPrompts}).Login(ctx, "admin", "x")
		if !errors.Is(err, ErrRefused) || !strings.HasPrefix(err.Error(), "telnet connect "+addr+": connection refused") {
			t.Fatalf("got %v, want refused", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		addr := startTelnet(t, &telnetServer{silent: true})
		err := (&Telnet{Addr: addr, Prompts: shellPrompts, Timeout: time.Millisecond}).Login(ctx, "admin", "x")
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("got %v, want timeout", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		addr := startTelnet(t, &telnetServer{silent: true})
		cctx, cancel := context.WithCancel(ctx)
		tn := &Telnet{Addr: addr, Prompts: shellPrompts, Timeout: time.Hour}
		c, err := tn.Dial(cctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		done := make(chan error)
		go func() { done <- c.Login(cctx, "admin", "x") }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
	t.Run("no prompts", func(t *testing.T) {
		err := (&Telnet{Addr: "127.0.0.1:1"}).Login(ctx, "admin", "x")
		if !errors.Is(err, ErrBench) {
			t.Fatalf("got %v, want a bench fault", err)
		}
	})
}

// TestTelnetBusybox logs in through Debian's busybox telnetd, in inetd
// mode on a connection this test accepts, running a login script.
func TestTelnetBusybox(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("busybox is not installed (apt-get install busybox-static)")
		}
		t.Skip("busybox is not installed")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "login")
	os.WriteFile(script, []byte(`#!`+bb+` sh
printf 'gw login: '; read u
stty -echo; printf 'Password: '; read p; stty echo; echo
if [ "$u" = admin ] && [ "$p" = "s3cret-Pass" ]; then printf '# '; read x; exit 0; fi
echo 'Login incorrect'
`), 0o755)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f, _ := c.(*net.TCPConn).File()
			c.Close()
			cmd := exec.Command(bb, "telnetd", "-i", "-l", script)
			cmd.Stdin, cmd.Stdout = f, f
			cmd.Start()
			f.Close()
			go cmd.Wait()
		}
	}()
	addr := ln.Addr().String()
	var ev evidence
	tn := &Telnet{Addr: addr, Prompts: shellPrompts, Rec: NewRecorder(&ev, time.Time{})}
	if err := tn.Login(t.Context(), "admin", "s3cret-Pass"); err != nil {
		t.Fatalf("%v\nevidence:\n%s", err, ev.String())
	}
	if err := tn.Login(t.Context(), "admin", "wrong-Pass"); !errors.Is(err, ErrDenied) {
		t.Fatalf("wrong password: %v\nevidence:\n%s", err, ev.String())
	}
	ev.noSecret(t, "s3cret-Pass")
	if !strings.Contains(ev.String(), `"refused options: `) {
		t.Errorf("busybox telnetd's options were not refused:\n%s", ev.String())
	}
}
