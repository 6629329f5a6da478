package console

import (
	"bytes"
	"time"
)

// This file is the expect engine: it knows nothing of ports, goroutines or
// time. A stream takes raw chunks, normalizes them into a bounded buffer,
// and runs the scanners of the current wait and of the standing watches
// over each chunk's new text. A Console drives it under its lock.
//
// Cost per chunk is O(chunk + width) for each pattern: a scanner looks only
// at the new text plus the width-1 bytes before it (where a match that ends
// in the new text could start), and a pattern with a required factor runs
// its regular expression only when that factor occurs there.

// Match is what a wait found.
type Match struct {
	Index   int               // which of the patterns given matched
	Pattern Pattern           // that pattern
	Text    string            // the matched text, normalized
	Groups  map[string]string // named groups of a regular expression; nil if none
	// Before is the normalized output between the start of the wait and
	// the match. Truncated says its beginning was dropped because more
	// than the backlog (Config.Backlog) came before the match.
	Before    string
	Truncated bool
}

// stream is the engine state of one console.
type stream struct {
	norm     normalizer
	buf      []byte // normalized output, the last keep..2×keep bytes
	base     int64  // stream offset of buf[0]
	consumed int64  // the next wait sees output from here on
	keep     int
	wait     *waiter
	watches  []*Watch
	gaps     int64 // how many times the output was cut
	lastGap  error // why, the last time
	markAt   int64 // where the last Mark or gap was; -1: none
}

func newStream(keep int) *stream {
	return &stream{keep: keep, buf: make([]byte, 0, 2*keep+4096), markAt: -1}
}

func (s *stream) end() int64 { return s.base + int64(len(s.buf)) }

func (s *stream) text(from, to int64) []byte {
	return s.buf[from-s.base : to-s.base]
}

// feed adds raw device bytes and runs the scanners over them.
func (s *stream) feed(raw []byte) {
	s.buf = s.norm.append(s.buf, raw)
	s.scan()
	if len(s.buf) > 2*s.keep {
		// Keep the last keep bytes: every scanner needs at most
		// 2×MaxWidthLimit of them, and Before gets what remains.
		drop := len(s.buf) - s.keep
		s.buf = s.buf[:copy(s.buf, s.buf[drop:])]
		s.base += int64(drop)
	}
}

// cut marks a gap in the output (the port was lost, gap says why):
// nothing before it can be part of a match after it, and every standing
// watch has missed whatever the device printed meanwhile, so it records
// the gap (see Watch.Err).
func (s *stream) cut(gap error) {
	s.gaps++
	s.lastGap = gap
	s.consumed = s.end()
	s.markAt = s.end()
	s.norm = normalizer{}
	for _, w := range s.watches {
		w.broke(gap)
		for _, sc := range w.scanners {
			sc.reset(s.end())
		}
	}
}

// mark ends what may be matched: the next wait, and the one in flight,
// see only output from here on. Watches saw everything and go on, but no
// match of theirs spans the mark either.
func (s *stream) mark() {
	end := s.end()
	s.consumed = end
	s.markAt = end
	s.norm = normalizer{} // a sequence cut off by the mark does not eat what follows
	if w := s.wait; w != nil {
		w.start = end
		for _, sc := range w.want {
			sc.reset(end)
		}
		for _, sc := range w.not {
			sc.reset(end)
		}
	}
	for _, w := range s.watches {
		for _, sc := range w.scanners {
			sc.reset(end)
		}
	}
}

// scan runs the watches and the wait over the new output.
func (s *stream) scan() {
	var fired *Watch
	var firedAt int64
	for i := 0; i < len(s.watches); i++ {
		w := s.watches[i]
		if w.m != nil {
			continue // fired before, kept until Stop
		}
		if h, sc, ok := s.first(w.scanners, nil); ok {
			w.m = s.match(h, sc, w.start)
			close(w.fired)
			if fired == nil || h.end < firedAt {
				fired, firedAt = w, h.end
			}
		}
	}
	wt := s.wait
	if wt == nil {
		return
	}
	if wt.pending != nil {
		// Settling: only a pattern listed before the one that matched
		// can still win.
		if h, sc, ok := s.first(wt.want[:wt.pendingSc], nil); ok {
			s.accept(wt, h, sc)
		}
		return
	}
	h, sc, ok := s.first(wt.want, wt.not)
	switch {
	case fired != nil && (!ok || firedAt < h.end):
		wt.finish(nil, &UnwantedError{Match: fired.m, Watch: true})
	case !ok:
		return
	case sc.not:
		wt.finish(nil, &UnwantedError{Match: s.match(h, sc, wt.start)})
	case wt.settle > 0 && sc != wt.want[0]:
		// A pattern listed earlier may still appear and outrank it.
		wt.pending, wt.pendingHit = sc, h
		for i, w := range wt.want {
			if w == sc {
				wt.pendingSc = i
			}
		}
		close(wt.settling)
		return
	default:
		s.accept(wt, h, sc)
		return
	}
	s.wait = nil
}

