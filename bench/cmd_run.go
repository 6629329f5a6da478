package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/certbench/certbench/bench/buildinfo"
	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites"
	"github.com/spf13/cobra"
)

func init() { root.AddCommand(runCommand()) }

type runOptions struct {
	config   string
	fixtures []string
	suites   []string
	cases    []string
	out      string
	format   string
}

func runCommand() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run certification suites on the bench's fixtures and archive signed records",
		Long: `Run the selected suites (all by default) on the selected fixtures (all by
default): fixtures in parallel, each fixture's cases in order. Each fixture is
leased first (a fixture another run, bench power or bench console holds is
refused, naming the holder) and left at its safe level whatever happens. One
signed record per fixture goes into the archive (the bench file's, or --out),
with the console transcript and power events as evidence.

A signal (Ctrl-C, SIGTERM, SIGHUP from a closed terminal, SIGQUIT) stops the
cases in flight: every fixture goes to its safe level at once, the cases not
finished are NOT_RUN, and each record says the run was interrupted and is
sealed all the same. Further signals while the records are sealed are
ignored, so a second Ctrl-C cannot lose them.

Progress goes to stderr: on a terminal a line per fixture, redrawn (the case
running, for how long, the verdicts so far); elsewhere a line per event. -o
json writes the events as JSON lines on stdout instead, then nothing else.

Exit status: 0 every case PASS or NOT_APPLICABLE; 1 at least one FAIL (the
device's fault); 2 bad usage or an invalid file; 3 the run could not complete
(ERROR, NOT_RUN, INCONCLUSIVE, a fixture that could not be run or sealed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRun(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	configFlag(cmd, &o.config)
	cmd.Flags().StringArrayVarP(&o.fixtures, "fixture", "f", nil, "a fixture to run on (repeatable; default all)")
	cmd.Flags().StringArrayVarP(&o.suites, "suite", "s", nil, "a suite to run (repeatable; default all; bench suites lists them)")
	cmd.Flags().StringArrayVar(&o.cases, "case", nil, "only this case, as SUITE/CASE (repeatable)")
	cmd.Flags().StringVar(&o.out, "out", "", "archive folder (default: the bench file's archive)")
	cmd.Flags().StringVarP(&o.format, "output", "o", "text", "progress format: text or json")
	return cmd
}

func runRun(ctx context.Context, stdout, stderr io.Writer, o runOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageError(fmt.Errorf("-o %q: write -o text or -o json", o.format))
	}
	b, err := loadBench(o.config)
	if err != nil {
		return err
	}
	sel, err := suites.Select(o.suites)
	if err != nil {
		return usageError(err)
	}
	key, err := results.LoadPrivateKey(b.Key)
	if err != nil {
		return usageError(fmt.Errorf("signing key: %w (make one with: bench keygen --key %s)", err, b.Key))
	}
	ctx, stop := stopOnSignal(ctx, stderr, "bench run", "fixtures go to their safe level, records are sealed")
	defer stop()

	cfg := runner.Config{
		Bench:    b,
		Fixtures: o.fixtures,
		Suites:   sel,
		Cases:    o.cases,
		Archive:  o.out,
		Key:      key,
	}
	bi := buildinfo.Read()
	cfg.Software, cfg.Revision = bi.Version, bi.Revision
	if bi.Modified {
		cfg.Revision += "+modified"
	}
	enc := json.NewEncoder(stdout)
	var names []string
	for _, f := range b.Fixtures {
		if len(o.fixtures) == 0 || slices.Contains(o.fixtures, f.Name) {
			names = append(names, f.Name)
		}
	}
	view := newRunProgress(stderr, names)
	cfg.Progress = func(e runner.Event) {
		if o.format == "json" {
			enc.Encode(e)
			return
		}
		view.event(e)
	}
	outs, err := runner.Run(ctx, cfg)
	if err != nil {
		return usageError(err)
	}
	if o.format == "text" {
		printRunSummary(stdout, outs)
	}
	var errs []error
	for _, out := range outs {
		if out.Err != nil {
			errs = append(errs, out.Err)
		}
	}
	code := runner.ExitCode(outs)
	if code == exitOK {
		return nil
	}
	err = errors.Join(errs...)
	if err == nil {
		err = fmt.Errorf("%s", map[int]string{exitFail: "at least one case FAILED", exitIncomplete: "the run could not complete (see the verdicts)"}[code])
	}
	return &exitError{code: code, err: err}
}

// printEvent writes one line per event: it reads the same on a terminal
// and in a CI log, and a line is never redrawn, so nothing is lost.
func printEvent(w io.Writer, e runner.Event) {
	t := e.Time.Format("15:04:05")
	switch e.Kind {
	case runner.EventRunStart:
		fmt.Fprintf(w, "%s %s: run %s begun\n", t, e.Fixture, e.Run)
	case runner.EventCaseStart:
		fmt.Fprintf(w, "%s %s: %s ...\n", t, e.Fixture, e.Case)
	case runner.EventCaseEnd:
		if e.Reason != "" {
			fmt.Fprintf(w, "%s %s: %s %s: %s\n", t, e.Fixture, e.Case, e.Verdict, e.Reason)
		} else {
			fmt.Fprintf(w, "%s %s: %s %s\n", t, e.Fixture, e.Case, e.Verdict)
		}
	case runner.EventRunEnd:
		fmt.Fprintf(w, "%s %s: run %s sealed: %s\n", t, e.Fixture, e.Run, e.Verdict)
	case runner.EventError:
		fmt.Fprintf(w, "%s %s: not run: %s\n", t, e.Fixture, e.Reason)
	}
}

func printRunSummary(w io.Writer, outs []runner.Outcome) {
	fmt.Fprintln(w, "fixture\tverdict\trun")
	for _, o := range outs {
		fmt.Fprintf(w, "%s\t%s\t%s\n", o.Fixture, o.Verdict(), o.RunID)
	}
}
