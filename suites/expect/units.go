package expect

import (
	"fmt"
	"slices"

	"github.com/certbench/certbench/fixtures/sim"
)

// passwordFlaws choose how a unit's password is made: the lab refuses a
// unit with two of them, so Units never puts two on one unit.
var passwordFlaws = []sim.Flaw{sim.DefaultPassword, sim.MACPassword, sim.SerialPassword}

// MinUnits is the fewest units Units can plan: the good unit and one for
// each password flaw.
var MinUnits = 1 + len(passwordFlaws)

// DefaultUnits is one good unit and one unit per flaw: each flaw alone on
// its unit, so no flaw can hide another.
func DefaultUnits() int { return 1 + len(sim.Flaws()) }

// Units plans n units named cam-1 ... cam-n: cam-1 good, every flaw of
// the lab on one of the others, spread evenly (one each when n is
// DefaultUnits). n below MinUnits is an error naming the least.
func Units(n int) ([]sim.UnitConfig, error) {
	if n < MinUnits {
		return nil, fmt.Errorf("%d units: the lab needs at least %d (a good one, and one for each of the password flaws %s, %s, %s, which no unit can have two of)",
			n, MinUnits, passwordFlaws[0], passwordFlaws[1], passwordFlaws[2])
	}
	us := make([]sim.UnitConfig, n)
	for i := range us {
		us[i].Name = fmt.Sprintf("cam-%d", i+1)
	}
	for _, f := range sim.Flaws() {
		best := -1
		for i := 1; i < n; i++ {
			if slices.Contains(passwordFlaws, f) && slices.ContainsFunc(us[i].Flaws, func(g sim.Flaw) bool { return slices.Contains(passwordFlaws, g) }) {
				continue
			}
			if best < 0 || len(us[i].Flaws) < len(us[best].Flaws) {
				best = i
			}
		}
		us[best].Flaws = append(us[best].Flaws, f)
	}
	return us, nil
}
