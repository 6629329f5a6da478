package main

// Loading the bench file for the commands. The drivers are made from it in
// bench/runner (wire.go), the one place that knows both the config model and
// the drivers.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/certbench/certbench/bench/runner"
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

// The fixture's drivers are made by the runner's wiring (bench/runner,
// wire.go), which `bench run` uses too: one mapping from YAML to hardware.
var (
	newSwitch      = runner.Switch
	consolePort    = runner.ConsolePort
	consolePrompts = runner.Prompts
)

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
