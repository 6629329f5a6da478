package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/certbench/certbench/bench/buildinfo"
)

func init() { root.AddCommand(versionCommand()) }

func versionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the bench's version and the revision it was built from",
		Long: `Print the module version and the VCS revision (git commit) the binary was
built from, as Go records them (runtime/debug.ReadBuildInfo), and whether the
working tree had uncommitted changes. Records carry the same information.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := buildinfo.Read()
			switch format {
			case "text":
				fmt.Fprintf(cmd.OutOrStdout(), "bench %s\nmodule %s\n", in, in.Module)
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			default:
				return usageError(fmt.Errorf("-o %q: write -o text or -o json", format))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	return cmd
}
