package power_test

import (
	"testing"

	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/drivers/power/powertest"
	"periph.io/x/conn/v3/gpio"
)

func TestDriverNamesThePackageServingALine(t *testing.T) {
	powertest.Register(t, "CBTEST_DRIVER_RELAY", gpio.High)
	r, err := power.NewRelay(power.RelayConfig{Line: "CBTEST_DRIVER_RELAY"})
	if err != nil {
		t.Fatal(err)
	}
	// The test's fake lines are powertest's: the record must say so.
	if got := r.Driver(); got != "github.com/certbench/certbench/drivers/power/powertest" {
		t.Fatalf("driver %q", got)
	}
}
