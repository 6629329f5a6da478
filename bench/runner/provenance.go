package runner

import (
	"fmt"
	"strings"
	"time"

	"github.com/certbench/certbench/drivers/console"
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

// consolePart says what served the console: as configured, and what the
// port resolved to when it was opened.
func consolePart(f *fixtures.Fixture, id console.Identity) results.Part {
	c := f.Console
	p := results.Part{Role: "console", Kind: "serial", Name: c.Port, Driver: "go.bug.st/serial"}
	switch {
	case c.TCP != "":
		p = results.Part{Role: "console", Kind: "tcp", Name: c.TCP, Driver: "net"}
	case c.USB != nil:
		p.Name = "usb " + c.USB.VID + ":" + c.USB.PID
		if c.USB.Serial != "" {
			p.Name += " serial " + c.USB.Serial
		}
	}
	p.Identity = map[string]string{}
	for k, v := range map[string]string{
		"kind": id.Kind, "node": id.Node, "vid": id.VID, "pid": id.PID, "serial": id.Serial,
		"usb_port": id.USBPort, "addr": id.Addr,
	} {
		if v != "" {
			p.Identity[k] = v
		}
	}
	if id.Major != 0 || id.Minor != 0 {
		p.Identity["device"] = fmt.Sprintf("%d:%d", id.Major, id.Minor)
	}
	if !id.Made.IsZero() {
		p.Identity["made"] = id.Made.UTC().Format(time.RFC3339Nano)
	}
	return p
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
