package network

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshDevice is an SSH server with one account, by password or by
// keyboard-interactive, locked after lockAfter failures: it then says so in
// its banner and refuses even the right password.
type sshDevice struct {
	password    string
	interactive bool // keyboard-interactive only
	open        bool // no authentication at all
	lockAfter   int

	mu    sync.Mutex
	fails int
	key   ssh.PublicKey
}

func startSSH(t *testing.T, dev *sshDevice) string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dev.key = signer.PublicKey()
	check := func(pass string) error {
		dev.mu.Lock()
		defer dev.mu.Unlock()
		if dev.lockAfter > 0 && dev.fails >= dev.lockAfter {
			return errors.New("locked")
		}
		if pass == dev.password {
			return nil
		}
		dev.fails++
		return errors.New("wrong password")
	}
	cfg := &ssh.ServerConfig{
		NoClientAuth: dev.open,
		BannerCallback: func(ssh.ConnMetadata) string {
			dev.mu.Lock()
			defer dev.mu.Unlock()
			if dev.lockAfter > 0 && dev.fails >= dev.lockAfter {
				return "Account locked: too many failed logins\n"
			}
			return "GW-2 gateway\n"
		},
	}
	if dev.interactive {
		cfg.KeyboardInteractiveCallback = func(c ssh.ConnMetadata, ch ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := ch(c.User(), "", []string{"Password: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			return nil, check(ans[0])
		}
	} else {
		cfg.PasswordCallback = func(c ssh.ConnMetadata, pass []byte) (*ssh.Permissions, error) {
			return nil, check(string(pass))
		}
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				for range chans {
				}
				sc.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func TestSSHLogin(t *testing.T) {
	for _, interactive := range []bool{false, true} {
		t.Run(fmt.Sprintf("interactive=%v", interactive), func(t *testing.T) {
			const pw = "Label-Pass-42"
			dev := &sshDevice{password: pw, interactive: interactive, lockAfter: 2}
			addr := startSSH(t, dev)
			var ev evidence
			s := &SSH{Addr: addr, Rec: NewRecorder(&ev, time.Time{}), Lockout: regexp.MustCompile(`(?i)locked`)}
			ctx := t.Context()
			if err := s.Login(ctx, "admin", pw); err != nil {
				t.Fatalf("right password: %v\n%s", err, ev.String())
			}
			for range 2 {
				err := s.Login(ctx, "admin", "wrong-password")
				if !errors.Is(err, ErrDenied) || !strings.HasPrefix(err.Error(), "ssh login admin@"+addr+": credentials refused") {
					t.Fatalf("wrong password: %v\n%s", err, ev.String())
				}
			}
			err := s.Login(ctx, "admin", pw)
			var e *Error
			if !errors.Is(err, ErrLocked) || !errors.As(err, &e) || !strings.Contains(e.Said, "Account locked") {
				t.Fatalf("while locked: %v, want locked out with the banner", err)
			}
			ev.noSecret(t, pw)
			want := "ssh-ed25519 " + ssh.FingerprintSHA256(dev.key)
			if !strings.Contains(ev.String(), `"event":"hostkey","detail":"`+want+`"`) {
				t.Errorf("host key %s not recorded:\n%s", want, ev.String())
			}
		})
	}
}

func TestSSHFaults(t *testing.T) {
	ctx := t.Context()
	open := startSSH(t, &sshDevice{open: true})
	if err := (&SSH{Addr: open}).Login(ctx, "admin", "x"); !errors.Is(err, ErrNoLogin) {
		t.Errorf("no authentication: %v, want no login", err)
	}
	// A server that accepts and hangs up; one that never speaks.
	hang, _ := net.Listen("tcp", "127.0.0.1:0")
	defer hang.Close()
	silent, _ := net.Listen("tcp", "127.0.0.1:0")
	defer silent.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var mu sync.Mutex
	var held []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	if err := (&SSH{Addr: hang.Addr().String()}).Login(ctx, "admin", "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("hang-up: %v, want closed", err)
	}
	if err := (&SSH{Addr: silent.Addr().String(), Timeout: time.Millisecond}).Login(ctx, "admin", "x"); !errors.Is(err, ErrTimeout) {
		t.Errorf("silent: %v, want timeout", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- (&SSH{Addr: silent.Addr().String(), Timeout: time.Hour}).Login(cctx, "admin", "x") }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if err := (&SSH{Addr: addr}).Login(ctx, "admin", "x"); !errors.Is(err, ErrRefused) {
		t.Errorf("closed port: %v, want refused", err)
	}
}
