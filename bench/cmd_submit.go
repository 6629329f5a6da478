package main

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/certbench/certbench/bench/fleet"
	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/results"
	"github.com/spf13/cobra"
)

func init() { root.AddCommand(submitCommand()) }

// brokerOptions are the flags that reach a broker as a controller.
type brokerOptions struct {
	url, prefix, ca, cert, certKey, username, passwordFile string
}

func brokerFlags(cmd *cobra.Command, o *brokerOptions) {
	f := cmd.Flags()
	f.StringVar(&o.url, "broker", "", "the fleet's broker: tcp://HOST:1883, ssl://HOST:8883, ws://HOST:PORT/PATH (required)")
	f.StringVar(&o.prefix, "prefix", fleet.DefaultPrefix, "first topic level(s) of the fleet's topics")
	f.StringVar(&o.ca, "ca", "", "CA file that signed the broker's certificate (ssl://)")
	f.StringVar(&o.cert, "cert", "", "client certificate, for a broker that asks for one")
	f.StringVar(&o.certKey, "cert-key", "", "the client certificate's key")
	f.StringVar(&o.username, "username", "", "broker user name")
	f.StringVar(&o.passwordFile, "password-file", "", "file whose first line is the broker password")
}

func (o brokerOptions) broker() (fleet.Broker, error) {
	if o.url == "" {
		return fleet.Broker{}, usageError(errors.New("--broker URL is required (the broker the benches use)"))
	}
	b := fleet.Broker{URL: o.url, Username: o.username, CAFile: o.ca, CertFile: o.cert, KeyFile: o.certKey}
	if o.passwordFile != "" {
		pw, err := readPassword(o.passwordFile)
		if err != nil {
			return b, usageError(fmt.Errorf("--password-file: %w", err))
		}
		b.Password = pw
	}
	if _, err := b.TLS(); err != nil {
		return b, usageError(err)
	}
	return b, nil
}

type submitOptions struct {
	broker    brokerOptions
	bench     string
	fixtures  []string
	suites    []string
	cases     []string
	key       string
	benchKeys []string
	out       string
	wait      bool
	busy      string
	expires   time.Duration
	format    string
	clientID  string
}

