// Command bench drives a hardware-in-the-loop security certification bench for
// consumer IoT devices: it switches fixtures' power, talks to their consoles,
// runs certification suites and archives signed records.
//
// Every subcommand lives in its own file and registers itself on root in an
// init function, so a reader finds "bench X" in cmd_X.go.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, as documented in README.md.
const (
	exitOK         = 0 // every case PASS or NOT_APPLICABLE
	exitFail       = 1 // at least one FAIL: the device's fault
	exitUsage      = 2 // bad usage or config: the user's fault
	exitIncomplete = 3 // ERROR, NOT_RUN or INCONCLUSIVE: the bench could not decide
)

var root = &cobra.Command{
	Use:   "bench",
	Short: "Certify consumer IoT devices on a hardware-in-the-loop bench",
	Long: `bench switches each fixture's power through GPIO relays, drives its UART
console, reaches it over the network, runs certification suites (EN 303 645,
TS 103 701, UK PSTI, EN 18031) and archives signed, verifiable records.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as the user's to fix (exit 2).
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

func main() {
	os.Exit(execute(os.Args[1:]))
}

func execute(args []string) int {
	// The command tree lives as long as the process; a flag given to one
	// execution (check -o json, --power-on) must not be the next one's
	// default, as it would be in-process (tests, an agent running commands).
	defer resetFlags(root)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	name := cmd.CommandPath()
	var ee *exitError
	if errors.As(err, &ee) {
		// err, not ee.err: a failure joined on the way out (a relay that
		// would not go safe) must be shown too.
		if ee.err != nil && ee.code != exitOK {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		}
		return ee.code
	}
	// cobra's own errors (unknown flag, wrong argument count) are usage errors.
	fmt.Fprintf(os.Stderr, "%s: %v\nRun '%s --help' for usage.\n", name, err, name)
	return exitUsage
}

// resetFlags returns every flag of c and its subcommands to its default.
func resetFlags(c *cobra.Command) {
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Changed {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			def := []string{}
			if d := strings.Trim(f.DefValue, "[]"); d != "" {
				def = strings.Split(d, ",")
			}
			sv.Replace(def)
		} else {
			f.Value.Set(f.DefValue)
		}
		f.Changed = false
	})
	for _, sub := range c.Commands() {
		resetFlags(sub)
	}
}
