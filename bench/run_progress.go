package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/certbench/certbench/bench/runner"
	"github.com/certbench/certbench/results"
)

// runProgress shows `bench run` as it goes. On a terminal it keeps a line
// per fixture (the case running, how long it has run, the verdicts so far)
// and redraws them at every event; anywhere else it writes a line per event,
// never redrawn, so a CI log keeps everything.
type runProgress struct {
	w        io.Writer
	live     bool
	width    int
	fixtures []*runLine
	drawn    int
}

type runLine struct {
	name     string
	now      string
	since    time.Time
	verdicts map[results.Verdict]int
	done     bool
}

func newRunProgress(w io.Writer, fixtures []string) *runProgress {
	p := &runProgress{w: w, width: 160}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.live = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			p.width = cols - 1
		}
	}
	for _, n := range fixtures {
		p.fixtures = append(p.fixtures, &runLine{name: n, now: "waiting", verdicts: map[results.Verdict]int{}})
	}
	return p
}

func (p *runProgress) line(name string) *runLine {
	for _, l := range p.fixtures {
		if l.name == name {
			return l
		}
	}
	l := &runLine{name: name, verdicts: map[results.Verdict]int{}}
	p.fixtures = append(p.fixtures, l)
	return l
}

// event takes one runner event (the runner calls it one at a time).
func (p *runProgress) event(e runner.Event) {
	if !p.live {
		printEvent(p.w, e)
		return
	}
	l := p.line(e.Fixture)
	switch e.Kind {
	case runner.EventRunStart:
		l.now, l.since = "started", e.Time
	case runner.EventCaseStart:
		l.now, l.since = e.Case, e.Time
	case runner.EventCaseEnd:
		l.verdicts[e.Verdict]++
		l.now = e.Case + " " + string(e.Verdict)
	case runner.EventRunEnd:
		l.now, l.done = "sealed: "+string(e.Verdict), true
	case runner.EventError:
		l.now, l.done = "not run: "+e.Reason, true
	}
	p.draw(e.Time)
}

func (p *runProgress) draw(now time.Time) {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, l := range p.fixtures {
		var counts []string
		for _, v := range results.Verdicts {
			if n := l.verdicts[v]; n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, v))
			}
		}
		elapsed := ""
		if !l.done && !l.since.IsZero() {
			elapsed = fmt.Sprintf(" (%s)", now.Sub(l.since).Round(100*time.Millisecond))
		}
		text := fmt.Sprintf("%-10s %s%s  %s", l.name, l.now, elapsed, strings.Join(counts, ", "))
		fmt.Fprintf(&b, "\r\x1b[2K%s\n", truncateRunes(text, p.width))
	}
	p.drawn = len(p.fixtures)
	io.WriteString(p.w, b.String())
}
