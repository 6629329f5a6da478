package lease_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/bench/lease"
)

// TestMain doubles as the second process of TestTwoProcesses: with
// LEASE_HOLD set it takes the lease, says so, and holds it until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("LEASE_HOLD"); dir != "" {
		d := &lease.Dir{Path: dir}
		if _, err := d.Acquire(context.Background(), "cam-1", "bench run"); err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("held\n")
		select {}
	}
	os.Exit(m.Run())
}

func TestSecondTakerIsRefusedWithTheHolderNamed(t *testing.T) {
	d := &lease.Dir{Path: t.TempDir()}
	l, err := d.Acquire(t.Context(), "cam-1", "bench run")
	if err != nil {
		t.Fatal(err)
	}
	if l.TookOver != nil {
		t.Fatalf("a free fixture was taken over from %v", l.TookOver)
	}
	_, err = d.Acquire(t.Context(), "cam-1", "bench console")
	var held *lease.HeldError
	if !errors.As(err, &held) || !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("second taker: %v", err)
	}
	for _, want := range []string{`fixture "cam-1" is in use by bench run`, "pid " + itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	if _, err := d.Acquire(t.Context(), "cam-2", "bench console"); err != nil {
		t.Fatalf("another fixture: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := d.Acquire(t.Context(), "cam-1", "bench console")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if l2.TookOver != nil {
		t.Fatalf("a released lease counted as taken over: %v", l2.TookOver)
	}
	l2.Release()
}

func TestTwoProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LEASE_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("holder process: %q %v", line, err)
	}
	d := &lease.Dir{Path: dir}
	_, err = d.Acquire(t.Context(), "cam-1", "bench power")
	if !errors.Is(err, lease.ErrHeld) || !strings.Contains(err.Error(), "pid "+itoa(cmd.Process.Pid)) {
		t.Fatalf("while the other process holds it: %v", err)
	}
	// Killed without a chance to release: its lease is stale, and taken over.
	cmd.Process.Kill()
	cmd.Wait()
	l, err := d.Acquire(t.Context(), "cam-1", "bench power")
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	defer l.Release()
	if l.TookOver == nil || l.TookOver.PID != cmd.Process.Pid || l.TookOver.Purpose != "bench run" {
		t.Fatalf("took over %+v, want the dead holder's lease", l.TookOver)
	}
}

func TestStaleByExpiryAndByReusedPID(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	a := &lease.Fake{Host: "pi-a", PID: 100, Starts: map[int]uint64{100: 5000}, Now: now}
	b := &lease.Fake{Host: "pi-b", PID: 200, Starts: map[int]uint64{200: 7000}, Now: now}
	da := lease.WithSystem(&lease.Dir{Path: dir, TTL: time.Hour}, a)
	db := lease.WithSystem(&lease.Dir{Path: dir, TTL: time.Hour}, b)
	la, err := da.Acquire(t.Context(), "cam-1", "bench run")
	if err != nil {
		t.Fatal(err)
	}
	// Another host cannot see a's process: only the expiry speaks for it.
	if _, err := db.Acquire(t.Context(), "cam-1", "bench run"); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("another host before expiry: %v", err)
	}
	b.Now = now.Add(time.Hour + time.Second)
	lb, err := db.Acquire(t.Context(), "cam-1", "bench run")
	if err != nil || lb.TookOver == nil || lb.TookOver.Host != "pi-a" {
		t.Fatalf("after expiry: %v, took over %+v", err, lb)
	}
	// a's Release must leave b's lease alone.
	if err := la.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Acquire(t.Context(), "cam-1", "again"); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("the old holder's release removed the new lease: %v", err)
	}

	// Same host: PID 200 is alive but started at another time: not the holder.
	b.Starts[200] = 9999
	b.Now = now.Add(time.Hour + 2*time.Second)
	c := &lease.Fake{Host: "pi-b", PID: 300, Starts: map[int]uint64{300: 1, 200: 9999}, Now: b.Now}
	dc := lease.WithSystem(&lease.Dir{Path: dir, TTL: time.Hour}, c)
	lc, err := dc.Acquire(t.Context(), "cam-1", "bench run")
	if err != nil || lc.TookOver == nil || lc.TookOver.PID != 200 {
		t.Fatalf("reused PID: %v, took over %+v", err, lc)
	}
	// And a live holder with its own start time is respected.
	c.Starts[300] = 1
	d := &lease.Fake{Host: "pi-b", PID: 400, Starts: map[int]uint64{300: 1, 400: 2}, Now: b.Now}
	if _, err := lease.WithSystem(&lease.Dir{Path: dir, TTL: time.Hour}, d).Acquire(t.Context(), "cam-1", "x"); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("live holder on the same host: %v", err)
	}
}

func TestRenewedWhileHeld(t *testing.T) {
	dir := t.TempDir()
	d := &lease.Dir{Path: dir, TTL: 90 * time.Millisecond}
	l, err := d.Acquire(t.Context(), "cam-1", "bench run")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	files, _ := filepath.Glob(filepath.Join(dir, "cam-1~*.lease"))
	if len(files) != 1 {
		t.Fatalf("lease files: %v", files)
	}
	first, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the renewal to rewrite the expiry (an event: the file changes).
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		b, _ := os.ReadFile(files[0])
		if len(b) > 0 && string(b) != string(first) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the lease was never renewed")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSharedSessionsCoexistAndKeepARunOff(t *testing.T) {
	d := &lease.Dir{Path: t.TempDir()}
	con, err := d.Share(t.Context(), "cam-1", "bench console")
	if err != nil {
		t.Fatal(err)
	}
	pwr, err := d.Share(t.Context(), "cam-1", "bench power")
	if err != nil {
		t.Fatalf("bench power beside bench console: %v", err)
	}
	if _, err := d.Acquire(t.Context(), "cam-1", "bench run"); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("a run while people work on the fixture: %v", err)
	}
	pwr.Release()
	if _, err := d.Acquire(t.Context(), "cam-1", "bench run"); !errors.Is(err, lease.ErrHeld) || !strings.Contains(err.Error(), "bench console") {
		t.Fatalf("a run while the console is still open: %v", err)
	}
	con.Release()
	run, err := d.Acquire(t.Context(), "cam-1", "bench run")
	if err != nil {
		t.Fatalf("a run once everyone left: %v", err)
	}
	defer run.Release()
	if _, err := d.Share(t.Context(), "cam-1", "bench console"); !errors.Is(err, lease.ErrHeld) || !strings.Contains(err.Error(), "bench run") {
		t.Fatalf("a console during a run: %v", err)
	}
}
