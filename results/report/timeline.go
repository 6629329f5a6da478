package report

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/certbench/certbench/results"
)

// The timeline is an inline SVG of one run on its monotonic axis: a lane per
// power switch (on, button held, failures), a lane per console transcript
// (bytes received and sent, binned; port lost and reopened), and a lane of
// cases coloured by verdict. A case's timeline highlights the case's window
// and marks its verdict. Everything drawn is computed here; nothing from a
// device reaches the SVG except through esc.

// Geometry of the picture, in SVG user units (the picture scales to the
// page's width).
const (
	tlWidth = 960
	tlLabel = 130 // left column for lane names, at least (timeline.label)
	// tlLabelMax bounds the label column; lane names are shortened to fit
	// it (a relay is named `fixture "NAME"`, so long fixture names are real).
	tlLabelMax = 330
	// tlCharW is a generous width of one character of the 11px labels, so
	// the column estimated from a name's length holds it in any sans font.
	tlCharW  = 7
	tlRight  = 12
	tlAxis   = 34 // axis labels, then the highlighted verdict's label
	tlLane   = 22 // one power or cases lane
	tlCons   = 34 // one console lane
	tlGap    = 6
	tlBins   = 200 // console activity bins across the plot
	tlLegend = 20
)

// Colours, shared with the page's CSS (verdictColour).
var verdictColour = map[results.Verdict]string{
	results.Pass:          "#1e7e34",
	results.Fail:          "#c62828",
	results.Error:         "#d35400",
	results.Inconclusive:  "#8a6d00",
	results.NotRun:        "#6b6b6b",
	results.NotApplicable: "#4f6d7a",
	"":                    "#37474f", // a verdict not stated (Run.CaseVerdict)
}

const (
	colPowerOn = "#2e7d32"
	colButton  = "#6a1b9a"
	colRx      = "#1565c0"
	colTx      = "#ef6c00"
	colLost    = "#c62828"
	colReopen  = "#2e7d32"
	colGrid    = "#d0d4d9"
	colText    = "#333"
)

type timeline struct {
	run        *Run
	start, end int64
	// lanes are drawn in this order
	power []powerLane
	cons  []consoleLane
	cases []*results.Case
	// label is the width of the lane-name column: wide enough for the
	// longest lane name (see laneName), so no name runs into the plot.
	label int
}

// consoleLane is one transcript's activity, binned once for every picture
// of the run.
type consoleLane struct {
	ev     *Evidence
	rx, tx [tlBins]int
}

type powerLane struct {
	name   string
	events []results.PowerEvent
}

// newTimeline gathers what the run's picture shows; nil when nothing in the
// run has a time.
func newTimeline(run *Run) *timeline {
	tl := &timeline{run: run, start: math.MaxInt64, end: math.MinInt64}
	see := func(ns int64) {
		tl.start, tl.end = min(tl.start, ns), max(tl.end, ns)
	}
	bySwitch := map[string]int{}
	for _, ev := range run.Evidence() {
		switch ev.Kind {
		case results.KindPower:
			for _, e := range ev.Power {
				see(e.MonoNs)
				k, ok := bySwitch[e.Switch]
				if !ok {
					k = len(tl.power)
					bySwitch[e.Switch] = k
					tl.power = append(tl.power, powerLane{name: e.Switch})
				}
				tl.power[k].events = append(tl.power[k].events, e)
			}
		case results.KindTranscript:
			for _, l := range ev.Transcript {
				see(l.MonoNs)
			}
		}
	}
	for i := range tl.power {
		sort.SliceStable(tl.power[i].events, func(a, b int) bool { return tl.power[i].events[a].MonoNs < tl.power[i].events[b].MonoNs })
	}
	if run.Record != nil {
		for i := range run.Record.Cases {
			c := &run.Record.Cases[i]
			if vt, ok := verdictTime(c); ok {
				see(c.Timing.StartMonoNs)
				see(vt)
				tl.cases = append(tl.cases, c)
			}
		}
	}
	if tl.start == math.MaxInt64 {
		return nil
	}
	tl.start = min(tl.start, 0) // the run's epoch is the natural origin
	if tl.end <= tl.start {
		tl.end = tl.start + 1e9
	}
	for _, ev := range run.Evidence() {
		if ev.Kind != results.KindTranscript || len(ev.Transcript) == 0 {
			continue
		}
		cl := consoleLane{ev: ev}
		for _, l := range ev.Transcript {
			n := len(l.Text) + len(l.B64)
			switch l.Dir {
			case "rx":
				cl.rx[tl.bin(l.MonoNs)] += n
			case "tx":
				cl.tx[tl.bin(l.MonoNs)] += n
			}
		}
		tl.cons = append(tl.cons, cl)
	}
	tl.label = tlLabel
	names := []string{"Checks"}
	for _, p := range tl.power {
		names = append(names, "Power "+p.name)
	}
	for _, cl := range tl.cons {
		names = append(names, consoleName(cl.ev))
	}
	for _, n := range names {
		tl.label = max(tl.label, min(tlLabelMax, 12+tlCharW*utf8.RuneCountInString(laneName(n))))
	}
	return tl
}

