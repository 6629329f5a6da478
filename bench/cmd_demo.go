package main

// `bench demo`: the whole bench on a simulated lab in one command, and a
// self-check: every unit must get exactly the verdicts its flaws call for
// (suites/expect).

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/certbench/certbench/bench/buildinfo"
	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/results/report"
	"github.com/certbench/certbench/suites"
	"github.com/certbench/certbench/suites/expect"
	"github.com/certbench/certbench/suites/suite"
)

func init() { root.AddCommand(demoCommand()) }

type demoOptions struct {
	out   string
	units int
	scale float64
	keep  bool
}

// demoScale is the demo's default time scale: twenty times real time, which
// still leaves the 3 s autoboot window 150 ms wide for the one key the
// debug case types.
const demoScale = 0.05

func demoCommand() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run every suite on a simulated lab of good and flawed units, and check the bench got each verdict right",
		Long: `demo starts a simulated lab in this process (as bench sim does): a good unit
(cam-1) and units built with the lab's known flaws, every flaw on some unit,
all of them SimCam SC-100s. It runs every suite that exists on all units in
parallel, through the same runner as bench run, and signs the records with a
key made for the demo (its private half never leaves memory; the public half
is written beside the archive). Then it verifies the archive as bench verify
does, writes an HTML and a JUnit report, and prints a table: each unit, its
flaws, and per suite the verdict it got and the one its flaws call for.

A flaw that no case tests yet is named "no case yet": the unit's PASS
elsewhere says nothing about it.

Everything goes to --out (default: a new folder demo-out/TIME under the
current folder): archive/, demo.pub, report.html, junit.xml. The lab's own
folder (its bench file and the units' flash) is removed at the end unless
--keep.

Exit status: 0 every unit got exactly the verdicts its flaws call for and
the archive verifies; 1 the self-check failed (a verdict differs from what
the flaws call for, or the archive does not verify); 2 bad usage; 3 the demo
could not complete (the lab did not start, a signal, a report not written).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "folder for the archive, key and reports (default: demo-out/TIME); must be new or empty")
	f.IntVar(&o.units, "units", expect.DefaultUnits(), fmt.Sprintf("number of units (at least %d; fewer than %d puts several flaws on a unit)", expect.MinUnits, expect.DefaultUnits()))
	f.Float64Var(&o.scale, "scale", demoScale, "time scale of the lab: 1 is real time")
	f.BoolVar(&o.keep, "keep", false, "keep the lab's folder (bench file, units' flash) in OUT/lab")
	return cmd
}

// demoFiles are where a demo's results go.
type demoFiles struct {
	out, lab, archive, pub, html, junit string
}

func newDemoFiles(out string) demoFiles {
	return demoFiles{out: out, lab: filepath.Join(out, "lab"), archive: filepath.Join(out, "archive"),
		pub: filepath.Join(out, "demo.pub"), html: filepath.Join(out, "report.html"), junit: filepath.Join(out, "junit.xml")}
}

func runDemo(ctx context.Context, stdout, stderr io.Writer, o demoOptions) error {
	if o.scale <= 0 {
		return usageError(fmt.Errorf("--scale %v: give a positive factor (1 = real time)", o.scale))
	}
	units, err := expect.Units(o.units)
	if err != nil {
		return usageError(fmt.Errorf("--units: %w", err))
	}
	all := suites.All()
	if err := expect.Validate(all); err != nil {
		return &exitError{code: exitIncomplete, err: fmt.Errorf("the bench's own %w", err)}
	}
	if o.out == "" {
		o.out = filepath.Join("demo-out", time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := freshFolder(o.out); err != nil {
		return usageError(err)
	}
	fs := newDemoFiles(o.out)

	ctx, stop := stopOnSignal(ctx, stderr, "bench demo", "units go to their safe level, records are sealed")
	defer stop()

	began := time.Now()
	// The lab lives until the runner is done with it, signal or not: a
	// cancelled run still powers its units off through it.
	lab, err := sim.Start(context.Background(), sim.Config{Dir: filepath.Join(fs.lab, "units"), TimeScale: o.scale, Units: units})
	if err != nil {
		if !o.keep {
			os.RemoveAll(fs.lab)
		}
		if errors.Is(err, sim.ErrConfig) {
			return usageError(err)
		}
		return &exitError{code: exitIncomplete, err: fmt.Errorf("start the simulated lab in %s: %w", fs.lab, err)}
	}
	defer func() {
		lab.Close()
		if !o.keep {
			os.RemoveAll(fs.lab)
		}
	}()
	benchFile := filepath.Join(fs.lab, "bench.yaml")
	if err := lab.WriteBenchFile(benchFile); err != nil {
		return &exitError{code: exitIncomplete, err: err}
	}
	b, err := fixtures.LoadBench(benchFile)
	if err != nil {
		return &exitError{code: exitIncomplete, err: fmt.Errorf("the lab's own bench file %s: %w", benchFile, err)}
	}
	key, err := results.GenerateKey(results.ECDSAP256)
	if err != nil {
		return &exitError{code: exitIncomplete, err: fmt.Errorf("make the demo's key: %w", err)}
	}
	pem, err := results.MarshalPublicKey(key.Public())
	if err == nil {
		err = os.WriteFile(fs.pub, pem, 0o644)
	}
	if err != nil {
		return &exitError{code: exitIncomplete, err: fmt.Errorf("write the demo's public key %s: %w", fs.pub, err)}
	}

	cases := 0
	for _, st := range all {
		cases += len(st.Cases)
	}
	fmt.Fprintf(stderr, "bench demo: %d simulated SimCam SC-100 units, time scale %g, %d suite(s) with %d case(s) in all\n", len(units), o.scale, len(all), cases)
	prog := newDemoProgress(stderr, isTerminal(stderr), units, cases)
	cfg := runner.Config{Bench: b, Suites: all, Archive: fs.archive, Key: key, TimeScale: lab.TimeScale(), Progress: prog.event}
	bi := buildinfo.Read()
	cfg.Software, cfg.Revision = bi.Version, bi.Revision
	if bi.Modified {
		cfg.Revision += "+modified"
	}
	outs, err := runner.Run(ctx, cfg)
	if err != nil {
		return &exitError{code: exitIncomplete, err: fmt.Errorf("run the suites: %w", err)}
	}

	vr, verr := results.Verify(fs.archive, results.VerifyOptions{Keys: []crypto.PublicKey{key.Public()}})
	verified := verr == nil && vr.OK()
	var reportErrs []error
	rep, err := report.Load(fs.archive, key.Public())
	if err != nil {
		reportErrs = append(reportErrs, err)
	} else {
		for _, w := range []struct {
			path string
			f    report.Format
		}{{fs.html, report.HTML}, {fs.junit, report.JUnit}} {
			var buf strings.Builder
			if err := report.Write(&buf, rep, w.f); err != nil {
				reportErrs = append(reportErrs, err)
				continue
			}
			if err := writeReportFile(w.path, []byte(buf.String())); err != nil {
				reportErrs = append(reportErrs, err)
			}
		}
	}

	took := time.Since(began)
	sum := summarizeDemo(outs, lab, all)
	sum.interrupted = ctx.Err() != nil
	sum.write(stdout)
	switch {
	case verr != nil:
		fmt.Fprintf(stdout, "\nThe archive could not be verified: %v\n", verr)
	case !vr.OK():
		fmt.Fprintf(stdout, "\nThe archive does NOT verify with the demo's key:\n")
		for _, p := range vr.Problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
	default:
		fmt.Fprintf(stdout, "\nThe archive verifies with the demo's key (%d runs).\n", len(vr.Runs))
	}
	fmt.Fprintf(stdout, "\nReport:  %s   (open it in a browser)\nJUnit:   %s\nArchive: %s   (check it again: bench verify --key %s %s)\n",
		fs.html, fs.junit, fs.archive, fs.pub, fs.archive)
	if o.keep {
		fmt.Fprintf(stdout, "Lab:     %s (bench file %s; its consoles and lines existed only while the demo ran)\n", fs.lab, benchFile)
	}
	fmt.Fprintf(stdout, "Took %.1f s (lab start to reports written).\n", took.Seconds())

	switch {
	case ctx.Err() != nil:
		return &exitError{code: exitIncomplete, err: fmt.Errorf("interrupted (%v): the records say so and are sealed in %s", context.Cause(ctx), fs.archive)}
	case len(reportErrs) > 0:
		return &exitError{code: exitIncomplete, err: fmt.Errorf("write the reports: %w", errors.Join(reportErrs...))}
	case !verified:
		return &exitError{code: exitFail, err: errors.New("self-check failed: the demo's archive does not verify")}
	case sum.wrong > 0:
		return &exitError{code: exitFail, err: fmt.Errorf("self-check failed: %d unit(s) did not get the verdicts their flaws call for", sum.wrong)}
	}
	return nil
}

// freshFolder makes dir, or accepts it empty: a demo's report speaks of
// that demo's runs only.
func freshFolder(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("--out %s: %w", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("--out %s: %w", dir, err)
	case len(ents) > 0:
		return fmt.Errorf("--out %s: the folder is not empty; give a new or empty one (a demo's report speaks only of its own runs)", dir)
	}
	return nil
}

// demoSummary is the demo's table: per unit, per suite, the verdict got
// and the one its flaws call for.
type demoSummary struct {
	suites   []*suite.Suite
	rows     []demoRow
	wrong    int        // units with a mismatch
	untested []sim.Flaw // flaws on some unit that no case tests yet
	caught   int        // flaws some case tests
	scale    float64    // the lab's time scale
	// interrupted: a signal stopped the run, so the verdicts are not all
	// there and say nothing of the bench.
	interrupted bool
}

type demoRow struct {
	unit     string
	flaws    []sim.Flaw
	got      []results.Verdict // per suite; "" when there is no record
	want     []results.Verdict // per suite: FAIL or PASS
	mismatch []expect.Mismatch
	err      error
}

func summarizeDemo(outs []runner.Outcome, lab *sim.Lab, all []*suite.Suite) *demoSummary {
	s := &demoSummary{suites: all, scale: lab.TimeScale()}
	for _, o := range outs {
		u := lab.Unit(o.Fixture)
		r := demoRow{unit: o.Fixture, flaws: u.Flaws(), err: o.Err}
		var cases []results.Case
		if o.Record != nil {
			cases = o.Record.Cases
		}
		for _, st := range all {
			var mine []results.Case
			want := results.Pass
			for _, c := range st.Cases {
				id := st.FullID(c)
				if expect.MustFail(r.flaws, id) {
					want = results.Fail
				}
				for _, rc := range cases {
					if rc.ID == id {
						mine = append(mine, rc)
					}
				}
			}
			got := results.Verdict("")
			if len(mine) > 0 {
				got = results.RunVerdict(mine)
			}
			r.got, r.want = append(r.got, got), append(r.want, want)
		}
		r.mismatch = expect.Check(r.flaws, all, cases)
		if len(r.mismatch) > 0 || o.Record == nil {
			s.wrong++
		}
		for _, f := range r.flaws {
			if expect.Untested(f) {
				s.untested = append(s.untested, f)
			} else {
				s.caught++
			}
		}
		s.rows = append(s.rows, r)
	}
	slices.Sort(s.untested)
	return s
}

func (s *demoSummary) write(w io.Writer) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"UNIT", "FLAWS"}
	for _, st := range s.suites {
		head = append(head, st.Name+" (got / want)")
	}
	head = append(head, "SELF-CHECK")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range s.rows {
		var fl []string
		for _, f := range r.flaws {
			if expect.Untested(f) {
				fl = append(fl, string(f)+" (no case yet)")
			} else {
				fl = append(fl, string(f))
			}
		}
		if len(fl) == 0 {
			fl = []string{"none (good unit)"}
		}
		cells := []string{r.unit, strings.Join(fl, ", ")}
		for i := range s.suites {
			got := string(r.got[i])
			if got == "" {
				got = "no record"
			}
			cells = append(cells, fmt.Sprintf("%s / %s", got, wantWord(r.want[i])))
		}
		check := "ok"
		switch {
		case (len(r.mismatch) > 0 || r.err != nil) && s.interrupted:
			check = "not finished"
		case len(r.mismatch) > 0 || r.err != nil:
			check = "WRONG"
		}
		cells = append(cells, check)
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	fmt.Fprintln(w, "(want PASS: PASS or NOT_APPLICABLE)")
	for _, r := range s.rows {
		if r.err != nil {
			fmt.Fprintf(w, "%s: %v\n", r.unit, r.err)
		}
		for _, m := range r.mismatch {
			// A reason may carry a console excerpt: the report has it whole.
			fmt.Fprintf(w, "%s (%s): %s\n", r.unit, flawWords(r.flaws), truncateRunes(m.String(), 400))
		}
	}
	if len(s.untested) > 0 {
		fmt.Fprintf(w, "\nNo case yet for %d of the lab's flaws: the suites that will find them do not exist yet, so a unit's PASS above says nothing about these:\n", len(s.untested))
		for _, f := range s.untested {
			row, _ := expect.Lookup(f)
			fmt.Fprintf(w, "  %-24s (suite to come: %s)\n", f, row.Pending)
		}
	}
	switch {
	case s.interrupted:
		fmt.Fprintf(w, "\nSelf-check not finished: the demo was interrupted, so the cases in flight are NOT_RUN and the table says nothing of the bench.\n")
	case s.wrong == 0:
		fmt.Fprintf(w, "\nSelf-check passed: all %d units got exactly the verdicts their flaws call for (%d flaw(s) tested, %d with no case yet).\n", len(s.rows), s.caught, len(s.untested))
	default:
		fmt.Fprintf(w, "\nSelf-check FAILED: %d of %d units did not get the verdicts their flaws call for: the bench is wrong somewhere.\n", s.wrong, len(s.rows))
		if s.scale < demoScale {
			fmt.Fprintf(w, "At --scale %g the lab's 3 s autoboot window is %s and the cases' timeouts shrink alike: on a busy machine that can be too short to keep up with (ERROR); try the default --scale %g.\n",
				s.scale, time.Duration(3*float64(time.Second)*s.scale), demoScale)
		}
	}
}
