package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/fixtures/sim"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites/expect"
)

// demoProgress shows a demo's run as it goes. On a terminal it keeps one
// line per unit and redraws them in place at every event; anywhere else
// (a pipe, a CI log) it writes a line per finished case and run, never
// redrawn, so nothing is lost: a line per run begun, case ended and run
// sealed.
type demoProgress struct {
	w     io.Writer
	live  bool
	width int // a line longer than the terminal would wrap and spoil the redraw
	start time.Time
	units []demoUnitState
	drawn bool
}

type demoUnitState struct {
	name   string
	flaws  []sim.Flaw
	total  int // cases to run
	done   int
	now    string // the case running, or the end state
	wrong  int    // cases whose verdict is not what the flaws call for
	sealed bool
}

// isTerminal reports whether w is a terminal (a redrawn view reads there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newDemoProgress(w io.Writer, live bool, units []sim.UnitConfig, cases int) *demoProgress {
	p := &demoProgress{w: w, live: live, start: time.Now(), width: 160}
	if f, ok := w.(*os.File); ok && live {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			p.width = cols - 1
		}
	}
	for _, u := range units {
		p.units = append(p.units, demoUnitState{name: u.Name, flaws: u.Flaws, total: cases, now: "waiting"})
	}
	return p
}

func (p *demoProgress) unit(name string) *demoUnitState {
	for i := range p.units {
		if p.units[i].name == name {
			return &p.units[i]
		}
	}
	return nil
}

// event takes one runner event; the runner calls it one event at a time.
func (p *demoProgress) event(e runner.Event) {
	u := p.unit(e.Fixture)
	if u == nil {
		return
	}
	var line string
	switch e.Kind {
	case runner.EventRunStart:
		u.now = "started"
		line = fmt.Sprintf("%s: run %s begun", e.Fixture, e.Run)
	case runner.EventCaseStart:
		u.now = e.Case + " ..."
	case runner.EventCaseEnd:
		u.done++
		want := expect.Want(u.flaws, e.Case)
		mark := "as expected"
		if !expect.Meets(u.flaws, e.Case, e.Verdict) {
			u.wrong++
			mark = "WRONG: want " + wantWord(want)
		}
		u.now = fmt.Sprintf("%s %s (%s)", e.Case, e.Verdict, mark)
		line = fmt.Sprintf("%s: %s %s (%s)", e.Fixture, e.Case, e.Verdict, mark)
	case runner.EventRunEnd:
		u.sealed = true
		u.now = fmt.Sprintf("record sealed: %s, as expected", e.Verdict)
		if u.wrong > 0 {
			u.now = fmt.Sprintf("record sealed: %s, %d case(s) WRONG", e.Verdict, u.wrong)
		}
		line = fmt.Sprintf("%s: record sealed: %s", e.Fixture, e.Verdict)
	case runner.EventError:
		u.now = "not run: " + e.Reason
		line = fmt.Sprintf("%s: not run: %s", e.Fixture, e.Reason)
	}
	if !p.live {
		if line != "" {
			fmt.Fprintf(p.w, "%5.1fs %s\n", time.Since(p.start).Seconds(), line)
		}
		return
	}
	p.draw()
}

// draw redraws the view: up to its first line, then each unit's line
// cleared and written anew.
func (p *demoProgress) draw() {
	var b strings.Builder
	if p.drawn {
		fmt.Fprintf(&b, "\x1b[%dA", len(p.units))
	}
	p.drawn = true
	for _, u := range p.units {
		state := "  "
		switch {
		case u.wrong > 0:
			state = "✗ "
		case u.sealed:
			state = "✓ "
		}
		line := fmt.Sprintf("%s%-7s %-24s %d/%d  %s", state, u.name, flawWords(u.flaws), u.done, u.total, u.now)
		fmt.Fprintf(&b, "\r\x1b[2K%s\n", truncateRunes(line, p.width))
	}
	io.WriteString(p.w, b.String())
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func flawWords(fs []sim.Flaw) string {
	if len(fs) == 0 {
		return "none (a good unit)"
	}
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ",")
}

// wantWord is what a unit must get: FAIL, or PASS (NOT_APPLICABLE also
// meets it).
func wantWord(v results.Verdict) string {
	if v == results.Fail {
		return "FAIL"
	}
	return "PASS"
}
