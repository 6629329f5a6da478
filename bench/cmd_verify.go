package main

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/certbench/certbench/results"
	"github.com/spf13/cobra"
)

// trust is where the keys a verification trusts come from: --key (repeated),
// --trusted DIR (every *.pub in it), or the bench file's key (-c).
type trust struct {
	keys   []string
	dirs   []string
	config string
}

func (tr *trust) flags(cmd *cobra.Command, keyHelp string) {
	cmd.Flags().StringArrayVar(&tr.keys, "key", nil, keyHelp)
	cmd.Flags().StringArrayVar(&tr.dirs, "trusted", nil, "folder of trusted public keys (*.pub); repeat for several")
	cmd.Flags().StringVarP(&tr.config, "config", "c", "", "bench file whose key: names the key pair")
}

// publicKeys loads the trusted public keys; none is not an error here (the
// caller says what that means).
func (tr *trust) publicKeys() ([]crypto.PublicKey, error) {
	paths := append([]string(nil), tr.keys...)
	for _, d := range tr.dirs {
		found, err := filepath.Glob(filepath.Join(d, "*.pub"))
		if err != nil || len(found) == 0 {
			if fi, serr := os.Stat(d); serr != nil || !fi.IsDir() {
				return nil, usageError(fmt.Errorf("--trusted %s: not a folder", d))
			}
			return nil, usageError(fmt.Errorf("--trusted %s: no *.pub key in it", d))
		}
		sort.Strings(found)
		paths = append(paths, found...)
	}
	if len(paths) == 0 && tr.config != "" {
		b, err := loadBench(tr.config)
		if err != nil {
			return nil, err
		}
		paths = []string{publicKeyPath(b.Key)}
	}
	var keys []crypto.PublicKey
	for _, p := range paths {
		pub, err := results.LoadPublicKey(p)
		if err != nil {
			return nil, usageError(err)
		}
		keys = append(keys, pub)
	}
	return keys, nil
}

