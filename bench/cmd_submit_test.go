package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSubmitAndFleetThroughTheBinary: bench agent with no broker in the
// bench file embeds one; bench fleet lists the bench online with its
// fixtures; bench submit --wait runs a job, stores and verifies the
// records and exits like bench run (1: a flawed unit FAILs; 0: the good
// unit alone; 2: no bench key to verify with; 2: an unknown suite).
func TestSubmitAndFleetThroughTheBinary(t *testing.T) {
	skipOnNonLinux(t)
	dir := startSimLab(t, "--units", "2", "--flaw", "cam-2:uart-root-shell", "--scale", "0.05")
	if code, o, e := runBin(t, nil, "keygen", "--key", filepath.Join(dir, "controller.key")); code != 0 {
		t.Fatalf("keygen: %d\n%s%s", code, o, e)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	benchFile := filepath.Join(dir, "bench.yaml")
	f, _ := os.OpenFile(benchFile, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "fleet:\n  controllers: [controller.pub]\n")
	f.Close()
	l := &fleetLab{dir: dir, benchFile: benchFile}
	l.agentArgs = []string{"--listen", addr}
	l.agent(t)
	broker := "tcp://" + addr

	code, out, errOut := runBin(t, nil, "fleet", "--broker", broker)
	if code != 0 || !strings.Contains(out, "sim-lab") || !strings.Contains(out, "online") || !strings.Contains(out, "cam-2") {
		t.Fatalf("bench fleet: %d\n%s%s", code, out, errOut)
	}
	store := filepath.Join(dir, "received")
	submit := func(args ...string) (int, string, string) {
		return runBin(t, nil, append([]string{"submit", "--broker", broker, "--bench", "sim-lab", "--key", filepath.Join(dir, "controller.key"),
			"--out", store, "--wait"}, args...)...)
	}
	code, out, errOut = submit("--bench-key", filepath.Join(dir, "bench.pub"))
	if code != exitFail || !strings.Contains(out, "cam-1\tPASS") || !strings.Contains(out, "cam-2\tFAIL") || strings.Contains(out, "\tNO") {
		t.Fatalf("submit, both units: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "debug-interfaces/uart-shell-needs-auth FAIL") {
		t.Errorf("progress lacks the FAIL:\n%s", errOut)
	}
	runs, _ := filepath.Glob(filepath.Join(store, "sim-lab", "runs", "*", "record.dsse.json"))
	if len(runs) != 2 {
		t.Fatalf("stored runs: %v", runs)
	}
	for _, r := range runs {
		if code, o, e := runBin(t, nil, "verify", "--key", filepath.Join(dir, "bench.pub"), filepath.Dir(r)); code != 0 {
			t.Fatalf("stored run does not verify: %d\n%s%s", code, o, e)
		}
	}
	if code, out, errOut = submit("--bench-key", filepath.Join(dir, "bench.pub"), "-f", "cam-1"); code != 0 {
		t.Fatalf("submit, good unit: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut = submit("-f", "cam-1"); code != exitUsage || !strings.Contains(errOut, "--bench-key") {
		t.Fatalf("submit without a bench key: exit %d, want 2\n%s%s", code, out, errOut)
	}
	if code, out, errOut = submit("-s", "no-such-suite"); code != exitUsage || !strings.Contains(errOut, "refused") {
		t.Fatalf("submit, unknown suite: exit %d, want 2\n%s%s", code, out, errOut)
	}
}