func submitCommand() *cobra.Command {
	var o submitOptions
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Send a signed job to a bench on the fleet and collect its records",
		Long: `Sign a job with the controller key (--key; the bench file's
fleet.controllers must list its public key) and send it to bench --bench.
Without --wait it prints the job id and exits once the broker has it.

With --wait it follows the job's progress (one line per event on stderr, or
JSON lines on stdout with -o json), stores every record the bench delivers
in --out (OUT/BENCH/runs/RUN_ID, as in an archive) and verifies it with
--bench-key (the bench's public key), prints the verdicts and exits like
bench run: 0 every case PASS or NOT_APPLICABLE, 1 a FAIL, 3 the job could
not complete (refused, interrupted, ERROR, NOT_RUN, a record missing or not
verifying), 2 bad usage, an unknown fixture or suite, or no --bench-key to
verify with (as bench verify).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSubmit(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	brokerFlags(cmd, &o.broker)
	f := cmd.Flags()
	f.StringVar(&o.bench, "bench", "", "the bench's id (required)")
	f.StringArrayVarP(&o.fixtures, "fixture", "f", nil, "a fixture to run on (repeatable; default all)")
	f.StringArrayVarP(&o.suites, "suite", "s", nil, "a suite to run (repeatable; default all)")
	f.StringArrayVar(&o.cases, "case", nil, "only this case, as SUITE/CASE (repeatable)")
	f.StringVar(&o.key, "key", "controller.key", "the controller's signing key (bench keygen makes one)")
	f.StringArrayVar(&o.benchKeys, "bench-key", nil, "the bench's public key, to verify its records (repeatable)")
	f.StringVar(&o.out, "out", "fleet-archive", "folder the received records are stored in")
	f.BoolVar(&o.wait, "wait", false, "follow the job and collect its records")
	f.StringVar(&o.busy, "busy", fleet.BusyRefuse, "a fixture in use: refuse the job, or wait for it until the job expires")
	f.DurationVar(&o.expires, "expires", time.Hour, "the job is refused if not started within this")
	f.StringVarP(&o.format, "output", "o", "text", "progress format: text or json")
	f.StringVar(&o.clientID, "client-id", "", "MQTT client id (default: one per job, persistent session)")
	return cmd
}

func runSubmit(ctx context.Context, stdout, stderr io.Writer, o submitOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageError(fmt.Errorf("-o %q: write -o text or -o json", o.format))
	}
	if o.bench == "" {
		return usageError(errors.New("--bench ID is required"))
	}
	if o.busy != fleet.BusyRefuse && o.busy != fleet.BusyWait {
		return usageError(fmt.Errorf("--busy %q: write refuse or wait", o.busy))
	}
	br, err := o.broker.broker()
	if err != nil {
		return err
	}
	key, err := results.LoadPrivateKey(o.key)
	if err != nil {
		return usageError(fmt.Errorf("controller key: %w (make one with: bench keygen --key %s, and list its .pub under fleet.controllers in the bench file)", err, o.key))
	}
	var benchKeys []crypto.PublicKey
	for _, p := range o.benchKeys {
		k, err := results.LoadPublicKey(p)
		if err != nil {
			return usageError(fmt.Errorf("--bench-key: %w", err))
		}
		benchKeys = append(benchKeys, k)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		if sig, ok := <-sigs; ok {
			cancel(fmt.Errorf("signal %s", sig))
		}
	}()

	now := time.Now().UTC()
	job := &fleet.Job{Version: fleet.Version, ID: fleet.NewJobID(), Bench: o.bench, Controller: hostName(),
		Issued: now, Expires: now.Add(o.expires), Fixtures: o.fixtures, Suites: o.suites, Cases: o.cases, Busy: o.busy}
	clientID := o.clientID
	if clientID == "" && o.wait {
		clientID = "certbench-submit-" + job.ID
	}
	type result struct {
		code int
		err  error
	}
	finished := make(chan result, 1)
	finish := func(code int, err error) {
		select {
		case finished <- result{code, err}:
		default:
		}
	}
	var (
		want     []string // the runs job-done named
		ended    bool
		received = map[string]fleet.Received{}
	)
	enc := json.NewEncoder(stdout)
	check := func() {
		if !ended {
			return
		}
		for _, r := range want {
			if _, ok := received[r]; !ok {
				return
			}
		}
		finish(0, nil)
	}
	c := &fleet.Controller{Broker: br, Prefix: o.broker.prefix, ClientID: clientID, Forget: o.wait && o.clientID == "", Store: o.out,
		BenchKeys: map[string][]crypto.PublicKey{o.bench: benchKeys},
		Logf:      func(f string, args ...any) { fmt.Fprintf(stderr, "bench submit: "+f+"\n", args...) },
	}
	c.OnEvent = func(e fleet.Event) {
		if e.Job != job.ID {
			return
		}
		if o.format == "json" {
			enc.Encode(e)
		} else {
			printFleetEvent(stderr, e)
		}
		switch e.Kind {
		case fleet.EventRefused:
			code := exitIncomplete
			if strings.HasPrefix(e.Reason, fleet.RefusedInvalid+":") {
				code = exitUsage
			}
			finish(code, fmt.Errorf("bench %s refused job %s: %s", o.bench, job.ID, e.Reason))
		case fleet.EventDone, fleet.EventInterrupted:
			want, ended = e.Runs, true
			check()
		}
	}
	c.OnRecord = func(r fleet.Received) {
		if r.Delivery.Job != job.ID {
			return
		}
		received[r.Delivery.Run] = r
		check()
	}
	if err := c.Connect(ctx); err != nil {
		return &exitError{code: exitIncomplete, err: err}
	}
	if o.wait {
		if err := c.Watch(ctx, o.bench); err != nil {
			c.Close()
			return &exitError{code: exitIncomplete, err: err}
		}
	}
	if err := c.Submit(ctx, key, job); err != nil {
		c.Close()
		return &exitError{code: exitIncomplete, err: err}
	}
	if !o.wait {
		c.Close()
		fmt.Fprintln(stdout, job.ID)
		return nil
	}
	fmt.Fprintf(stderr, "bench submit: job %s sent to bench %s\n", job.ID, o.bench)
	var res result
	select {
	case res = <-finished:
	case <-ctx.Done():
		res = result{exitIncomplete, fmt.Errorf("job %s: stopped waiting: %v (the bench goes on; its records are delivered to the broker)", job.ID, context.Cause(ctx))}
	}
	c.Close()
	if res.err != nil {
		return &exitError{code: res.code, err: res.err}
	}
	return submitOutcome(stdout, o, received, want)
}

// submitOutcome prints the verdicts and folds them into bench run's exit
// code; a record that does not verify makes the job incomplete.
func submitOutcome(w io.Writer, o submitOptions, received map[string]fleet.Received, runs []string) error {
	var outs []runner.Outcome
	var errs []error
	untrusted := false
	if o.format == "text" {
		fmt.Fprintln(w, "fixture\tverdict\trun\tverified")
	}
	slices.Sort(runs)
	for _, id := range runs {
		r := received[id]
		out := runner.Outcome{Fixture: r.Delivery.Fixture, RunID: id, Record: r.Record}
		verified := "yes"
		switch {
		case r.Report == nil || !r.Report.Intact() || len(r.Problems) > 0:
			verified = "NO"
			var ps []string
			if r.Report != nil {
				for _, p := range r.Report.Problems {
					ps = append(ps, p.String())
				}
			}
			ps = append(ps, r.Problems...)
			out.Err = fmt.Errorf("run %s does not verify: %s", id, strings.Join(ps, "; "))
			errs = append(errs, out.Err)
		case !r.Trusted:
			verified = "intact, key not trusted"
			untrusted = true
		}
		if o.format == "text" {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", out.Fixture, out.Verdict(), id, verified)
		}
		outs = append(outs, out)
	}
	code := runner.ExitCode(outs)
	if len(runs) == 0 {
		code = exitIncomplete
		errs = append(errs, errors.New("the bench delivered no record"))
	}
	if code == exitOK && untrusted {
		return usageError(fmt.Errorf("records stored in %s are intact but %s: give the bench's public key with --bench-key", o.out, results.NoTrustedKey))
	}
	if code == exitOK {
		return nil
	}
	err := errors.Join(errs...)
	if err == nil {
		err = fmt.Errorf("%s", map[int]string{exitFail: "at least one case FAILED", exitIncomplete: "the job could not complete (see the verdicts)"}[code])
	}
	return &exitError{code: code, err: err}
}

func printFleetEvent(w io.Writer, e fleet.Event) {
	switch e.Kind {
	case fleet.EventAccepted:
		fmt.Fprintf(w, "%s %s: job %s accepted\n", e.Time.Local().Format("15:04:05"), e.Bench, e.Job)
	case fleet.EventRefused:
		fmt.Fprintf(w, "%s %s: job %s refused: %s\n", e.Time.Local().Format("15:04:05"), e.Bench, e.Job, e.Reason)
	case fleet.EventWaiting:
		fmt.Fprintf(w, "%s %s: job %s waits: %s\n", e.Time.Local().Format("15:04:05"), e.Bench, e.Job, e.Reason)
	case fleet.EventDone:
		fmt.Fprintf(w, "%s %s: job %s done: %s, runs %s\n", e.Time.Local().Format("15:04:05"), e.Bench, e.Job, e.Verdict, strings.Join(e.Runs, ", "))
	case fleet.EventInterrupted:
		fmt.Fprintf(w, "%s %s: job %s interrupted: %s\n", e.Time.Local().Format("15:04:05"), e.Bench, e.Job, e.Reason)
	default:
		printEvent(w, runner.Event{Time: e.Time.Local(), Fixture: e.Fixture, Kind: e.Kind, Run: e.Run, Case: e.Case, Verdict: e.Verdict, Reason: e.Reason})
	}
}

func hostName() string {
	h, _ := os.Hostname()
	return h
}
