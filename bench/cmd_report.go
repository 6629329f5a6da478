package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/certbench/certbench/results/report"
	"github.com/spf13/cobra"
)

func init() {
	var (
		format, out string
		tr          trust
	)
	cmd := &cobra.Command{
		Use:   "report DIR",
		Short: "Report on an archive or one run: text, JUnit XML, HTML or JSON",
		Long: `report reads an archive (a folder with index.jsonl and runs/) or one run's
folder and writes its results:

  text   a summary for the terminal, failures first (the default)
  junit  JUnit XML for Jenkins and GitLab: a testsuite per suite of each run, a
         testcase per case, classname FIXTURE.RUN_ID.SUITE (Jenkins tells cases
         apart by classname and name). FAIL is a <failure>, ERROR an <error>, INCONCLUSIVE an
         <error> saying "inconclusive" (the bench could not decide: it must not
         look like a pass), NOT_APPLICABLE and NOT_RUN are <skipped>. A run cut
         off by a crash, unreadable or missing is an <error> testcase of its own,
         and so is a run whose verdict is ERROR, NOT_RUN or INCONCLUSIVE (bench
         run exits 3 for it: CI must not go green) when no case of it is
         already a <failure> or <error>, and a run whose evidence
         changed, is missing or incomplete (an <error> of type EVIDENCE).
  html   one self-contained page (no scripts, nothing fetched): the verdict,
         device and a sentence per problem at the top, then per case its
         references, reason, a timeline of power, console and verdicts, and the
         console lines that decided it
  json   a machine summary: runs, cases, verdicts, reasons, references

Every report first checks the archive as 'bench verify' does (the same check:
signatures, evidence digests, the index, its checkpoint and the runs'
inclusion proofs) against the keys you trust: --key, --trusted DIR or the
bench file's key (-c). Its first statement, in every format, is the outcome:
an archive that does not verify says so first (the first line of text, a
red banner in HTML, "verified": false and every problem in JSON, and in
JUnit an <error> of type VERIFY before any other testcase) and states no PASS
anywhere: a run's FAIL stays shown, its passes are "not stated". Without a
trusted key the report says nothing in it is verified, and JUnit has an
<error> of type UNVERIFIED, so CI cannot go green on an archive a forger
could have written. Every report prints the archive's signed checkpoint: hand
it (checkpoint.dsse.json) to your customer with the report, and 'bench verify
--checkpoint' later shows whether an archive is that one or an extension.

A missing or malformed evidence file does not stop the report: it says so in
place. Runs cut off by a crash are marked incomplete. A record that is not the
one the bench signed and sealed is marked tampered and none of its verdicts
are shown. Runs are listed failures first, then what could not be decided,
then passes.

Exit status 0 when the report was written, whatever the verdicts (CI reads them
from the JUnit file); 2 for bad usage, a folder that holds no results, or a
report that could not be written.`,
		Example: `  bench report -c lab.yaml archive/
  bench report --key bench.pub --format html --out report.html archive/runs/20261124T235000Z-cam-1-0a1b2c
  bench report --key bench.pub -o junit --out results.xml archive/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := report.ParseFormat(format)
			if err != nil {
				return usageError(err)
			}
			keys, err := tr.publicKeys()
			if err != nil {
				return err
			}
			rep, err := report.Load(args[0], keys...)
			if err != nil {
				return usageError(err)
			}
			if out == "" || out == "-" {
				return report.Write(cmd.OutOrStdout(), rep, f)
			}
			var b bytes.Buffer
			if err := report.Write(&b, rep, f); err != nil {
				return err
			}
			return writeReportFile(out, b.Bytes())
		},
	}
	// -o is the format, as for every command that writes for machines.
	cmd.Flags().StringVarP(&format, "format", "o", string(report.Text), "text, junit, html or json")
	cmd.Flags().StringVar(&out, "out", "", "write the report to this file instead of standard output")
	tr.flags(cmd, "trusted bench public key (PEM) to verify signatures with; repeat for several")
	root.AddCommand(cmd)
}

// writeReportFile replaces path with b in one step, so a reader (a CI job, a
// browser) never sees half a report.
func writeReportFile(path string, b []byte) error {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageError(fmt.Errorf("write report %s: folder %s does not exist", path, dir))
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}
