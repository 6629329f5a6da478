package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures"
	"github.com/spf13/cobra"
)

func init() {
	var cfg, format string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate a bench file and probe the hardware it describes",
		Long: `Validate the bench file with the profiles and declarations it names, then
probe the hardware without switching power: every GPIO line exists, every
console port opens, no line or port is shared by two fixtures (aliases such as
P1_11 for GPIO17, and two /dev/serial/by-id links to one adapter, included), and
whether each network service answers. Opening a serial port raises its DTR and
RTS lines, which resets some boards wired to them.

Exit status: 0 all probes passed; 2 the files are invalid; 3 a probe failed
(a line missing, a port that does not open). A network service that does not
answer is only a warning: the device may be off.`,
		Example: "  bench check -c bench.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError(fmt.Errorf("-o %q: write -o text or -o json", format))
			}
			b, err := loadBench(cfg)
			if err != nil {
				return err
			}
			rep := probeBench(cmd.Context(), b, timeout)
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.print(cmd.OutOrStdout())
			}
			if n := rep.failures(); n > 0 {
				return &exitError{code: exitIncomplete, err: fmt.Errorf("%d probe(s) failed", n)}
			}
			return nil
		},
	}
	configFlag(cmd, &cfg)
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Second, "how long each port or network probe may take")
	root.AddCommand(cmd)
}

// Probe outcomes.
const (
	probeOK   = "ok"
	probeWarn = "warn" // worth a look, not a failure (a device that is off)
	probeFail = "FAIL"
)

type probe struct {
	What   string `json:"what"`
	Target string `json:"target"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

type fixtureReport struct {
	Name   string  `json:"name"`
	Probes []probe `json:"probes"`
}

type checkReport struct {
	Bench    string          `json:"bench"`
	File     string          `json:"file"`
	Fixtures []fixtureReport `json:"fixtures"`
}

func (r *checkReport) failures() int {
	n := 0
	for _, f := range r.Fixtures {
		for _, p := range f.Probes {
			if p.Status == probeFail {
				n++
			}
		}
	}
	return n
}

func (r *checkReport) print(w io.Writer) {
	fmt.Fprintf(w, "bench %s (%s)\n", r.Bench, r.File)
	for _, f := range r.Fixtures {
		fmt.Fprintf(w, "\nfixture %s\n", f.Name)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, p := range f.Probes {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.What, p.Target, p.Status, p.Detail)
		}
		tw.Flush()
	}
	if n := r.failures(); n > 0 {
		fmt.Fprintf(w, "\n%d probe(s) failed\n", n)
	} else {
		fmt.Fprintf(w, "\nall probes passed\n")
	}
}

// probeBench probes every fixture. It switches nothing: a relay line is only
// looked up, never driven, so a device someone powered on stays on.
func probeBench(ctx context.Context, b *fixtures.Bench, timeout time.Duration) *checkReport {
	rep := &checkReport{Bench: b.ID, File: b.Path}
	initErr := power.Init()
	owners := map[string]string{} // resolved line name → "fixture X power"

	for _, f := range b.Fixtures {
		fr := fixtureReport{Name: f.Name}
		add := func(what, target, status, detail string) {
			fr.Probes = append(fr.Probes, probe{what, target, status, detail})
		}
		line := func(what, name string) {
			if initErr != nil {
				add(what, name, probeFail, "GPIO drivers did not load: "+initErr.Error())
				return
			}
			real, err := power.LineName(name)
			if err != nil {
				add(what, name, probeFail, err.Error())
				return
			}
			use := fmt.Sprintf("fixture %q %s", f.Name, what)
			if other, dup := owners[real]; dup {
				add(what, name, probeFail, fmt.Sprintf("line %s is also %s's: give each its own line", real, other))
				return
			}
			owners[real] = use
			detail := ""
			if real != name {
				detail = "alias of " + real
			}
			add(what, name, probeOK, detail)
		}

		if f.Power.Command != nil {
			_, err := newSwitch(f, nil) // checks the programs exist; runs nothing
			if err != nil {
				add("power", "command", probeFail, err.Error())
			} else {
				add("power", strings.Join(f.Power.Command.On, " "), probeOK, "commands found")
			}
		} else {
			line("power", f.Power.Line)
		}
		if f.Button != nil {
			line("button", f.Button.Line)
		}
		probeConsole(ctx, f, timeout, owners, add)
		probeNetwork(f, timeout, add)
		add("profile", f.ProfilePath, probeOK, "model "+f.Profile.Model)
		add("declarations", f.DeclarationsPath, probeOK, "sha256 "+f.Declarations.SHA256[:12])
		rep.Fixtures = append(rep.Fixtures, fr)
	}
	return rep
}

func probeConsole(ctx context.Context, f *fixtures.Fixture, timeout time.Duration, owners map[string]string, add func(what, target, status, detail string)) {
	port := consolePort(f)
	if s, ok := port.(console.Serial); ok && plugOrderName.MatchString(s.Path) {
		add("console", s.Path, probeWarn, "this name follows plug order and can point at another adapter after a replug or reboot: name the port by its /dev/serial/by-id/ link, or by usb: {vid, pid, serial}")
	}
	// Two names for one device node (by-id and by-path links, /dev/ttyUSB0)
	// pass the loader's check; the resolved node does not.
	if s, ok := port.(console.Serial); ok && s.Path != "" {
		if node, err := filepath.EvalSymlinks(s.Path); err == nil {
			if other, dup := owners[node]; dup {
				add("console", s.Path, probeFail, fmt.Sprintf("%s is also %s's: give each fixture its own adapter", node, other))
				return
			}
			owners[node] = fmt.Sprintf("fixture %q console", f.Name)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := console.Open(ctx, console.Config{Name: f.Name, Port: port})
	if err != nil {
		add("console", fmt.Sprint(port), probeFail, err.Error())
		return
	}
	if err := c.Close(); err != nil {
		add("console", fmt.Sprint(port), probeFail, "close: "+err.Error())
		return
	}
	add("console", fmt.Sprint(port), probeOK, "opens")
}

// plugOrderName matches serial device names the kernel hands out in the
// order adapters appear.
var plugOrderName = regexp.MustCompile(`^/dev/tty(USB|ACM)[0-9]+$`)

func probeNetwork(f *fixtures.Fixture, timeout time.Duration, add func(what, target, status, detail string)) {
	if f.Network == nil {
		return
	}
	services := make([]string, 0, len(f.Network.Ports))
	for s := range f.Network.Ports {
		services = append(services, s)
	}
	slices.Sort(services)
	for _, s := range services {
		addr := f.Network.Addr(s)
		conn, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			add("network "+s, addr, probeWarn, "no answer (is the device on?): "+err.Error())
			continue
		}
		conn.Close()
		add("network "+s, addr, probeOK, "answers")
	}
}
