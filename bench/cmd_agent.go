package main

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/certbench/certbench/bench/buildinfo"
	"github.com/certbench/certbench/bench/fleet"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/results"
	"github.com/spf13/cobra"
)

func init() { root.AddCommand(agentCommand()) }

func agentCommand() *cobra.Command {
	var config, listen string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Serve the fleet: run signed jobs from the broker and deliver their records",
		Long: `Connect to the bench file's broker as the bench (client id = bench id,
persistent session), publish a retained status, and run the jobs controllers
send, as bench run would (the same leases, the same records). Only jobs
signed by a key under fleet.controllers in the bench file run; forged,
replayed, expired, oversized or malformed ones are refused and reported on
the bench's event topic. Each sealed record, its evidence and the archive's
checkpoint are delivered to the broker; what cannot be sent (the broker is
away) waits on disk in .fleet/ beside the bench file and goes when it is
back, also after a restart of the agent.

Without a broker in the bench file, the agent embeds one on --listen.
Topics and messages: results/fleet.md. A signal stops the agent: jobs under
way end as bench run's do on a signal (fixtures safe, records sealed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd.Context(), cmd.ErrOrStderr(), config, listen)
		},
	}
	configFlag(cmd, &config)
	cmd.Flags().StringVar(&listen, "listen", fleet.DefaultListen, "where the embedded broker listens, when the bench file names none")
	return cmd
}

func runAgent(ctx context.Context, stderr io.Writer, config, listen string) error {
	b, err := loadBench(config)
	if err != nil {
		return err
	}
	key, err := results.LoadPrivateKey(b.Key)
	if err != nil {
		return usageError(fmt.Errorf("signing key: %w (make one with: bench keygen --key %s)", err, b.Key))
	}
	trusted, err := controllerKeys(b)
	if err != nil {
		return err
	}
	br, err := benchBroker(b)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			fmt.Fprintf(stderr, "bench agent: %s: stopping; jobs under way end, fixtures go safe, records are sealed and queued\n", sig)
			cancel()
		}
	}()
	if br.URL == "" {
		srv, err := fleet.Embed(listen)
		if err != nil {
			return usageError(fmt.Errorf("%w (another broker there? set broker: in the bench file, or --listen)", err))
		}
		defer srv.Close()
		br.URL = srv.URL()
		fmt.Fprintf(stderr, "bench agent: no broker in %s: embedded one on %s\n", b.Path, br.URL)
	}
	if len(trusted) == 0 {
		fmt.Fprintf(stderr, "bench agent: warning: no fleet.controllers in %s: every job will be refused\n", b.Path)
	}
	bi := buildinfo.Read()
	a := &fleet.Agent{
		Bench: b, Broker: br, Prefix: b.Fleet.Prefix, Key: key, Trusted: trusted,
		Software: bi.Version, Revision: bi.Revision,
		Logf:  func(f string, args ...any) { fmt.Fprintf(stderr, "bench agent: "+f+"\n", args...) },
		Ready: func() { fmt.Fprintf(stderr, "bench agent: ready: bench %s on %s\n", b.ID, br.URL) },
	}
	if bi.Modified {
		a.Revision += "+modified"
	}
	if err := a.Run(ctx); err != nil {
		return &exitError{code: exitIncomplete, err: err}
	}
	return nil
}

// controllerKeys loads the public keys of fleet.controllers.
func controllerKeys(b *fixtures.Bench) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for _, p := range b.Fleet.Controllers {
		k, err := results.LoadPublicKey(p)
		if err != nil {
			return nil, usageError(fmt.Errorf("%s: fleet.controllers: %w", b.Path, err))
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// benchBroker is the bench file's broker and credentials.
func benchBroker(b *fixtures.Bench) (fleet.Broker, error) {
	br := fleet.Broker{URL: b.Broker, Username: b.Fleet.Username, CAFile: b.Fleet.CA, CertFile: b.Fleet.Cert, KeyFile: b.Fleet.CertKey}
	if b.Fleet.PasswordFile != "" {
		pw, err := readPassword(b.Fleet.PasswordFile)
		if err != nil {
			return br, usageError(fmt.Errorf("%s: fleet.password_file: %w", b.Path, err))
		}
		br.Password = pw
	}
	if _, err := br.TLS(); err != nil {
		return br, usageError(fmt.Errorf("%s: fleet: %w", b.Path, err))
	}
	return br, nil
}

// readPassword is a password file's first line.
func readPassword(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s: the first line (the password) is empty", path)
	}
	return line, nil
}
