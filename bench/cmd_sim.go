package main

// `bench sim`: a virtual lab of SimCam SC-100 units running on its own, for
// trying the bench without hardware; `bench sim image`: firmware images in
// the lab's format, good and bad, for update tests.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/fixtures/sim/image"
	// The GPIO-over-socket periph driver: with CERTBENCH_SIM_GPIO set, every
	// bench command (console, power, run, check) finds a running `bench sim`'s
	// relay and button lines in gpioreg, as it finds a Raspberry Pi's.
	_ "github.com/certbench/certbench/fixtures/sim/gpiosock"
)

func init() {
	root.AddCommand(simCommand())
}

func simCommand() *cobra.Command {
	var (
		units    int
		flaws    []string
		userSet  []string
		activeLo bool
		out      string
		scale    float64
		broker   string
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run a simulated lab of virtual devices until interrupted",
		Long: `sim runs a lab of virtual SimCam SC-100 units on this machine: each has a
console on a pty, relay and reset-button GPIO lines, telnet and an HTTP admin
page on 127.0.0.1, and flash in a folder under --out. It writes a bench file
(OUT/bench.yaml) that bench check, bench console, bench power and bench run
accept (bench demo starts a lab of its own and runs every suite on it), prints each
unit's console, lines and ports, and runs until Ctrl-C.

Units are named cam-1 ... cam-N. A unit is a good device unless given flaws:
  --flaw cam-2:default-password --flaw 3:no-lockout

From another terminal, export the CERTBENCH_SIM_GPIO it prints so the bench
finds the lab's GPIO lines, then e.g.
  bench check -c OUT/bench.yaml
  bench console -c OUT/bench.yaml cam-1
  bench power on -c OUT/bench.yaml cam-1
(bench here is how you run it: go run ./bench from the repository, or
bin/bench after go build -o bin/bench ./bench; the lab prints hints that
name it the way it was started.)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if units < 1 || units > 64 {
				return usageError(fmt.Errorf("--units %d: give 1 to 64", units))
			}
			if scale <= 0 {
				return usageError(fmt.Errorf("--scale %v: give a positive factor (1 = real time)", scale))
			}
			cfg := sim.Config{Dir: filepath.Join(out, "units"), TimeScale: scale, Broker: broker}
			for i := 1; i <= units; i++ {
				cfg.Units = append(cfg.Units, sim.UnitConfig{Name: fmt.Sprintf("cam-%d", i), RelayActiveLow: activeLo, ButtonActiveLow: activeLo})
			}
			unitIndex := func(flag, s string) (int, error) {
				if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= units {
					return n - 1, nil
				}
				for i, u := range cfg.Units {
					if u.Name == s {
						return i, nil
					}
				}
				return 0, usageError(fmt.Errorf("%s %q: no such unit (cam-1 to cam-%d, or 1 to %d)", flag, s, units, units))
			}
			for _, f := range flaws {
				name, flaw, ok := strings.Cut(f, ":")
				if !ok {
					return usageError(fmt.Errorf("--flaw %q: write UNIT:FLAW, e.g. cam-2:default-password", f))
				}
				i, err := unitIndex("--flaw", name)
				if err != nil {
					return err
				}
				fl, err := sim.ParseFlaw(flaw)
				if err != nil {
					return usageError(fmt.Errorf("--flaw %q: %w", f, err))
				}
				cfg.Units[i].Flaws = append(cfg.Units[i].Flaws, fl)
			}
			for _, s := range userSet {
				i, err := unitIndex("--user-set", s)
				if err != nil {
					return err
				}
				cfg.Units[i].Passwords = sim.UserSetPassword
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("sim: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			lab, err := sim.Start(ctx, cfg)
			if err != nil {
				if errors.Is(err, sim.ErrConfig) {
					return usageError(err)
				}
				return err
			}
			defer lab.Close()
			sock, err := filepath.Abs(filepath.Join(out, "gpio.sock"))
			if err != nil {
				return err
			}
			if err := lab.ServeGPIO(sock); err != nil {
				return err
			}
			benchFile, _ := filepath.Abs(filepath.Join(out, "bench.yaml"))
			if err := lab.WriteBenchFile(benchFile); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Simulated lab: %d SimCam SC-100 units, time scale %g. Units start powered off.\n\n", units, scale)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "UNIT\tCONSOLE\tRELAY\tBUTTON\tTELNET\tHTTP\tSERIAL\tPASSWORD\tFLAWS")
			for _, u := range lab.Units() {
				pw := u.Label().Password
				if pw == "" {
					pw = "(set at first boot)"
				}
				fl := "none"
				if len(u.Flaws()) > 0 {
					var names []string
					for _, f := range u.Flaws() {
						names = append(names, string(f))
					}
					fl = strings.Join(names, ",")
				}
				relay := u.RelayLine()
				if u.RelayActiveLow() {
					relay += " (active low)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Name(), u.ConsolePath(), relay, u.ButtonLine(),
					u.TelnetAddr(), u.HTTPAddr(), u.Label().Serial, pw, fl)
			}
			tw.Flush()
			fmt.Fprintf(w, "\nBench file: %s\nIn another terminal:\n  export %s=%s\n", benchFile, sim.GPIOSocketEnv, sock)
			self := selfName()
			for _, hint := range []string{
				"check -c " + benchFile,
				"console -c " + benchFile + " cam-1      # Ctrl-] q quits",
				"power on -c " + benchFile + " cam-1     # from a third terminal",
			} {
				fmt.Fprintf(w, "  %s %s\n", self, hint)
			}
			fmt.Fprintf(w, "\nCtrl-C stops the lab (every unit loses power).\n")
			<-ctx.Done()
			fmt.Fprintln(w, "\nStopping the lab.")
			return lab.Close()
		},
	}
	f := cmd.Flags()
	f.IntVar(&units, "units", 3, "number of units")
	f.StringArrayVar(&flaws, "flaw", nil, "UNIT:FLAW, repeatable; flaws: "+flawNames())
	f.StringArrayVar(&userSet, "user-set", nil, "UNIT whose password the user sets at first boot, repeatable")
	f.BoolVar(&activeLo, "active-low", false, "relay and button lines are active low, as on most relay boards")
	f.StringVar(&out, "out", "sim-lab", "folder for the bench file, the units' flash and the GPIO socket")
	f.Float64Var(&scale, "scale", 1, "time scale: 1 is real time, 0.1 ten times faster")
	f.StringVar(&broker, "broker", "", "MQTT broker URL the units publish telemetry to (none if empty)")
	cmd.AddCommand(simImageCommand())
	return cmd
}

// selfName is how to run this bench again from the same folder, for the
// hints the lab prints: "go run ./bench" when it runs from go run's build
// cache, else the name it was started by (bin/bench, bench on PATH), so a
// hint pasted as printed runs the same bench.
func selfName() string {
	arg0 := os.Args[0]
	if exe, err := os.Executable(); err == nil {
		if strings.Contains(exe, string(filepath.Separator)+"go-build") {
			return "go run ./bench"
		}
	}
	return arg0
}

func flawNames() string {
	var s []string
	for _, f := range sim.Flaws() {
		s = append(s, string(f))
	}
	return strings.Join(s, ", ")
}

func simImageCommand() *cobra.Command {
	img := &cobra.Command{
		Use:   "image",
		Short: "Make and inspect firmware images for the simulated lab",
	}
	var (
		output, from, version string
		counter               uint32
		b64                   bool
	)
	mk := &cobra.Command{
		Use:   "make VARIANT",
		Short: "Make a good or bad image for the SimCam SC-100, signed by the vendor test key",
		Long: `make builds one variant of a base image, signed with the vendor test key the
units trust. The base is the SimCam SC-100's factory image (` + sim.FactorySpec().Version + `, security
counter ` + strconv.Itoa(int(sim.FactorySpec().Counter)) + `) unless --from, --version or --counter say otherwise:
  --from IMAGE     take model, version and security counter from an image
  --version V      base version (e.g. 1.4.3)
  --counter N      base security counter
(--version and --counter override what --from read.)

A variant is derived from the base: newer raises version and counter by one,
older lowers them, tampered-payload changes a byte of the base after signing.
Once a unit has confirmed a newer image, its rollback floor is that image's
counter, and a variant of the factory image is refused for being too old
before any other check can show. Build on the confirmed image instead:
  bench sim image make newer --out newer.img
  (install newer.img, confirm it: floor 3)
  bench sim image make tampered-payload --from newer.img --out tampered.img

Variants:
` + variantList(),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := image.ParseVariant(args[0])
			if err != nil {
				return usageError(err)
			}
			base, err := imageBase(from, version, counter, cmd.Flags().Changed("version"), cmd.Flags().Changed("counter"))
			if err != nil {
				return err
			}
			data, err := image.Make(v, base, image.VendorTestKey())
			if err != nil {
				if errors.Is(err, image.ErrSpec) {
					return usageError(err)
				}
				return err
			}
			if b64 {
				data = []byte(wrap76(base64.StdEncoding.EncodeToString(data)))
			}
			if output == "" || output == "-" {
				if !b64 {
					return usageError(errors.New("refusing to write a binary image to the terminal: give --out FILE, or --base64"))
				}
				_, err := cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.WriteFile(output, data, 0o644); err != nil {
				return fmt.Errorf("sim image make: %w", err)
			}
			sum := sha256.Sum256(data)
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%s, %d bytes, sha256:%s)\n",
				output, describeMade(v, base, data), len(data), hex.EncodeToString(sum[:]))
			return nil
		},
	}
	mk.Flags().StringVar(&output, "out", "", "file to write (- for standard output with --base64)")
	mk.Flags().BoolVar(&b64, "base64", false, "write base64 in 76-column lines, as the console's update command takes it")
	mk.Flags().StringVar(&from, "from", "", "IMAGE to take the base's model, version and security counter from")
	mk.Flags().StringVar(&version, "version", "", "base version (default: the factory image's, or --from's)")
	mk.Flags().Uint32Var(&counter, "counter", 0, "base security counter (default: the factory image's, or --from's)")

	inspect := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Parse an image and run the checks a good SimCam SC-100 runs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return usageError(err)
			}
			w := cmd.OutOrStdout()
			im, err := image.Parse(data)
			if err != nil {
				fmt.Fprintf(w, "parse: %v\n", err)
				return &exitError{code: exitFail, err: errors.New("the image fails a check a good unit runs")}
			}
			fmt.Fprintf(w, "%s\nmodel %s, version %s, security counter %d, %s, %d-byte payload\n",
				args[0], im.Model(), im.Version(), im.Counter(), im.Algorithm(), len(im.Payload()))
			bad := false
			for _, c := range []struct {
				name string
				err  error
			}{
				{"model", im.CheckModel(sim.ModelID)},
				{"digest", im.VerifyDigest()},
				{"signature", im.VerifySignature(image.VendorTestKey().Public())},
				{"rollback (factory floor)", im.CheckRollback(sim.FactorySpec().Counter)},
				{"firmware", func() error { _, err := im.Firmware(); return err }()},
			} {
				if c.err != nil {
					bad = true
					fmt.Fprintf(w, "  %-25s FAIL %v\n", c.name, c.err)
				} else {
					fmt.Fprintf(w, "  %-25s ok\n", c.name)
				}
			}
			if bad {
				return &exitError{code: exitFail, err: errors.New("the image fails a check a good unit runs")}
			}
			return nil
		},
	}
	img.AddCommand(mk, inspect)
	return img
}

// describeMade says what the image made says it is (model, version and
// counter read back from its header, so a newer image names the new
// version, not its base's), and what it was derived from.
func describeMade(v image.Variant, base image.Spec, data []byte) string {
	from := fmt.Sprintf("made from %s %s counter %d", base.Model, base.Version, base.Counter)
	raw := data
	if b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(data), "\n", "")); err == nil {
		raw = b
	}
	im, err := image.Parse(raw)
	if err != nil {
		return fmt.Sprintf("%s image %s, which does not parse: %v", v, from, err)
	}
	return fmt.Sprintf("%s image, its header says %s %s counter %d; %s", v, im.Model(), im.Version(), im.Counter(), from)
}

// imageBase is the spec `sim image make` derives its variant from: the
// factory image, or the model, version and counter of the image from, with
// version and counter overriding them when given.
func imageBase(from, version string, counter uint32, setVersion, setCounter bool) (image.Spec, error) {
	base := sim.FactorySpec()
	factory := base.Version
	if from != "" {
		raw, err := os.ReadFile(from)
		if err != nil {
			return base, usageError(fmt.Errorf("--from: %w", err))
		}
		im, err := image.Parse(raw)
		if err != nil {
			return base, usageError(fmt.Errorf("--from %s: not an image this lab can build on: %w", from, err))
		}
		base.Model, base.Version, base.Counter = im.Model(), im.Version().String(), im.Counter()
	}
	if setVersion {
		if _, err := image.ParseVersion(version); err != nil {
			return base, usageError(fmt.Errorf("--version %q: %w", version, err))
		}
		base.Version = version
	}
	if setCounter {
		base.Counter = counter
	}
	// The banner a unit prints names the version it runs.
	base.Firmware.Banner = strings.ReplaceAll(base.Firmware.Banner, factory, base.Version)
	return base, nil
}

func variantList() string {
	var b strings.Builder
	for _, v := range image.Variants() {
		fmt.Fprintf(&b, "  %-20s %s\n", v, v.Description())
	}
	return b.String()
}

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	b.WriteString(s + "\n")
	return b.String()
}
