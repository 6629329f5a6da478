package console

import (
	"regexp"
	"regexp/syntax"
	"testing"
)

// FuzzEngine compares the expect engine with Go's regexp on the same
// normalized text. Fed in one piece, the engine must find exactly what
// regexp finds (the prefilter may skip work, never a match: U+FFFD, which
// matches invalid bytes, was such a case). Fed in pieces, every match it
// reports must be a match of the expression, and it must find one when
// regexp finds one no wider than the pattern's bound (for expressions
// without assertions, whose meaning streaming changes: see doc.go).
func FuzzEngine(f *testing.F) {
	for _, seed := range []struct {
		expr string
		text string
	}{
		{`\x{FFFD}`, "baud garbage \xff\xfe here"},
		{`garbage \x{FFFD}+`, "garbage \xc3\x28\xa0"},
		{"(?i)error|fail", "ok\r\nFAILED\r\n"},
		{`(?P<host>[\w-]+) login: `, "\x1b[1mcam-1\x1b[0m login: "},
		{`slot (?P<s>[a-z]+);`, "slot confirmed; x"},
		{`\d{2,}\s+[A-Z]{3}\b`, "12 ABC 345  DEF"},
		{`(?i)k+`, "\u212a\u212aK"},
		{`^# $`, "x\r\n# "},
		{"a\u00e9b", "a\xc3\xa9b a\xe9b"},
		{`\x{FFFD}\x{FFFD}`, "\xef\xbf\xbd\xff"},
	} {
		f.Add(seed.expr, []byte(seed.text), []byte{3, 1, 7})
	}
	f.Fuzz(func(t *testing.T, expr string, text []byte, cuts []byte) {
		p, err := Regexp(expr)
		if err != nil || len(text) > 4096 {
			return
		}
		var n normalizer
		norm := n.append(nil, text)

		// In one piece: exactly regexp's leftmost-first match.
		m := run(p, [][]byte{text})
		want := p.re.FindSubmatchIndex(norm)
		switch {
		case want == nil && m != nil:
			t.Fatalf("%q in %q: engine matched %q, regexp nothing", expr, norm, m.Text)
		case want != nil && m == nil:
			t.Fatalf("%q in %q: regexp matched %q, the engine nothing", expr, norm, norm[want[0]:want[1]])
		case want != nil && m.Text != string(norm[want[0]:want[1]]):
			t.Fatalf("%q in %q: engine matched %q, regexp %q", expr, norm, m.Text, norm[want[0]:want[1]])
		}
		for i, name := range p.re.SubexpNames() {
			if want != nil && name != "" && want[2*i] >= 0 && m.Groups[name] != string(norm[want[2*i]:want[2*i+1]]) {
				t.Fatalf("%q in %q: group %s %q, regexp %q", expr, norm, name, m.Groups[name], norm[want[2*i]:want[2*i+1]])
			}
		}

		// In pieces.
		if assertions(p.re) {
			return
		}
		var chunks [][]byte
		rest := text
		for _, c := range cuts {
			k := min(int(c)%17, len(rest))
			chunks = append(chunks, rest[:k])
			rest = rest[k:]
		}
		chunks = append(chunks, rest)
		m = run(p, chunks)
		if m != nil && !p.re.MatchString(m.Text) {
			t.Fatalf("%q in %q cut %v: engine matched %q, which the expression does not", expr, norm, cuts, m.Text)
		}
		if m == nil {
			for _, loc := range p.re.FindAllIndex(norm, -1) {
				if loc[1]-loc[0] <= p.width {
					t.Fatalf("%q in %q cut %v: regexp matched %q (within the width %d), the engine nothing", expr, norm, cuts, norm[loc[0]:loc[1]], p.width)
				}
			}
		}
	})
}

// run feeds chunks to a fresh stream waiting for p, and returns the match
// the wait ends with when its time is up.
func run(p Pattern, chunks [][]byte) *Match {
	s := newStream(minBacklog)
	w := &waiter{done: make(chan struct{}), settling: make(chan struct{})}
	w.want = s.newScanners([]Pattern{p}, false, 0)
	s.wait = w
	for _, c := range chunks {
		s.feed(c)
	}
	s.settled(w)
	select {
	case <-w.done:
		return w.m
	default:
		return nil
	}
}

// assertions reports whether re uses ^ $ \A \z \b \B, whose meaning
// depends on where a chunk ends.
func assertions(re *regexp.Regexp) bool {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return true
	}
	var has func(*syntax.Regexp) bool
	has = func(r *syntax.Regexp) bool {
		switch r.Op {
		case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
			return true
		}
		for _, s := range r.Sub {
			if has(s) {
				return true
			}
		}
		return false
	}
	return has(tree)
}
