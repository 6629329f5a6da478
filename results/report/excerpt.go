package report

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/certbench/certbench/results"
)

// Line is one line of an excerpt: a console line as a terminal would show it
// (chunks of one direction joined and split at newlines), a console event or
// a power event. Text is made visible: bytes that are not valid UTF-8 read
// \xNN, control characters and bidirectional overrides read \xNN or \u{NNNN},
// so nothing a device sends can hide text or rearrange what a reader sees.
// Text still needs escaping for the format it is written into.
type Line struct {
	MonoNs int64  `json:"mono_ns"`
	Kind   string `json:"kind"` // "rx", "tx", "event" (console), "power", or "mark" (the check began)
	Text   string `json:"text"`
}

// How much an excerpt shows.
const (
	// excerptLines is how many lines before the verdict an excerpt shows
	// when the case names no range.
	excerptLines = 20
	// rangeLines bounds a named range: its last lines are shown.
	rangeLines = 80
	// maxLineBytes cuts a very long line (a binary dump on the console).
	maxLineBytes = 400
)

// Excerpt is the part of a transcript that decided a case.
type Excerpt struct {
	Path string // the transcript
	// What says how the window was chosen, for the reader.
	What  string
	Lines []Line
	// Omitted counts lines of the window not shown (it had more than fit).
	Omitted int
	// Notices are the transcript's own (malformed lines, not readable).
	Notices []string
}

// consoleLines turns a transcript into display lines.
func consoleLines(tr []results.TranscriptLine) []Line {
	var out []Line
	var buf []byte
	var dir string
	var start int64
	flush := func() {
		if len(buf) > 0 {
			out = append(out, Line{MonoNs: start, Kind: dir, Text: visible(buf)})
		}
		buf = buf[:0]
	}
	for _, l := range tr {
		if l.Dir == "event" {
			flush()
			text := "[" + l.Event + "]"
			if l.Detail != "" {
				text += " " + l.Detail
			}
			out = append(out, Line{MonoNs: l.MonoNs, Kind: "event", Text: visible([]byte(text))})
			continue
		}
		if l.Dir != dir {
			flush()
			dir = l.Dir
		}
		b := l.B64
		if b == nil {
			b = []byte(l.Text)
		}
		for len(b) > 0 {
			if len(buf) == 0 {
				start = l.MonoNs
			}
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				buf = append(buf, b...)
				break
			}
			buf = append(buf, b[:i]...)
			b = b[i+1:]
			// An empty line is still a line: the device printed it.
			out = append(out, Line{MonoNs: start, Kind: dir, Text: visible(buf)})
			buf = buf[:0]
		}
	}
	flush()
	return out
}

func powerLines(evs []results.PowerEvent) []Line {
	out := make([]Line, 0, len(evs))
	for _, e := range evs {
		text := e.Switch + " " + e.Action
		if e.Level != "" {
			text += " (" + e.Level + ")"
		}
		if e.Detail != "" {
			text += " " + e.Detail
		}
		if e.Error != "" {
			text += " FAILED: " + e.Error
		}
		out = append(out, Line{MonoNs: e.MonoNs, Kind: "power", Text: visible([]byte(text))})
	}
	return out
}

// visible renders b as one line a reader can trust: valid printable UTF-8
// as it is, the line's final carriage returns dropped, anything else spelt
// out, and cut after maxLineBytes.
func visible(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return render(b, maxLineBytes, false)
}

// clean spells out what visible does in a string from a record (a reason, a
// model name), without a length limit; newlines stay when keepNewlines.
func clean(s string, keepNewlines bool) string {
	return render([]byte(s), -1, keepNewlines)
}

func render(b []byte, limit int, keepNewlines bool) string {
	var s strings.Builder
	n := 0
	for len(b) > 0 {
		if limit >= 0 && n >= limit {
			fmt.Fprintf(&s, " … (%d more bytes)", len(b))
			break
		}
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&s, `\x%02x`, b[0])
		case r == '\t', r == '\n' && keepNewlines:
			s.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&s, `\x%02x`, r)
		case hidden(r):
			fmt.Fprintf(&s, `\u{%04x}`, r)
		default:
			s.Write(b[:size])
		}
		b = b[size:]
		n += size
	}
	return s.String()
}

// hidden reports runes that would change how the text around them looks
// without being seen: C1 controls, bidirectional controls, zero-width
// characters and the byte-order mark.
func hidden(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f,
		r >= 0x200b && r <= 0x200f,
		r >= 0x202a && r <= 0x202e,
		r >= 0x2066 && r <= 0x2069,
		r == 0x061c, r == 0xfeff:
		return true
	}
	return false
}

// verdictTime is when the case's verdict was reached on the run's monotonic
// axis, and whether the record says.
func verdictTime(c *results.Case) (int64, bool) {
	t := c.Timing
	if t.StartMonoNs == 0 && t.DurationNs == 0 {
		return 0, false
	}
	return t.StartMonoNs + t.DurationNs, true
}

