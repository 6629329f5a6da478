package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/certbench/certbench/bench/fleet"
	"github.com/spf13/cobra"
)

func init() { root.AddCommand(fleetCommand()) }

func fleetCommand() *cobra.Command {
	var o brokerOptions
	var format string
	var quiet time.Duration
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "List the benches seen on the broker, their fixtures and what each is doing",
		Long: `Read every bench's retained status from the broker: online or offline
(the broker publishes an agent's last will when it vanishes), since when, and
each fixture's state (idle, waiting, running) with its job, run and case.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError(fmt.Errorf("-o %q: write -o text or -o json", format))
			}
			br, err := o.broker()
			if err != nil {
				return err
			}
			sts, err := fleetStatus(cmd.Context(), br, o.prefix, quiet)
			if err != nil {
				return &exitError{code: exitIncomplete, err: err}
			}
			printFleet(cmd.OutOrStdout(), sts, format)
			return nil
		},
	}
	brokerFlags(cmd, &o)
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text or json")
	cmd.Flags().DurationVar(&quiet, "quiet", 500*time.Millisecond, "stop listening once no status came for this long")
	return cmd
}

// fleetStatus collects the retained statuses: the broker sends them right
// after the subscription; a quiet spell ends the list.
func fleetStatus(ctx context.Context, br fleet.Broker, prefix string, quiet time.Duration) ([]fleet.Status, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var mu sync.Mutex
	byBench := map[string]fleet.Status{}
	got := make(chan struct{}, 1)
	c := &fleet.Controller{Broker: br, Prefix: prefix}
	c.OnStatus = func(st fleet.Status) {
		mu.Lock()
		byBench[st.Bench] = st
		mu.Unlock()
		select {
		case got <- struct{}{}:
		default:
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Connect(cctx); err != nil {
		return nil, err
	}
	if err := c.WatchAll(cctx); err != nil {
		c.Close()
		return nil, err
	}
	for done := false; !done; {
		select {
		case <-got:
		case <-time.After(quiet):
			done = true
		case <-ctx.Done():
			done = true
		}
	}
	c.Close()
	mu.Lock()
	defer mu.Unlock()
	var out []fleet.Status
	for _, st := range byBench {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b fleet.Status) int { return strings.Compare(a.Bench, b.Bench) })
	return out, nil
}

func printFleet(w io.Writer, sts []fleet.Status, format string) {
	if format == "json" {
		enc := json.NewEncoder(w)
		for _, st := range sts {
			enc.Encode(st)
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BENCH\tSTATE\tSINCE\tFIXTURE\tDOING")
	for _, st := range sts {
		since := st.Time.Local().Format("2006-01-02 15:04:05")
		if len(st.Fixtures) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\n", st.Bench, st.State, since)
		}
		for i, f := range st.Fixtures {
			doing := f.State
			if f.Job != "" {
				doing += " job " + f.Job
			}
			if f.Case != "" {
				doing += " case " + f.Case
			}
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Bench, st.State, since, f.Name, doing)
			} else {
				fmt.Fprintf(tw, "\t\t\t%s\t%s\n", f.Name, doing)
			}
		}
	}
	tw.Flush()
}
