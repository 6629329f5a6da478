//go:build unix

package power

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/power/powertest"
	"periph.io/x/conn/v3/gpio"
)

// TestSIGTERMDrivesRelaySafe sends a real SIGTERM to a child process (this
// test binary, running signalChild) that holds a relay on, and checks from
// the child's event file and its report that the relay went to its safe
// level.
func TestSIGTERMDrivesRelaySafe(t *testing.T) {
	events := filepath.Join(t.TempDir(), "power-cam-1.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSignalChild$")
	cmd.Env = append(os.Environ(), "POWER_SIGNAL_CHILD="+events)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("child said %q (%v), want ready", lines.Text(), lines.Err())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var report []string
	for lines.Scan() {
		report = append(report, lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v; said %q", err, report)
	}
	if len(report) == 0 || report[0] != "line=High cause=interrupted by signal terminated" {
		t.Errorf("child reported %q, want the line High (safe, active-low) after SIGTERM", report)
	}
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct{ Action, Level string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		got = append(got, e.Action+" "+e.Level)
	}
	if strings.Join(got, ",") != "on Low,safe High" {
		t.Errorf("event file has %q, want on Low, safe High", got)
	}
}

// TestSignalChild is the child of TestSIGTERMDrivesRelaySafe; alone it
// does nothing.
func TestSignalChild(t *testing.T) {
	events := os.Getenv("POWER_SIGNAL_CHILD")
	if events == "" {
		t.Skip("run by TestSIGTERMDrivesRelaySafe")
	}
	f, err := os.Create(events)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pin := powertest.Register(t, "GPIO17", gpio.High)
	var safety Safety
	ctx, stop := safety.NotifyContext(context.Background())
	r, err := NewRelay(RelayConfig{Line: "GPIO17", ActiveLow: true, Log: NewLog(f, time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	safety.Register("fixture cam-1 power", r)
	if err := r.On(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	<-ctx.Done()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("line=%s cause=%v\n", pin.Read(), context.Cause(ctx))
}