// laneName is a lane's name as drawn: made visible, and shortened only when
// it would not fit the widest label column.
func laneName(name string) string {
	return truncate(clean(name, false), (tlLabelMax-12)/tlCharW)
}

func consoleName(ev *Evidence) string {
	return strings.TrimSuffix(strings.TrimPrefix(ev.Path, results.EvidenceDir+"/"), ".jsonl")
}

func (tl *timeline) bin(ns int64) int {
	i := int(float64(ns-tl.start) / float64(tl.end-tl.start) * tlBins)
	return min(max(i, 0), tlBins-1)
}

func (tl *timeline) x(ns int64) float64 {
	plot := float64(tlWidth - tl.label - tlRight)
	return float64(tl.label) + float64(ns-tl.start)/float64(tl.end-tl.start)*plot
}

// svg draws the picture, highlighting case hl when it is not nil.
func (tl *timeline) svg(hl *results.Case) string {
	height := tlAxis + len(tl.power)*(tlLane+tlGap) + len(tl.cons)*(tlCons+tlGap) + tlLane + tlGap + tlLegend
	var b strings.Builder
	label := "Timeline of the run: power, console activity and verdicts"
	if hl != nil {
		label = "Timeline of the run with this check highlighted"
	}
	fmt.Fprintf(&b, `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`, tlWidth, height, esc(label))
	b.WriteString(`<style>text{font:11px system-ui,sans-serif;fill:` + colText + `}</style>`)

	// Highlight band first, so the lanes draw over it.
	if hl != nil {
		if vt, ok := verdictTime(hl); ok {
			x0, x1 := tl.x(hl.Timing.StartMonoNs), tl.x(vt)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#fff3b0" stroke="#e0c200"/>`,
				x0, tlAxis-4, math.Max(x1-x0, 3), height-tlAxis-tlLegend+4)
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`,
				x1, x1, tlAxis-4, height-tlLegend, verdictColour[tl.run.CaseVerdict(hl)])
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" font-weight="bold" style="fill:%s">%s</text>`,
				x1, tlAxis-8, tl.anchor(x1), verdictColour[tl.run.CaseVerdict(hl)], esc(verdictWord(tl.run.CaseVerdict(hl))+" at "+offset(vt)))
		}
	}
	tl.axis(&b, height)

	y := tlAxis
	for _, p := range tl.power {
		tl.powerLane(&b, p, y)
		y += tlLane + tlGap
	}
	for i := range tl.cons {
		tl.consoleLane(&b, &tl.cons[i], y)
		y += tlCons + tlGap
	}
	tl.caseLane(&b, y, hl)
	y += tlLane + tlGap
	tl.legend(&b, y+12)
	b.WriteString(`</svg>`)
	return b.String()
}

func (tl *timeline) anchor(x float64) string {
	switch {
	case x > tlWidth-120:
		return "end"
	case x < float64(tl.label)+60:
		return "start"
	}
	return "middle"
}

// axis draws ticks at a round step giving about eight labels.
func (tl *timeline) axis(b *strings.Builder, height int) {
	span := float64(tl.end - tl.start)
	step := niceStep(span / 8)
	first := math.Ceil(float64(tl.start)/step) * step
	for t := first; t <= float64(tl.end)+1; t += step {
		x := tl.x(int64(t))
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-width="0.5"/>`, x, x, tlAxis-2, height-tlLegend, colGrid)
		if x < tlWidth-20 {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" style="fill:#777">%s</text>`, x, 12, esc(durLabel(t, step)))
		}
	}
}

