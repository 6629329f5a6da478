package runner

import (
	"context"
	"fmt"

	"github.com/certbench/certbench/fixtures/procedure"
	"github.com/certbench/certbench/results"
)

// IdentifyProcedure is the profile procedure the runner calls while the
// device boots, before any case: it captures what the unit says it is
// (model, serial, version), which goes into the record's device block and
// is compared with the fixture's label.
const IdentifyProcedure = "identify"

// identify boots the device through the profile's identify procedure and
// fills rec.Device from what it captured. An error means the fixture's run
// must stop: the unit did not say who it is, or it is not the unit the
// label describes (a set-up fault, never the device's FAIL). A profile
// without the procedure leaves the device block as the bench file and the
// profile declare it.
func (r *fixtureRun) identify(ctx context.Context, strat *Strategy, procs *procedure.Runner, serial string, rec *results.Record) error {
	if _, err := r.f.Profile.Procedure(IdentifyProcedure); err != nil {
		if r.con != nil {
			r.con.Note("the profile has no identify procedure: the record's device block is the label's, not read from the unit")
		}
		return nil
	}
	var got procedure.Result
	err := strat.PowerOnWith(ctx, func(ctx context.Context) error {
		var err error
		got, err = procs.Run(ctx, IdentifyProcedure, nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("identify the unit on fixture %q: %w", r.f.Name, err)
	}
	v := got.Vars
	if v["model"] != "" {
		rec.Device.Model = v["model"]
	}
	if v["version"] != "" {
		rec.Device.Firmware.Version = v["version"]
	}
	switch {
	case v["serial"] == "":
	case serial != "" && v["serial"] != serial:
		return fmt.Errorf("fixture %q: the unit says serial %s, the label says %s: the wrong unit is on the fixture, or its label is wrong", r.f.Name, v["serial"], serial)
	default:
		rec.Device.Serial = v["serial"]
	}
	return nil
}
