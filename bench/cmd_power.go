package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/certbench/certbench/drivers/power"
	"github.com/spf13/cobra"
)

func init() {
	var cfg string
	cmd := &cobra.Command{
		Use:   "power on|off|cycle FIXTURE",
		Short: "Switch a fixture's power by hand",
		Long: `Switch a fixture's power on, off, or off and on again (honouring its minimum
off-time). On success the fixture stays as switched; on an error or an interrupt
(Ctrl-C) its relay goes to its declared safe level. Every transition is printed.`,
		Example:   "  bench power cycle -c bench.yaml cam-1",
		Args:      cobra.ExactArgs(2),
		ValidArgs: []string{"on", "off", "cycle"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return powerCommand(cmd.Context(), cmd.OutOrStdout(), cfg, args[0], args[1])
		},
	}
	configFlag(cmd, &cfg)
	root.AddCommand(cmd)
}

func powerCommand(ctx context.Context, out io.Writer, cfgPath, action, name string) (err error) {
	var do func(power.Switch, context.Context) error
	switch action {
	case "on":
		do = power.Switch.On
	case "off":
		do = power.Switch.Off
	case "cycle":
		do = power.Switch.Cycle
	default:
		return usageError(fmt.Errorf("unknown action %q: write on, off or cycle", action))
	}
	_, f, err := loadFixture(cfgPath, name)
	if err != nil {
		return err
	}
	log := power.NewLog(nil, time.Now())
	sw, err := newSwitch(f, log)
	if err != nil {
		return &exitError{code: exitIncomplete, err: err}
	}

	// Success leaves the fixture as the user asked; anything else leaves it safe.
	var safety power.Safety
	safety.Register(fmt.Sprintf("fixture %q power", f.Name), sw)
	ctx, stop := safety.NotifyContext(ctx)
	defer func() { err = errors.Join(err, stop()) }()
	defer func() {
		if r := recover(); r != nil {
			safety.SafeAll()
			panic(r)
		}
		if err != nil {
			err = errors.Join(err, safety.SafeAll())
		}
		printPowerEvents(out, log.Events())
	}()

	if err := do(sw, ctx); err != nil {
		return &exitError{code: exitIncomplete, err: err} // names the action, fixture and switch
	}
	return nil
}

func printPowerEvents(w io.Writer, evs []power.Event) {
	for _, e := range evs {
		fmt.Fprintf(w, "%10s  %-10s %-7s", e.Mono.Round(time.Millisecond), e.Switch, e.Action)
		if e.Level != "" {
			fmt.Fprintf(w, " level=%s", e.Level)
		}
		if e.Detail != "" {
			fmt.Fprintf(w, " %s", e.Detail)
		}
		if e.Err != "" {
			fmt.Fprintf(w, " error: %s", e.Err)
		}
		fmt.Fprintln(w)
		if out := strings.TrimRight(e.Output, "\r\n"); out != "" {
			fmt.Fprintf(w, "            output: %s\n", strings.ReplaceAll(out, "\n", "\n                    "))
		}
	}
}