// niceStep rounds d up to 1, 2 or 5 times a power of ten (in ns).
func niceStep(d float64) float64 {
	if d <= 0 {
		return 1e9
	}
	p := math.Pow(10, math.Floor(math.Log10(d)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= d {
			return m * p
		}
	}
	return 10 * p
}

func durLabel(ns, step float64) string {
	switch {
	case step >= 60e9 && math.Mod(ns, 60e9) == 0:
		return fmt.Sprintf("%g min", ns/60e9)
	case step >= 100e6:
		return fmt.Sprintf("%g s", math.Round(ns/1e8)/10)
	case step >= 1e6:
		return fmt.Sprintf("%g ms", math.Round(ns/1e6))
	}
	return fmt.Sprintf("%g µs", math.Round(ns/1e3))
}

func (tl *timeline) laneLabel(b *strings.Builder, y, h int, name string) {
	fmt.Fprintf(b, `<text x="4" y="%d">%s</text>`, y+h/2+4, esc(laneName(name)))
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s"/>`, tl.label, tlWidth-tlRight, y+h, y+h, colGrid)
}

func (tl *timeline) powerLane(b *strings.Builder, p powerLane, y int) {
	tl.laneLabel(b, y, tlLane, "Power "+p.name)
	onAt, pressAt := int64(-1), int64(-1)
	bar := func(from, to int64, colour, title string, top, h int) {
		x0, x1 := tl.x(from), tl.x(to)
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`,
			x0, y+top, math.Max(x1-x0, 1.5), h, colour, esc(title))
	}
	for _, e := range p.events {
		switch e.Action {
		case "on":
			if onAt < 0 {
				onAt = e.MonoNs
			}
		case "off", "safe":
			if onAt >= 0 {
				bar(onAt, e.MonoNs, colPowerOn, fmt.Sprintf("%s on %s to %s", p.name, offset(onAt), offset(e.MonoNs)), 4, tlLane-8)
				onAt = -1
			}
		case "press":
			pressAt = e.MonoNs
		case "release":
			if pressAt >= 0 {
				bar(pressAt, e.MonoNs, colButton, fmt.Sprintf("%s held %s to %s", p.name, offset(pressAt), offset(e.MonoNs)), 2, tlLane-4)
				pressAt = -1
			}
		}
		x := tl.x(e.MonoNs)
		title := offset(e.MonoNs) + " " + powerLines([]results.PowerEvent{e})[0].Text
		if e.Error != "" {
			fmt.Fprintf(b, `<path d="M%.1f %d l5 9 h-10 z" fill="%s"><title>%s</title></path>`, x, y+tlLane-12, colLost, esc(title))
		} else if e.Action == "cycle" || e.Action == "wait" {
			fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#555" stroke-dasharray="2 2"><title>%s</title></line>`, x, x, y+2, y+tlLane-2, esc(title))
		}
	}
	if onAt >= 0 {
		bar(onAt, tl.end, colPowerOn, fmt.Sprintf("%s on from %s", p.name, offset(onAt)), 4, tlLane-8)
	}
	if pressAt >= 0 {
		bar(pressAt, tl.end, colButton, fmt.Sprintf("%s held from %s", p.name, offset(pressAt)), 2, tlLane-4)
	}
}

func (tl *timeline) consoleLane(b *strings.Builder, cl *consoleLane, y int) {
	ev, rx, tx := cl.ev, &cl.rx, &cl.tx
	tl.laneLabel(b, y, tlCons, consoleName(ev))
	most := 1
	for i := range rx {
		most = max(most, rx[i], tx[i])
	}
	scale := func(n int) float64 { return math.Log1p(float64(n)) / math.Log1p(float64(most)) }
	w := float64(tlWidth-tl.label-tlRight) / tlBins
	half := float64(tlCons-4) / 2
	mid := float64(y) + 2 + half
	for i := range rx {
		x := float64(tl.label) + float64(i)*w
		if rx[i] > 0 {
			h := math.Max(scale(rx[i])*half, 1.5)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, mid-h, math.Max(w-0.5, 1), h, colRx)
		}
		if tx[i] > 0 {
			h := math.Max(scale(tx[i])*half, 1.5)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, x, mid, math.Max(w-0.5, 1), h, colTx)
		}
	}
	for _, l := range ev.Transcript {
		if l.Dir != "event" {
			continue
		}
		colour := ""
		switch l.Event {
		case "lost":
			colour = colLost
		case "reopen":
			colour = colReopen
		default:
			continue
		}
		x := tl.x(l.MonoNs)
		title := offset(l.MonoNs) + " console " + l.Event
		if l.Detail != "" {
			title += ": " + clean(l.Detail, false)
		}
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s" stroke-width="2"><title>%s</title></line>`, x, x, y, y+tlCons, colour, esc(title))
		fmt.Fprintf(b, `<path d="M%.1f %d l4 -6 h-8 z" fill="%s"/>`, x, y+6, colour)
	}
}

func (tl *timeline) caseLane(b *strings.Builder, y int, hl *results.Case) {
	tl.laneLabel(b, y, tlLane, "Checks")
	for _, c := range tl.cases {
		vt, _ := verdictTime(c)
		x0, x1 := tl.x(c.Timing.StartMonoNs), tl.x(vt)
		stroke := ""
		if c == hl {
			stroke = ` stroke="#000" stroke-width="2"`
		}
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"%s><title>%s</title></rect>`,
			x0, y+3, math.Max(x1-x0-1, 2), tlLane-6, verdictColour[tl.run.CaseVerdict(c)], stroke,
			esc(fmt.Sprintf("%s: %s (%s to %s)", verdictWord(tl.run.CaseVerdict(c)), clean(c.Title, false), offset(c.Timing.StartMonoNs), offset(vt))))
	}
}

func (tl *timeline) legend(b *strings.Builder, y int) {
	x := float64(tl.label)
	item := func(colour, text string) {
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="10" height="10" fill="%s"/><text x="%.1f" y="%d">%s</text>`, x, y-9, colour, x+14, y, esc(text))
		x += 14 + float64(len(text))*6 + 16
	}
	if len(tl.power) > 0 {
		item(colPowerOn, "power on")
		item(colButton, "button held")
	}
	if len(tl.cons) > 0 {
		item(colRx, "from device")
		item(colTx, "to device")
		item(colLost, "console lost / failure")
	}
	item(verdictColour[results.Pass], "pass")
	item(verdictColour[results.Fail], "fail")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// esc escapes text for SVG inside HTML.
func esc(s string) string { return html.EscapeString(s) }
