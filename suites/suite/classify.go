package suite

import (
	"context"
	"errors"
	"fmt"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/results"
)

// Party is whose fault an ERROR is.
type Party string

// Parties an ERROR names, first word of its reason.
const (
	PartyBench  Party = "bench"         // the lab's equipment: console, power, button, transcript
	PartyConfig Party = "configuration" // bench file, profile or declarations
	PartySuite  Party = "suite"         // the case's own code
)

// Fault is an error whose party is known. Wrap with Bench or Config where
// the party is not clear from the error itself.
type Fault struct {
	Party Party
	Err   error
}

func (f *Fault) Error() string { return fmt.Sprintf("%s fault: %v", f.Party, f.Err) }
func (f *Fault) Unwrap() error { return f.Err }

// Bench marks err as the bench's fault (ERROR).
func Bench(err error) error { return &Fault{Party: PartyBench, Err: err} }

// Config marks err as the configuration's fault (ERROR).
func Config(err error) error { return &Fault{Party: PartyConfig, Err: err} }

// Outcome is how a body ended, as Execute saw it.
type Outcome struct {
	Checks    int        // checks made (Expect, Checked)
	Stated    *Statement // a verdict the body stated, nil if none
	Err       error      // what the body returned
	Panic     any        // a panic that was not a statement
	Cancelled bool       // the run's context was done when the body ended
}

// Statement is a verdict a body stated by stopping (Session.Fail,
// NotApplicable, Inconclusive, a failed assertion), with its reason.
type Statement struct {
	Verdict results.Verdict
	Reason  string
}

// Classify turns an outcome into a verdict and its reason. It is the one
// place that decides; see the package doc for the rules. In short: a
// statement stands (FAIL, NOT_APPLICABLE, INCONCLUSIVE); otherwise a
// cancelled run is NOT_RUN; a panic, an error or a body that checked nothing
// is ERROR naming the party; only a nil return after a check is PASS.
func Classify(o Outcome) (results.Verdict, string) {
	if o.Stated != nil {
		v, reason := o.Stated.Verdict, o.Stated.Reason
		if reason == "" && v != results.Fail {
			// A verdict without its reason cannot be reviewed: the suite's bug.
			return results.Error, fmt.Sprintf("%s fault: %s stated without a reason", PartySuite, v)
		}
		if reason == "" {
			reason = "the case failed without saying why"
		}
		return v, reason
	}
	if o.Panic != nil {
		return results.Error, fmt.Sprintf("%s fault: panic: %v", PartySuite, o.Panic)
	}
	if o.Cancelled && (o.Err == nil || errors.Is(o.Err, context.Canceled) || errors.Is(o.Err, context.DeadlineExceeded)) {
		return results.NotRun, "cancelled before the case finished"
	}
	if o.Err != nil {
		return results.Error, fmt.Sprintf("%s fault: %v", partyOf(o.Err), o.Err)
	}
	if o.Checks == 0 {
		return results.Error, fmt.Sprintf("%s fault: the case returned without checking anything", PartySuite)
	}
	return results.Pass, ""
}

// partyOf says whose fault an unstated error is. Device behaviour the body
// returned instead of judging (a timeout, a refused login) is the suite's
// fault: only a case may call a device's behaviour a FAIL.
func partyOf(err error) Party {
	var f *Fault
	if errors.As(err, &f) {
		return f.Party
	}
	var pe *power.Error
	switch {
	case errors.As(err, &pe), errors.Is(err, console.ErrLost), errors.Is(err, console.ErrClosed),
		errors.Is(err, console.ErrTranscript):
		return PartyBench
	}
	return PartySuite
}
