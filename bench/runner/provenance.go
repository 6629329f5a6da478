package runner

import (
	"strings"

	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/results"
)

// simPackages is where the simulated lab's GPIO lines come from: in-process
// (fixtures/sim) or over its socket (fixtures/sim/gpiosock).
const simPackages = "github.com/certbench/certbench/fixtures/sim"

// powerPart says what switches the fixture's power.
func powerPart(f *fixtures.Fixture, sw power.Switch) results.Part {
	if r, ok := sw.(*power.Relay); ok {
		return results.Part{Role: "power", Kind: "gpio-relay", Name: f.Power.Line, Driver: r.Driver()}
	}
	name := ""
	if f.Power.Command != nil && len(f.Power.Command.On) > 0 {
		name = f.Power.Command.On[0]
	}
	return results.Part{Role: "power", Kind: "power-command", Name: name, Driver: "os/exec"}
}

func buttonPart(f *fixtures.Fixture, b *power.Button) results.Part {
	return results.Part{Role: "button", Kind: "gpio-button", Name: f.Button.Line, Driver: b.Driver()}
}

func consolePart(f *fixtures.Fixture) results.Part {
	c := f.Console
	switch {
	case c.TCP != "":
		return results.Part{Role: "console", Kind: "tcp", Name: c.TCP, Driver: "net"}
	case c.USB != nil:
		name := "usb " + c.USB.VID + ":" + c.USB.PID
		if c.USB.Serial != "" {
			name += " serial " + c.USB.Serial
		}
		return results.Part{Role: "console", Kind: "serial", Name: name, Driver: "go.bug.st/serial"}
	}
	return results.Part{Role: "console", Kind: "serial", Name: c.Port, Driver: "go.bug.st/serial"}
}

// simulated reports whether any part is the simulated lab's.
func simulated(parts []results.Part) bool {
	for _, p := range parts {
		if strings.HasPrefix(p.Driver, simPackages) {
			return true
		}
	}
	return false
}
