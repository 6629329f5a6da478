package main

// Wiring: the config model (fixtures) onto the drivers. This is the only
// place that knows both, so a fixture's YAML can be followed from here to the
// GPIO line or serial port it ends on.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures"
	"github.com/spf13/cobra"
)

// defaultBenchFile is what -c means when it is not given.
const defaultBenchFile = "bench.yaml"

// configFlag adds -c/--config to cmd, bound to *path.
func configFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", defaultBenchFile, "bench file (YAML)")
}

// loadBench loads the bench file; a bad file is the user's to fix (exit 2).
// Its problems are printed one per line, each starting FILE:LINE:COLUMN, so
// an editor or grep can jump to them.
func loadBench(path string) (*fixtures.Bench, error) {
	b, err := fixtures.LoadBench(path)
	if err == nil {
		return b, nil
	}
	if _, statErr := os.Stat(path); path == defaultBenchFile && errors.Is(statErr, fs.ErrNotExist) {
		return nil, usageError(fmt.Errorf("no %s in this folder: name the bench file with -c FILE", defaultBenchFile))
	}
	var list fixtures.ErrorList
	if errors.As(err, &list) {
		return nil, usageError(fmt.Errorf("loading %s found %d problem(s):\n%w", path, len(list), err))
	}
	return nil, usageError(fmt.Errorf("load bench file: %w", err))
}

// loadFixture loads the bench file and picks one fixture by name.
func loadFixture(path, name string) (*fixtures.Bench, *fixtures.Fixture, error) {
	b, err := loadBench(path)
	if err != nil {
		return nil, nil, err
	}
	f, err := b.Fixture(name)
	if err != nil {
		return nil, nil, usageError(err)
	}
	return b, f, nil
}

// newSwitch makes the fixture's power switch: a relay on a GPIO line, or
// external commands.
func newSwitch(f *fixtures.Fixture, log *power.Log) (power.Switch, error) {
	p := f.Power
	var (
		sw  power.Switch
		err error
	)
	if p.Command != nil {
		sw, err = power.NewCommand(power.CommandConfig{
			Name:      fmt.Sprintf("fixture %q", f.Name),
			On:        p.Command.On,
			Off:       p.Command.Off,
			Cycle:     p.Command.Cycle,
			Status:    p.Command.Status,
			StatusOn:  p.Command.StatusOn,
			StatusOff: p.Command.StatusOff,
			Timeout:   p.Command.Timeout,
			MinOff:    p.MinOff,
			SafeOn:    p.SafeOn,
			Log:       log,
		})
	} else {
		sw, err = power.NewRelay(power.RelayConfig{
			Name:      fmt.Sprintf("fixture %q", f.Name),
			Line:      p.Line,
			ActiveLow: p.ActiveLow,
			SafeOn:    p.SafeOn,
			MinOff:    p.MinOff,
			Log:       log,
		})
	}
	if err != nil {
		return nil, err // names the fixture and the switch already
	}
	return sw, nil
}

// consolePort says where the fixture's console is.
func consolePort(f *fixtures.Fixture) console.Port {
	c := f.Console
	if c.TCP != "" {
		return console.TCP{Addr: c.TCP}
	}
	s := console.Serial{
		Path:     c.Port,
		Baud:     c.Baud,
		DataBits: c.DataBits,
		Parity:   c.Parity,
		StopBits: c.StopBits,
	}
	if c.USB != nil {
		s.VID, s.PID, s.SerialNumber = c.USB.VID, c.USB.PID, c.USB.Serial
	}
	return s
}

// explainMissingPort adds to a console that did not open the fact that its
// console.port does not exist, and how the bench file's relative paths
// resolve, so a wrong path is not taken for an unplugged adapter.
func explainMissingPort(f *fixtures.Fixture, benchPath string, err error) error {
	if f.Console.Port == "" {
		return err
	}
	if _, serr := os.Lstat(f.Console.Port); !errors.Is(serr, fs.ErrNotExist) {
		return err
	}
	return fmt.Errorf("console.port %s does not exist (relative paths in %s resolve against its folder): %w", f.Console.Port, benchPath, err)
}

// consolePrompts compiles the profile's prompts that Login and Run use.
func consolePrompts(p *fixtures.Profile) (console.Prompts, error) {
	var out console.Prompts
	for _, x := range []struct {
		pat fixtures.Pattern
		dst *console.Pattern
	}{
		{p.Prompts.Login, &out.Login},
		{p.Prompts.Password, &out.Password},
		{p.Prompts.Shell, &out.Shell},
		{p.Prompts.LoginFailed, &out.Failed},
		{p.Prompts.Lockout, &out.Lockout},
	} {
		if x.pat.IsZero() {
			continue
		}
		pat, err := consolePattern(x.pat)
		if err != nil {
			return out, fmt.Errorf("profile %s: %w", p.Path, err)
		}
		*x.dst = pat
	}
	return out, nil
}

// consolePattern maps a profile's pattern onto the console's.
func consolePattern(p fixtures.Pattern) (console.Pattern, error) {
	if p.Literal {
		return console.Literal(p.Expr), nil
	}
	return console.Regexp(p.Expr)
}