func init() {
	var (
		tr              trust
		output, held    string
		allowIncomplete bool
	)
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Verify an archive or one run: signatures, evidence digests, the index and its checkpoint",
		Long: `verify checks an archive (a folder with index.jsonl and runs/) or one run's
folder: every record's signature against the keys you trust, every evidence
file's size and SHA-256, the chain of index.jsonl, the signed checkpoint
(checkpoint.dsse.json: a Merkle tree over the index) and every run's inclusion
proof in it, and that the index and the run folders name each other. It names
each thing that is wrong: which file, which run, which index line.

A verification needs a key you trust: --key (repeat it for several), --trusted
DIR (every *.pub in it), or the bench file's key (-c: its key: path with .pub).
Without one, verify checks the archive against its own keys/ copy, prints what
it found, and exits 2: a forger who rewrote the archive would have replaced
that copy too. Two different keys signing one archive are a problem: an
archive has one bench key.

--checkpoint FILE is a checkpoint kept elsewhere (the checkpoint.dsse.json a
lab handed its customer with the report, or the fleet controller's copy):
verify proves the archive is the log it signed or an extension of it (a
consistency proof to the archive's own checkpoint), and says which lines, and
which runs where it can tell, are missing when it is not. This is what shows
an older copy of an archive put back, or its newest runs removed.

A run cut off by a crash or power loss is incomplete and fails verification;
--allow-incomplete lists such runs without failing (sealed runs are still
checked in full); 'bench archive close-abandoned' closes one for good. A run
the index seals is always checked in full: if its INCOMPLETE marker is still
there verify names it as a stale-marker problem; the bench removes such a
marker when it next opens the archive.

Exit status: 0 when everything verifies against a trusted key; 1 when
something does not verify; 2 for bad usage, including no trusted key.`,
		Example: `  bench verify --key bench.pub archive/
  bench verify -c lab.yaml --checkpoint customer-checkpoint.dsse.json archive/
  bench verify --trusted /etc/certbench/trusted archive/runs/20261124T235000Z-cam-1-0a1b2c
  bench verify --key bench.pub -o json archive/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError(fmt.Errorf("-o %q: use text or json", output))
			}
			keys, err := tr.publicKeys()
			if err != nil {
				return err
			}
			opts := results.VerifyOptions{Keys: keys, AllowIncomplete: allowIncomplete}
			if held != "" {
				if opts.Checkpoint, err = os.ReadFile(held); err != nil {
					return usageError(fmt.Errorf("--checkpoint: %w", err))
				}
			}
			rep, err := results.Verify(args[0], opts)
			if err != nil {
				return usageError(err)
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printReport(cmd.OutOrStdout(), rep)
			}
			switch {
			case !rep.Intact():
				return &exitError{code: 1, err: fmt.Errorf("%s: %d problem(s)", args[0], len(rep.Problems))}
			case !rep.Trusted:
				return usageError(errors.New(results.NoTrustedKey))
			}
			return nil
		},
	}
	tr.flags(cmd, "trusted bench public key (PEM); repeat for several benches")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text (for people) or json (for machines)")
	cmd.Flags().StringVar(&held, "checkpoint", "", "a signed checkpoint kept elsewhere: the archive must be that log or an extension of it")
	cmd.Flags().BoolVar(&allowIncomplete, "allow-incomplete", false, "do not fail on runs cut off by a crash (still listed)")
	root.AddCommand(cmd)
	root.AddCommand(archiveCommand())
}

func printReport(w io.Writer, rep *results.Report) {
	fmt.Fprintf(w, "%s %s: %d run(s)", rep.Mode, rep.Dir, len(rep.Runs))
	if rep.Mode == "archive" {
		fmt.Fprintf(w, ", %d index line(s)", rep.IndexLines)
	}
	fmt.Fprintln(w)
	for _, id := range rep.Keys {
		fmt.Fprintf(w, "key %s  from %s\n", id[:16], rep.KeySource)
	}
	if c := rep.Checkpoint; c != nil {
		fmt.Fprintf(w, "checkpoint %s, %d lines, root %s\n", c.Origin, c.Size, c.Root)
	}
	if h := rep.Held; h != nil {
		word := "is NOT that log nor an extension of it"
		if h.Extends {
			word = "extends it (consistency proof checked)"
		}
		fmt.Fprintf(w, "checkpoint given: %s, %d lines, root %s: the archive %s\n", h.Origin, h.Size, h.Root, word)
	}
	for _, r := range rep.Runs {
		fmt.Fprintf(w, "  %-10s  %s  %-12s %s\n", r.State, r.ID, r.Fixture, r.Verdict)
	}
	switch {
	case !rep.Intact():
		fmt.Fprintf(w, "FAILED: %d problem(s)\n", len(rep.Problems))
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	case !rep.Trusted:
		fmt.Fprintf(w, "NOT VERIFIED: consistent with its own keys/ copy, but %s\n", results.NoTrustedKey)
	case rep.Mode == "archive":
		fmt.Fprintln(w, "OK: every signature, evidence file, index line and the checkpoint verify")
	default:
		fmt.Fprintln(w, "OK: the signature, every evidence file and the inclusion proof verify (the archive's index was not checked: verify the archive for that)")
	}
}

// archiveCommand is `bench archive`: what the bench signs into an archive
// besides runs.
func archiveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Sign what an archive needs besides runs: close an abandoned run, sign a checkpoint",
		Args:  cobra.NoArgs,
	}
	var (
		keyPath, config, reason string
		force                   bool
	)
	signer := func() (crypto.Signer, string, error) {
		bench := ""
		if keyPath == "" && config == "" {
			return nil, "", usageError(errors.New("give the bench's private key: -c BENCH.yaml (its key:) or --key bench.key"))
		}
		if config != "" {
			b, err := loadBench(config)
			if err != nil {
				return nil, "", err
			}
			bench = b.ID
			if keyPath == "" {
				keyPath = b.Key
			}
		}
		key, err := results.LoadPrivateKey(keyPath)
		if err != nil {
			return nil, "", usageError(err)
		}
		return key, bench, nil
	}
	keyFlags := func(c *cobra.Command) {
		c.Flags().StringVar(&keyPath, "key", "", "the bench's private key (default: the bench file's key:)")
		c.Flags().StringVarP(&config, "config", "c", "", "bench file whose key: names the private key")
	}

	closeCmd := &cobra.Command{
		Use:   "close-abandoned ARCHIVE RUN_ID",
		Short: "Seal a run the bench never sealed (crash, power loss, kill) as abandoned",
		Long: `close-abandoned seals a run that was cut off (it has its INCOMPLETE marker and
no "sealed" index line) with a record that says only what is known: fixture,
bench and start from its marker, when its files were last written, every
evidence file as it is (marked incomplete), your --reason, and no verdict but
NOT_RUN (or the FAILs of a record written but never sealed: a problem found
stays found). It is signed with the bench key and sealed into the index and
its checkpoint like any run, so the archive verifies again and the run shows
as NOT_RUN, never as a pass.

It refuses while the process that began the run is still running on this
host (its pid is in the marker); --force closes it anyway (after a reboot the
pid may belong to another program). Exit status 0 when closed, 1 when the
run cannot be closed, 2 for bad usage.`,
		Example: `  bench archive close-abandoned -c lab.yaml --reason "power cut during the night run" archive/ 20261124T235000Z-cam-1-0a1b2c`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageError(errors.New(`--reason: say why the run is closed (it goes in the signed record), e.g. --reason "power cut during the run"`))
			}
			key, _, err := signer()
			if err != nil {
				return err
			}
			if !force {
				if pid := markerPID(filepath.Join(args[0], results.RunsDir, args[1], results.IncompleteFile)); pid > 0 && syscall.Kill(pid, 0) == nil {
					return &exitError{code: 1, err: fmt.Errorf("run %s: process %d that began it is still running: stop it first (or --force if that pid is another program now)", args[1], pid)}
				}
			}
			a, err := results.OpenArchive(args[0])
			if err != nil {
				return err
			}
			rec, err := a.CloseAbandoned(args[1], key, reason)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "closed run %s as abandoned: verdict %s, %d evidence file(s) kept (marked incomplete)\n", rec.RunID, rec.Verdict, len(rec.Evidence))
			return nil
		},
	}
	keyFlags(closeCmd)
	closeCmd.Flags().StringVar(&reason, "reason", "", "why the run is closed (goes in the signed record)")
	closeCmd.Flags().BoolVar(&force, "force", false, "close even if the pid in its marker is running")

	cpCmd := &cobra.Command{
		Use:   "checkpoint ARCHIVE",
		Short: "Sign a checkpoint over an archive's index (an archive written before checkpoints)",
		Long: `checkpoint verifies the archive with the bench key and, if nothing is wrong but
a missing checkpoint or inclusion proofs (an archive written before the bench
signed checkpoints, or whose last seal was cut off before its checkpoint),
signs a checkpoint over its index and writes every run's inclusion proof. The
checkpoint commits to the index as it is now: run it only on an archive you
have kept under your control. The bench signs one at every seal on its own.
Exit status 0 when signed, 1 when the archive has other problems, 2 for bad
usage.`,
		Example: `  bench archive checkpoint -c lab.yaml archive/`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, bench, err := signer()
			if err != nil {
				return err
			}
			rep, err := results.Verify(args[0], results.VerifyOptions{Keys: []crypto.PublicKey{key.Public()}, AllowIncomplete: true})
			if err != nil {
				return usageError(err)
			}
			var other []string
			for _, p := range rep.Problems {
				if p.Kind != results.ProblemCheckpoint && p.Kind != results.ProblemStaleMarker {
					other = append(other, "  "+p.String())
				}
			}
			if len(other) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%s does not verify; no checkpoint signed over it:\n%s", args[0], strings.Join(other, "\n"))}
			}
			a, err := results.OpenArchive(args[0])
			if err != nil {
				return err
			}
			c, err := a.Checkpoint(key, bench)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed checkpoint %s\n", c)
			return nil
		},
	}
	keyFlags(cpCmd)
	cmd.AddCommand(closeCmd, cpCmd)
	return cmd
}

// markerPID is the pid an INCOMPLETE marker names, or 0.
func markerPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var m struct {
		PID int `json:"pid"`
	}
	json.Unmarshal(b, &m)
	return m.PID
}
