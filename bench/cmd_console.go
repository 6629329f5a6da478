package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/drivers/console"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() {
	var cfg, transcript string
	cmd := &cobra.Command{
		Use:   "console FIXTURE",
		Short: "Open an interactive terminal on a fixture's console, recorded",
		Long: `Connect this terminal to the fixture's console. Keystrokes go to the device,
its output comes here, and both directions are recorded with timestamps in a
transcript (JSON Lines, the same format runs archive as evidence).

Quit with Ctrl-] then q. Ctrl-] twice sends one Ctrl-] to the device. If the
port vanishes (a USB adapter powered by the device, a serial server restarting)
the gap is shown and recorded, and the session resumes when the port returns.

The transcript is written 0600 (readable by its owner only): it holds what
was typed, passwords included. It is never overwritten; a session whose
console did not open leaves none. A signal (SIGTERM, SIGHUP from a closed
terminal or SSH session, SIGINT, SIGQUIT) ends the session with the
transcript closed, its close event written, and exit status 3.`,
		Example: "  bench console -c bench.yaml cam-1\n  bench console -c bench.yaml cam-1 --transcript /tmp/cam-1.jsonl",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return consoleCommand(cmd.Context(), os.Stdin, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, args[0], transcript)
		},
	}
	configFlag(cmd, &cfg)
	cmd.Flags().StringVar(&transcript, "transcript", "", "transcript file (default console-FIXTURE-TIME.jsonl in the current folder)")
	root.AddCommand(cmd)
}

func consoleCommand(ctx context.Context, in *os.File, out, msg io.Writer, cfgPath, name, transcript string) (err error) {
	b, f, err := loadFixture(cfgPath, name)
	if err != nil {
		return err
	}
	l, err := runner.Leases(b).Share(ctx, f.Name, "bench console")
	if err != nil {
		return &exitError{code: exitIncomplete, err: err}
	}
	defer l.Release()
	port := consolePort(f)
	prompts, err := consolePrompts(f.Profile)
	if err != nil {
		return usageError(err)
	}
	if transcript == "" {
		transcript = fmt.Sprintf("console-%s-%s.jsonl", f.Name, time.Now().UTC().Format("20060102T150405Z"))
	}
	// O_EXCL: an earlier session's transcript is evidence; never overwrite
	// it. 0600: it holds whatever was typed, passwords included.
	tf, err := os.OpenFile(transcript, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usageError(fmt.Errorf("create transcript: %w (name another file with --transcript)", err))
	}
	opened := false
	defer func() {
		if !opened {
			// Nothing was recorded: leave no empty file to block the same
			// --transcript next time.
			tf.Close()
			os.Remove(transcript)
			return
		}
		if cerr := tf.Sync(); cerr != nil && err == nil {
			err = fmt.Errorf("save transcript %s: %w", transcript, cerr)
		}
		tf.Close()
	}()

	// Every catchable end of a session (Ctrl-C when the terminal is not in
	// raw mode, kill, a closed terminal or SSH session, Ctrl-\) closes the
	// transcript with its close event, as quitting does.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			cancel(signalEnd{sig})
		case <-ctx.Done():
		}
	}()

	c, err := console.Open(ctx, console.Config{
		Name:       f.Name,
		Port:       port,
		Transcript: tf,
		CharDelay:  f.Console.CharDelay,
		Newline:    f.Profile.Newline,
		Prompts:    prompts,
	})
	if err != nil {
		err = explainMissingPort(f, cfgPath, err)
		return &exitError{code: exitIncomplete, err: fmt.Errorf("open console of fixture %q: %w", f.Name, err)}
	}
	opened = true
	defer func() {
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close console of fixture %q: %w", f.Name, cerr))
		}
		abs, _ := filepath.Abs(transcript)
		fmt.Fprintf(msg, "\r\ntranscript: %s\r\n", abs)
	}()

	if term.IsTerminal(int(in.Fd())) {
		old, err := term.MakeRaw(int(in.Fd()))
		if err != nil {
			return fmt.Errorf("put the terminal in raw mode: %w", err)
		}
		defer term.Restore(int(in.Fd()), old)
	}
	fmt.Fprintf(msg, "connected to %s (fixture %s); quit with Ctrl-] q\r\n", port, f.Name)
	err = c.Attach(ctx, in, out, 0)
	if sig, ok := context.Cause(ctx).(signalEnd); ok {
		c.Note("session ended by signal " + sig.String())
		return &exitError{code: exitIncomplete, err: fmt.Errorf("console of fixture %q: interrupted by signal %s: transcript closed", f.Name, sig)}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return &exitError{code: exitIncomplete, err: fmt.Errorf("console of fixture %q: %w", f.Name, err)}
	}
	return nil
}

// signalEnd is the cause of a session a signal ended.
type signalEnd struct{ os.Signal }

func (s signalEnd) Error() string { return "signal " + s.String() }
