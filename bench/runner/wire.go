package runner

// Wiring: the config model (fixtures) onto the drivers. This is the one
// place that knows both, so a fixture's YAML can be followed from here to
// the GPIO line or serial port it ends on.

import (
	"fmt"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures"
)

// Switch makes the fixture's power switch: a relay on a GPIO line, or
// external commands.
func Switch(f *fixtures.Fixture, log *power.Log) (power.Switch, error) {
	p := f.Power
	name := fmt.Sprintf("fixture %q", f.Name)
	if p.Command != nil {
		return power.NewCommand(power.CommandConfig{
			Name:      name,
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
	}
	return power.NewRelay(power.RelayConfig{
		Name:      name,
		Line:      p.Line,
		ActiveLow: p.ActiveLow,
		SafeOn:    p.SafeOn,
		MinOff:    p.MinOff,
		Log:       log,
	})
}

// Button makes the fixture's reset button, nil when it has none.
func Button(f *fixtures.Fixture, log *power.Log) (*power.Button, error) {
	if f.Button == nil {
		return nil, nil
	}
	return power.NewButton(power.ButtonConfig{
		Line:      f.Button.Line,
		ActiveLow: f.Button.ActiveLow,
		Log:       log,
	})
}

// ConsolePort says where the fixture's console is.
func ConsolePort(f *fixtures.Fixture) console.Port {
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

// Prompts compiles the profile's prompts that the console's Login and Run
// use.
func Prompts(p *fixtures.Profile) (console.Prompts, error) {
	var out console.Prompts
	for _, x := range []struct {
		pat fixtures.Pattern
		dst *console.Pattern
	}{
		{p.Prompts.Autoboot, &out.Autoboot},
		{p.Prompts.Login, &out.Login},
		{p.Prompts.Password, &out.Password},
		{p.Prompts.Shell, &out.Shell},
		{p.Prompts.LoginFailed, &out.Failed},
		{p.Prompts.Lockout, &out.Lockout},
	} {
		if x.pat.IsZero() {
			continue
		}
		pat, err := Pattern(x.pat)
		if err != nil {
			return out, fmt.Errorf("profile %s: %w", p.Path, err)
		}
		*x.dst = pat
	}
	return out, nil
}

// Pattern is a profile's pattern as the console's: the one compiled when
// the profile loaded (fixtures.Pattern.Console, the one mapping).
func Pattern(p fixtures.Pattern) (console.Pattern, error) {
	return p.Console()
}
