package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/certbench/certbench/results"
	"github.com/spf13/cobra"
)

func init() {
	var (
		keyPaths        []string
		config, output  string
		allowIncomplete bool
	)
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Verify an archive or one run: signatures, evidence digests, index chain",
		Long: `verify checks an archive (a folder with index.jsonl and runs/) or one run's
folder: every record's signature against the bench's public key, every evidence
file's size and SHA-256, the chain of index.jsonl, and that the index and the run
folders name each other. It names each thing that is wrong: which file, which run,
which index line. Exit status 0 only when everything verifies, 1 when something
does not, 2 for bad usage.

The public key comes from --key, else from the bench file (-c: the key: path with
.pub), else from the archive's own keys/ folder. Only a key you hold separately
shows the records are authentic; the archive's own copy shows only that they are
consistent, and verify says so.

A run cut off by a crash or power loss is incomplete and fails verification;
--allow-incomplete lists such runs without failing (sealed runs are still
checked in full). A run the index seals is always checked in full: if its
INCOMPLETE marker is still there (a crash just after sealing, or a marker
added later) verify names it as a stale-marker problem, even with
--allow-incomplete; the bench removes such a marker when it next opens the
archive.`,
		Example: `  bench verify --key bench.pub archive/
  bench verify --key bench.pub archive/runs/20261124T235000Z-cam-1-0a1b2c
  bench verify -o json archive/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError(fmt.Errorf("-o %q: use text or json", output))
			}
			if len(keyPaths) == 0 && config != "" {
				b, err := loadBench(config)
				if err != nil {
					return err
				}
				keyPaths = []string{publicKeyPath(b.Key)}
			}
			var opts results.VerifyOptions
			opts.AllowIncomplete = allowIncomplete
			for _, p := range keyPaths {
				pub, err := results.LoadPublicKey(p)
				if err != nil {
					return usageError(err)
				}
				opts.Keys = append(opts.Keys, pub)
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
			if !rep.OK() {
				return &exitError{code: 1, err: fmt.Errorf("%s: %d problem(s)", args[0], len(rep.Problems))}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keyPaths, "key", nil, "bench public key (PEM); repeat for several benches")
	cmd.Flags().StringVarP(&config, "config", "c", "", "bench file whose key: names the key pair")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text (for people) or json (for machines)")
	cmd.Flags().BoolVar(&allowIncomplete, "allow-incomplete", false, "do not fail on runs cut off by a crash (still listed)")
	root.AddCommand(cmd)
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
	for _, r := range rep.Runs {
		fmt.Fprintf(w, "  %-10s  %s  %-12s %s\n", r.State, r.ID, r.Fixture, r.Verdict)
	}
	if rep.OK() && rep.Mode == "archive" {
		fmt.Fprintln(w, "OK: every signature, evidence file and index line verifies")
		return
	}
	if rep.OK() {
		fmt.Fprintln(w, "OK: the signature and every evidence file verify (the archive's index was not checked: verify the archive for that)")
		return
	}
	fmt.Fprintf(w, "FAILED: %d problem(s)\n", len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}