// accept ends the wait with the match h of sc.
func (s *stream) accept(wt *waiter, h hit, sc *scanner) {
	m := s.match(h, sc, wt.start)
	s.consumed = h.end
	wt.finish(m, nil)
	s.wait = nil
}

// settled ends a settling wait with the match it had, or, when its time
// is up (timeout, settle time), a match held back for a delimiter.
// It reports whether the wait got a match.
func (s *stream) settled(wt *waiter) bool {
	if s.wait != wt {
		return false
	}
	if wt.pending != nil {
		s.accept(wt, wt.pendingHit, wt.pending)
		return true
	}
	var best hit
	var bestSc *scanner
	for _, sc := range wt.want {
		if sc.held != nil && sc.held.start >= s.base && (bestSc == nil || sc.held.end < best.end) {
			best, bestSc = *sc.held, sc
		}
	}
	if bestSc == nil {
		return false
	}
	s.accept(wt, best, bestSc)
	return true
}

// first runs every scanner over the new output and returns the hit that
// ends first; on a tie an unwanted pattern wins, then the earlier pattern.
func (s *stream) first(want, not []*scanner) (hit, *scanner, bool) {
	var best hit
	var bestSc *scanner
	for _, list := range [2][]*scanner{not, want} {
		for _, sc := range list {
			if h, ok := sc.next(s); ok && (bestSc == nil || h.end < best.end) {
				best, bestSc = h, sc
			}
		}
	}
	return best, bestSc, bestSc != nil
}

func (s *stream) match(h hit, sc *scanner, from int64) *Match {
	m := &Match{Index: sc.index, Pattern: sc.p, Text: string(s.text(h.start, h.end))}
	if from < s.base {
		from, m.Truncated = s.base, true
	}
	if from < h.start {
		m.Before = string(s.text(from, h.start))
	}
	if sc.p.re != nil {
		for i, name := range sc.p.re.SubexpNames() {
			if name == "" || h.loc[2*i] < 0 {
				continue
			}
			if m.Groups == nil {
				m.Groups = make(map[string]string)
			}
			m.Groups[name] = string(s.text(h.edge+int64(h.loc[2*i]), h.edge+int64(h.loc[2*i+1])))
		}
	}
	return m
}

// tail returns up to n bytes of the output the current wait has seen.
func (s *stream) tail(n int) string {
	from := max(s.consumed, s.base, s.end()-int64(n))
	return string(s.text(from, s.end()))
}

func (s *stream) newScanners(ps []Pattern, not bool, from int64) []*scanner {
	var out []*scanner
	for i, p := range ps {
		if p.IsZero() {
			continue
		}
		sc := &scanner{p: p, index: i, not: not}
		for _, f := range p.need {
			sc.needLen = max(sc.needLen, len(f.b))
		}
		sc.reset(from)
		out = append(out, sc)
	}
	return out
}

// waiter is one Wait in progress. The engine finishes it exactly once.
type waiter struct {
	want, not []*scanner
	start     int64
	done      chan struct{}
	m         *Match
	err       error

	// With settle, a match of any but the first pattern is pending
	// (settling is closed) until settle has passed or an earlier pattern
	// matched.
	settle     time.Duration
	settling   chan struct{}
	pending    *scanner
	pendingHit hit
	pendingSc  int // index of pending in want
}

func (w *waiter) finish(m *Match, err error) {
	w.m, w.err = m, err
	close(w.done)
}

// hit is a match found by a scanner, in stream offsets; loc is the
// regular expression's submatch index relative to edge.
type hit struct {
	start, end, edge int64
	loc              []int
}

