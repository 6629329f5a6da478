package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

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
the gap is shown and recorded, and the session resumes when the port returns.`,
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
	_, f, err := loadFixture(cfgPath, name)
	if err != nil {
		return err
	}
	port := consolePort(f)
	prompts, err := consolePrompts(f.Profile)
	if err != nil {
		return usageError(err)
	}
	if transcript == "" {
		transcript = fmt.Sprintf("console-%s-%s.jsonl", f.Name, time.Now().UTC().Format("20060102T150405Z"))
	}
	// O_EXCL: an earlier session's transcript is evidence; never overwrite it.
	tf, err := os.OpenFile(transcript, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return usageError(fmt.Errorf("create transcript: %w (name another file with --transcript)", err))
	}
	defer func() {
		if cerr := tf.Sync(); cerr != nil && err == nil {
			err = fmt.Errorf("save transcript %s: %w", transcript, cerr)
		}
		tf.Close()
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
		return &exitError{code: exitIncomplete, err: fmt.Errorf("open console of fixture %q: %w", f.Name, err)}
	}
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
	if err := c.Attach(ctx, in, out, 0); err != nil && !errors.Is(err, context.Canceled) {
		return &exitError{code: exitIncomplete, err: fmt.Errorf("console of fixture %q: %w", f.Name, err)}
	}
	return nil
}