// Excerpts returns the transcript excerpts that decided case c of run: the
// ranges its evidence points to; for a transcript it names without a range,
// or, for a case that ran and names none, every transcript's last lines
// before the verdict's time. A case that names no transcript and has no time
// (or never ran) gets none: any lines would be a guess. Power events of the
// run in the same window are interleaved, since a power cut often explains
// what the console shows, and a "mark" line shows where the case began when
// the window reaches back before it.
func Excerpts(run *Run, c *results.Case) []Excerpt {
	type want struct {
		ev       *Evidence
		from, to int64
		ranged   bool
		note     string
	}
	var wants []want
	seen := map[string]bool{}
	for _, ref := range c.Evidence {
		ev := run.EvidenceFile(ref.Path)
		if ev == nil || ev.Kind != results.KindTranscript {
			continue
		}
		seen[ref.Path] = true
		w := want{ev: ev, from: math.MinInt64, to: math.MaxInt64, note: ref.Note}
		if ref.FromNs != 0 || ref.ToNs != 0 {
			w.ranged, w.from = true, ref.FromNs
			if ref.ToNs != 0 {
				w.to = ref.ToNs
			}
		}
		wants = append(wants, w)
	}
	vt, timed := verdictTime(c)
	ran := c.Verdict != results.NotRun && c.Verdict != results.NotApplicable
	if len(wants) == 0 && timed && ran {
		// The case names no transcript: every transcript of the run may
		// hold what led to the verdict.
		for _, ev := range run.Evidence() {
			if ev.Kind == results.KindTranscript && !seen[ev.Path] {
				wants = append(wants, want{ev: ev, from: math.MinInt64, to: math.MaxInt64})
			}
		}
	}
	var power []Line
	for _, ev := range run.Evidence() {
		if ev.Kind == results.KindPower {
			power = append(power, powerLines(ev.Power)...)
		}
	}
	sort.SliceStable(power, func(i, j int) bool { return power[i].MonoNs < power[j].MonoNs })

	var out []Excerpt
	for _, w := range wants {
		ex := Excerpt{Path: w.ev.Path, Notices: w.ev.Notices}
		all := w.ev.displayLines()
		var win []Line
		limit := rangeLines
		if w.ranged {
			ex.What = fmt.Sprintf("the range the case names, %s to %s", offset(w.from), offsetOr(w.to, "the end"))
			win = within(all, w.from, w.to)
		} else {
			end, whatEnd := int64(math.MaxInt64), "the end of the transcript (the record gives no time for the verdict)"
			if timed {
				end, whatEnd = vt, "the verdict at "+offset(vt)
			}
			win = within(all, math.MinInt64, end)
			limit = excerptLines
			ex.What = fmt.Sprintf("the last %d lines before %s", limit, whatEnd)
		}
		if w.note != "" {
			ex.What += " — " + w.note
		}
		if len(win) > limit {
			ex.Omitted = len(win) - limit
			win = win[len(win)-limit:]
		}
		if len(win) > 0 {
			from, to := win[0].MonoNs, win[len(win)-1].MonoNs
			if w.ranged {
				from, to = w.from, w.to
			} else if timed {
				to = vt
			}
			win = merge(win, within(power, from, to))
			if start := c.Timing.StartMonoNs; timed && win[0].MonoNs < start {
				i := sort.Search(len(win), func(i int) bool { return win[i].MonoNs >= start })
				marked := make([]Line, 0, len(win)+1)
				marked = append(marked, win[:i]...)
				marked = append(marked, Line{MonoNs: start, Kind: "mark", Text: "the check began"})
				win = append(marked, win[i:]...)
			}
		}
		ex.Lines = win
		out = append(out, ex)
	}
	return out
}

// LastLines returns, for a run without a record (cut off by a crash, or
// unreadable), each transcript's last lines with the power events among
// them: what the bench saw last.
func LastLines(run *Run) []Excerpt {
	var power []Line
	for _, ev := range run.Evidence() {
		if ev.Kind == results.KindPower {
			power = append(power, powerLines(ev.Power)...)
		}
	}
	sort.SliceStable(power, func(i, j int) bool { return power[i].MonoNs < power[j].MonoNs })
	var out []Excerpt
	for _, ev := range run.Evidence() {
		if ev.Kind != results.KindTranscript {
			continue
		}
		ex := Excerpt{Path: ev.Path, Notices: ev.Notices, What: fmt.Sprintf("the last %d lines written", excerptLines)}
		all := ev.displayLines()
		if len(all) > excerptLines {
			ex.Omitted = len(all) - excerptLines
			all = all[len(all)-excerptLines:]
		}
		from := int64(math.MinInt64) // the whole transcript is shown
		if ex.Omitted > 0 {
			from = all[0].MonoNs
		}
		ex.Lines = merge(all, within(power, from, math.MaxInt64))
		out = append(out, ex)
	}
	return out
}

// within returns the lines whose time is in [from, to]. Recorders write in
// time order, so that is usually a part of lines, found by binary search
// and returned without copying (its capacity cut, so an append copies);
// lines out of order are filtered one by one.
func within(lines []Line, from, to int64) []Line {
	if slices.IsSortedFunc(lines, func(a, b Line) int { return cmp.Compare(a.MonoNs, b.MonoNs) }) {
		i := sort.Search(len(lines), func(i int) bool { return lines[i].MonoNs >= from })
		j := sort.Search(len(lines), func(j int) bool { return lines[j].MonoNs > to })
		if i >= j {
			return nil
		}
		return lines[i:j:j]
	}
	var out []Line
	for _, l := range lines {
		if l.MonoNs >= from && l.MonoNs <= to {
			out = append(out, l)
		}
	}
	return out
}

// merge interleaves two time-ordered lists, a's line first on a tie. It
// returns a new slice unless b is empty.
func merge(a, b []Line) []Line {
	if len(b) == 0 {
		return a
	}
	out := make([]Line, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].MonoNs < a[0].MonoNs {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// offset writes a time on the run's axis as seconds since the run began.
func offset(ns int64) string {
	switch {
	case ns == math.MinInt64:
		return "the start"
	case ns == math.MaxInt64:
		return "the end"
	}
	return fmt.Sprintf("+%.3f s", float64(ns)/1e9)
}

func offsetOr(ns int64, inf string) string {
	if ns == math.MaxInt64 {
		return inf
	}
	return offset(ns)
}
