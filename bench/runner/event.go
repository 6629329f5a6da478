package runner

import (
	"time"

	"github.com/certbench/certbench/results"
)

// Event is one step of a run's progress. Its JSON form is one line of
// `bench run -o json`'s output (README, "bench run").
type Event struct {
	Time    time.Time       `json:"time"`
	Fixture string          `json:"fixture"`
	Kind    string          `json:"event"`
	Run     string          `json:"run_id,omitempty"`
	Case    string          `json:"case,omitempty"`
	Verdict results.Verdict `json:"verdict,omitempty"`
	Reason  string          `json:"reason,omitempty"`
}

// Event kinds.
const (
	EventRunStart  = "run-start"  // a run was begun: Run names it
	EventCaseStart = "case-start" // Case starts
	EventCaseEnd   = "case-end"   // Case ended with Verdict and Reason
	EventRunEnd    = "run-end"    // the record is sealed (or could not be: an error event came first)
	EventError     = "error"      // the fixture could not be run: Reason says why
)
