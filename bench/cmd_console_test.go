package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// syncBuffer is a bytes.Buffer safe to write from Attach and read from the
// test; each write wakes a waiter.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{}, 1)
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

func (s *syncBuffer) wake() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{}, 1)
	}
	return s.changed
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestConsolePassesThroughAndRecords(t *testing.T) {
	skipOnNonLinux(t)
	dev, tty, err := pty.Open() // dev plays the device; the bench opens tty's path
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	defer tty.Close()
	path := writeBench(t, `  - name: cam-1
    power: {command: {on: ["true"], off: ["true"]}}
    console: {port: `+tty.Name()+`}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	transcript := filepath.Join(t.TempDir(), "t.jsonl")
	userIn, userKeys, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer userIn.Close()
	var screen, msgs syncBuffer

	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { done <- consoleCommand(ctx, userIn, &screen, &msgs, path, "cam-1", transcript) }()

	// The user types a line; the device receives it and answers.
	if _, err := userKeys.WriteString("uname\r"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(dev)
	line, err := r.ReadString('\r')
	if err != nil || !strings.HasSuffix(line, "uname\r") {
		t.Fatalf("device read %q, %v", line, err)
	}
	if _, err := dev.WriteString("Linux simcam\r\n# "); err != nil {
		t.Fatal(err)
	}
	// Quit with Ctrl-] q once the answer is on the screen.
	for !strings.Contains(screen.String(), "Linux simcam") {
		select {
		case err := <-done:
			t.Fatalf("console ended early: %v; screen %q", err, screen.String())
		case <-ctx.Done():
			t.Fatalf("answer never reached the screen: %q", screen.String())
		case <-screen.wake():
		}
	}
	userKeys.Write([]byte{0x1d, 'q'})
	if err := <-done; err != nil {
		t.Fatalf("console: %v", err)
	}
	rec, err := os.ReadFile(transcript)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"dir":"tx","text":"uname\r"`, `"dir":"rx","text":"Linux simcam\r\n# "`} {
		if !strings.Contains(string(rec), want) {
			t.Errorf("transcript lacks %s:\n%s", want, rec)
		}
	}
	if strings.Contains(string(rec), "\\u001d") {
		t.Errorf("the escape sequence was sent to the device:\n%s", rec)
	}
	if !strings.Contains(msgs.String(), transcript) {
		t.Errorf("transcript path not told to the user: %q", msgs.String())
	}
}

func TestConsoleNeverOverwritesATranscript(t *testing.T) {
	serial := listen(t)
	path := writeBench(t, `  - name: cam-1
    power: {command: {on: ["true"], off: ["true"]}}
    console: {tcp: "`+serial.Addr().String()+`"}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	old := filepath.Join(t.TempDir(), "old.jsonl")
	os.WriteFile(old, []byte("evidence\n"), 0o644)
	code, _, errs := runBin(t, strings.NewReader(""), "console", "-c", path, "--transcript", old, "cam-1")
	if code != exitUsage || !strings.Contains(errs, "--transcript") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if b, _ := os.ReadFile(old); string(b) != "evidence\n" {
		t.Fatalf("transcript overwritten: %q", b)
	}
}

func TestConsoleThatDidNotOpenLeavesNoTranscript(t *testing.T) {
	path := writeBench(t, `  - name: cam-1
    power: {command: {on: ["true"], off: ["true"]}}
    console: {port: sim-lab/units/cam-1/tty}
    profile: profile.yaml
    declarations: declarations.yaml
`)
	tr := filepath.Join(t.TempDir(), "cam-1.jsonl")
	for i := range 2 { // the same --transcript again: the port, not "file exists"
		code, _, errs := runBin(t, strings.NewReader(""), "console", "-c", path, "--transcript", tr, "cam-1")
		if code != exitIncomplete || !strings.Contains(errs, "does not exist") || !strings.Contains(errs, "resolve against its folder") {
			t.Fatalf("try %d: exit %d, stderr %q", i+1, code, errs)
		}
		if _, err := os.Stat(tr); err == nil {
			t.Fatalf("try %d: a console that did not open left a transcript", i+1)
		}
	}
}

// TestConsoleSignalClosesTranscript: a session ended by a signal (a closed
// terminal, kill, Ctrl-C, Ctrl-\) leaves a transcript that says so and
// ends with its close event; the transcript is its owner's alone (it holds
// typed passwords).
func TestConsoleSignalClosesTranscript(t *testing.T) {
	skipOnNonLinux(t)
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			_, ptyPath := openPTY(t)
			path := writeBench(t, `  - name: cam-1
    power: {command: {on: ["true"], off: ["true"]}}
    console: {port: `+ptyPath+`}
    profile: profile.yaml
    declarations: declarations.yaml
`)
			tr := filepath.Join(t.TempDir(), "t.jsonl")
			keys, userKeys, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer keys.Close()
			defer userKeys.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			p := startProc(t, "", os.Environ(), keys, "console", "-c", path, "--transcript", tr, "cam-1")
			p.waitFor(t, ctx, "connected to")
			p.cmd.Process.Signal(sig)
			if code := p.exitCode(t); code != exitIncomplete {
				t.Fatalf("exit %d:\n%s", code, p.out.String())
			}
			evs := transcriptEvents(t, tr)
			if len(evs) < 3 || evs[len(evs)-1] != "close " || evs[len(evs)-2] != "note session ended by signal "+sig.String() {
				t.Fatalf("transcript events %q, want ... note (the signal), close", evs)
			}
			fi, err := os.Stat(tr)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("transcript mode %v (%v), want 0600", fi.Mode().Perm(), err)
			}
		})
	}
}