// scanner searches one pattern incrementally.
type scanner struct {
	p       Pattern
	index   int
	not     bool
	held    *hit   // a match ending at the end of the output, held for a delimiter
	from    int64  // no match starts before this offset
	done    int64  // matches ending before this offset have been looked for
	occ     int64  // start of the last occurrence of p.need seen, or -1
	needLen int    // longest of p.need
	lower   []byte // scratch for case-insensitive search
}

func (sc *scanner) reset(from int64) {
	sc.from, sc.done, sc.occ = from, from, -1
}

// next looks for a match that ends in the output added since the last call.
func (sc *scanner) next(s *stream) (hit, bool) {
	end := s.end()
	newStart := sc.done
	if newStart >= end {
		return hit{}, false
	}
	sc.done = end
	sc.held = nil
	// A match no wider than width that ends after newStart starts at lo
	// or later.
	lo := max(sc.from, s.base, newStart-int64(sc.p.width)+1)
	if sc.p.re == nil {
		i := bytes.Index(s.text(lo, end), sc.p.lit)
		if i < 0 {
			return hit{}, false
		}
		start := lo + int64(i)
		return hit{start: start, end: start + int64(len(sc.p.lit))}, true
	}
	if len(sc.p.need) > 0 {
		// Every match contains one of need; if the last occurrence seen
		// starts before lo, no new match is possible and the regular
		// expression is not run at all.
		sc.findNeed(s, max(sc.from, s.base, newStart-int64(sc.needLen)+1), end)
		if sc.occ < lo {
			return hit{}, false
		}
	}
	edge := lo
	if sc.p.anchored && lo > sc.from {
		// ^ and \b look at the byte before: start at a line start so
		// the left edge of the search is not mistaken for one.
		back := max(sc.from, s.base, lo-int64(sc.p.width))
		if i := bytes.LastIndexByte(s.text(back, lo), '\n'); i >= 0 {
			edge = back + int64(i) + 1
		} else {
			edge = back
		}
	}
	loc := sc.p.re.FindSubmatchIndex(s.text(edge, end))
	if loc == nil {
		return hit{}, false
	}
	h := hit{start: edge + int64(loc[0]), end: edge + int64(loc[1]), edge: edge, loc: loc}
	if h.end == end && sc.p.open && !sc.not {
		// It could go on (`[a-z]+` has "c" of "confirmed" so far): hold
		// it until more output shows where it ends, or the wait's time is
		// up; look at it again with the next output.
		sc.held = &h
		sc.done = h.start
		return hit{}, false
	}
	return h, true
}

// findNeed records the last occurrence of any required factor in
// [from, end).
func (sc *scanner) findNeed(s *stream, from, end int64) {
	if from >= end {
		return
	}
	hay := s.text(from, end)
	lowered := false
	for _, f := range sc.p.need {
		h := hay
		if f.fold {
			if !lowered {
				sc.lower = asciiLower(sc.lower[:0], hay)
				lowered = true
			}
			h = sc.lower
		}
		for off := 0; ; {
			i := bytes.Index(h[off:], f.b)
			if i < 0 {
				break
			}
			sc.occ = max(sc.occ, from+int64(off+i))
			off += i + 1
		}
	}
}

var lowerTable = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

func asciiLower(dst, src []byte) []byte {
	n := len(dst)
	dst = append(dst, src...)
	for i, c := range dst[n:] {
		dst[n+i] = lowerTable[c]
	}
	return dst
}

// autobootShowing says why a key sent now might land in a bootloader's
// autoboot window (p), or "" if it cannot. Called with the console's mu.
func (s *stream) autobootShowing(p Pattern) string {
	if p.IsZero() {
		return ""
	}
	from, marked := s.base, s.markAt >= s.base
	if marked {
		from = s.markAt
	}
	text := s.text(from, s.end())
	_, end, ok := p.last(text)
	switch {
	case marked && !ok:
		return "since the last mark or gap (a power cut?) the autoboot prompt " + p.String() + " has not shown: its window may be still to come"
	case ok && bytes.IndexByte(text[end:], '\n') < 0:
		return "the autoboot prompt " + p.String() + " is the last thing the device printed"
	}
	return ""
}
