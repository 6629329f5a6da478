package power

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestSecondHangupIsDropped: after the first signal, a closed terminal's
// SIGHUP (or SIGPIPE) must not end the process while it goes safe and
// writes its last events. The test binary itself would die if it did.
func TestSecondHangupIsDropped(t *testing.T) {
	var safety Safety
	release := make(chan struct{})
	safety.Register("slow", stuck{release})
	ctx, stop := safety.NotifyContext(context.Background()) // Signals
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	// The safe state is still running (stuck), as a PDU's off would be.
	// Sent to this thread, a signal is handled before Tgkill returns, so
	// it is handled while the handling under test is in place.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGPIPE} {
		if err := syscall.Tgkill(syscall.Getpid(), syscall.Gettid(), sig); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := stop(); err == nil || !strings.Contains(err.Error(), "PDU timed out") {
		t.Errorf("stop = %v, want the safe state's error", err)
	}
	var se *SignalError
	if !errors.As(context.Cause(ctx), &se) || se.Signal != syscall.SIGUSR2 {
		t.Errorf("cause %v, want the first signal, SIGUSR2", context.Cause(ctx))
	}
}
