package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/certbench/certbench/drivers/power"
)

// stopOnSignal returns ctx cancelled by the first of the signals that would
// otherwise end the bench with relays as they were (power.Signals), with the
// signal as its cause. Later signals are only answered with a line on
// stderr: records are being sealed, and a second Ctrl-C must not lose them.
// what names the command and what its stopping does, for that line.
func stopOnSignal(ctx context.Context, stderr io.Writer, name, stopping string) (context.Context, func()) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, power.Signals...)
	done := make(chan struct{})
	go func() {
		first := true
		for {
			select {
			case <-done:
				return
			case sig := <-sigs:
				if first {
					fmt.Fprintf(stderr, "%s: %s: stopping; %s\n", name, sig, stopping)
					cancel(fmt.Errorf("signal %s", sig))
					first = false
					continue
				}
				fmt.Fprintf(stderr, "%s: %s again: still sealing records, please wait\n", name, sig)
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}
