package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/certbench/certbench/suites"
	"github.com/certbench/certbench/suites/suite"
	"github.com/spf13/cobra"
)

func init() { root.AddCommand(suitesCommand()) }

// suiteListing is one case as `bench suites -o json` lists it.
type suiteListing struct {
	Suite      string   `json:"suite"`
	Case       string   `json:"case"` // SUITE/CASE, as --case takes it
	Title      string   `json:"title"`
	Start      string   `json:"start_state"`
	EN303645   []string `json:"en303645"`
	TS103701   []string `json:"ts103701,omitempty"`
	PSTI       []string `json:"psti,omitempty"`
	EN18031    []string `json:"en18031,omitempty"`
	CRA        []string `json:"cra,omitempty"`
	Needs      []string `json:"needs,omitempty"`
	Applicable string   `json:"applicability"` // what decides whether it applies
}

func suitesCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "suites",
		Short: "List the certification suites and their cases with their references",
		Long: `List every suite and case bench run can run, with the EN 303 645 provisions,
TS 103 701 test units, UK PSTI paragraphs, EN 18031 requirements and CRA
Annex I points each case checks, the device state it starts from and what
the fixture must have for it to run. -o json for a machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError(fmt.Errorf("-o %q: write -o text or -o json", format))
			}
			return listSuites(cmd.OutOrStdout(), format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	return cmd
}

func listSuites(w io.Writer, format string) error {
	var list []suiteListing
	for _, st := range suites.All() {
		for _, c := range st.Cases {
			list = append(list, listing(st, c))
		}
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	last := ""
	for _, l := range list {
		if l.Suite != last {
			fmt.Fprintf(w, "%s\n", l.Suite)
			last = l.Suite
		}
		fmt.Fprintf(w, "  %s  %s\n", l.Case, l.Title)
		fmt.Fprintf(w, "      EN 303 645 %s", strings.Join(l.EN303645, ", "))
		for _, r := range []struct {
			doc string
			ids []string
		}{{"TS 103 701", l.TS103701}, {"PSTI", l.PSTI}, {"EN 18031", l.EN18031}, {"CRA", l.CRA}} {
			if len(r.ids) > 0 {
				fmt.Fprintf(w, " · %s %s", r.doc, strings.Join(r.ids, ", "))
			}
		}
		fmt.Fprintf(w, "\n      starts %s; %s", l.Start, l.Applicable)
		if len(l.Needs) > 0 {
			fmt.Fprintf(w, "; needs %s", strings.Join(l.Needs, ", "))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func listing(st *suite.Suite, c *suite.Case) suiteListing {
	l := suiteListing{
		Suite: st.Name, Case: st.FullID(c), Title: c.Title, Start: string(c.Start),
		EN303645: c.References.EN303645, TS103701: c.References.TS103701, PSTI: c.References.PSTI,
		EN18031: c.References.EN18031, CRA: c.References.CRA,
		Applicable: "always applies",
	}
	if c.Applies != nil {
		l.Applicable = "applicability decided by the declarations"
	}
	if c.Needs.Button {
		l.Needs = append(l.Needs, "reset button")
	}
	for _, s := range c.Needs.Services {
		l.Needs = append(l.Needs, s+" service")
	}
	for _, p := range c.Needs.Procedures {
		l.Needs = append(l.Needs, "procedure "+p)
	}
	for _, i := range c.Needs.Images {
		l.Needs = append(l.Needs, "image "+i)
	}
	return l
}
