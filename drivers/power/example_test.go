package power_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/drivers/power/powertest"
	"periph.io/x/conn/v3/gpio"
)

// A runner's wiring: one Log per fixture sharing the run's epoch, a Safety
// that every switch registers with, and a deferred SafeAllInto so that the
// relay ends at its safe level on every way out.
func Example() {
	// In the simulated lab (and here) a fake line stands where a Raspberry
	// Pi's GPIO17 would be.
	pin := powertest.NewPin("GPIO17", gpio.High)
	if err := pin.Register(); err != nil {
		panic(err)
	}
	defer pin.Unregister()

	err := func() (err error) {
		var safety power.Safety
		ctx, stop := safety.NotifyContext(context.Background())
		defer func() { err = errors.Join(err, stop()) }()
		defer safety.SafeAllInto(&err)

		log := power.NewLog(io.Discard, time.Now()) // a run writes power-cam-1.jsonl
		relay, err := power.NewRelay(power.RelayConfig{Line: "GPIO17", ActiveLow: true, MinOff: 10 * time.Millisecond, Log: log})
		if err != nil {
			return err
		}
		safety.Register(`fixture "cam-1" power`, relay)
		if err := relay.Cycle(ctx); err != nil {
			return err
		}
		fmt.Println("after Cycle:", pin.Read())
		return nil
	}()
	fmt.Println("after the run:", pin.Read(), err)
	// Output:
	// after Cycle: Low
	// after the run: High <nil>
}
