package console

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// Width limits, in bytes of normalized text (see doc.go).
const (
	// DefaultMaxWidth is the bound given to a pattern whose regular
	// expression could match without limit (`.*`, `\S+`, `x{3,}`). Widen or
	// narrow it with Pattern.WithMaxWidth.
	DefaultMaxWidth = 1024
	// MaxWidthLimit is the widest bound a pattern may have. The engine keeps
	// at least 4×MaxWidthLimit bytes of recent output, so every pattern
	// always sees enough context.
	MaxWidthLimit = 16 << 10
)

// Pattern is something to wait for in a console's output: a literal string
// or a regular expression, with a bounded match width. The bound is how far
// back the engine looks from newly arrived text: every match no wider than
// it is found, and no match that only a longer look-back would find is.
// (Text that arrives in one piece is searched whole, so a greedy `\S+` may
// match more than the bound there.) Build one with
// Literal or Regexp; the zero Pattern is "unset" and is skipped where an
// optional pattern is allowed (Prompts).
//
// Patterns see normalized output: ANSI escape sequences and NUL bytes
// removed and every line end (CR, LF, CRLF) turned into a single "\n".
type Pattern struct {
	src   string         // as the user wrote it, for messages
	lit   []byte         // literal pattern (re == nil), normalized
	re    *regexp.Regexp // regular expression pattern
	width int            // bound on match width, bytes
	// need lists byte strings one of which every match contains, used
	// to skip the regular expression on output that cannot match.
	need []factor
	// anchored patterns use ^, \A or \b, which look at the byte before
	// the match; the engine gives them an honest left edge.
	anchored bool
	// open patterns end in a run of variable length (`[a-z]+`, `\d{1,3}`,
	// `x?`): a match ending at the end of the output received so far may
	// go on, so the engine holds it for a delimiter.
	open bool
}

// last finds p's last match in text.
func (p Pattern) last(text []byte) (start, end int, ok bool) {
	if p.re == nil {
		i := bytes.LastIndex(text, p.lit)
		return i, i + len(p.lit), i >= 0
	}
	all := p.re.FindAllIndex(text, -1)
	if len(all) == 0 {
		return 0, 0, false
	}
	l := all[len(all)-1]
	return l[0], l[1], true
}

// Literal returns a pattern matching s as it is (after the same
// normalization the output gets, so "\r\n" in s means "\n").
// An empty s gives the zero (unset) Pattern.
func Literal(s string) Pattern {
	var n normalizer
	lit := n.append(nil, []byte(s))
	if len(lit) == 0 {
		return Pattern{}
	}
	return Pattern{src: s, lit: lit, width: len(lit), need: []factor{{b: lit}}}
}

// Regexp compiles expr (Go RE2 syntax, https://golang.org/s/re2syntax) into
// a pattern. Named groups (?P<name>...) become Match.Groups.
//
// The match width is bounded: an expression that can only match a limited
// number of bytes gets that bound; one that could match without limit
// (`.*`, `\S+`, `x{2,}`) gets DefaultMaxWidth. Regexp rejects, with a message
// saying what to write instead: syntax errors, expressions that match the
// empty string (they would match at once), expressions mentioning \r
// (patterns see every line end as \n), and bounded expressions wider than
// MaxWidthLimit.
//
// `$` and `\z` match at the end of the output received so far, so `# $`
// means "the last thing the device printed is a # prompt".
func Regexp(expr string) (Pattern, error) {
	if expr == "" {
		return Pattern{}, fmt.Errorf("console pattern is empty: write the text to wait for, e.g. \"login: \"")
	}
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return Pattern{}, fmt.Errorf("console pattern %q is not a valid regular expression: %v; write RE2 syntax (https://golang.org/s/re2syntax), or use a literal pattern to match the text as it is", expr, shortSyntaxErr(err))
	}
	if mentionsCR(tree) {
		return Pattern{}, fmt.Errorf("console pattern %q mentions \\r, but patterns see every line end (CR, LF or CRLF) as a single \\n: write \\n instead of \\r\\n or \\r", expr)
	}
	if minWidth(tree) == 0 {
		return Pattern{}, fmt.Errorf("console pattern %q can match the empty string, so it would match at once: require at least one character (e.g. x+ instead of x*)", expr)
	}
	width, bounded := maxWidth(tree)
	if !bounded {
		width = DefaultMaxWidth
	} else if width > MaxWidthLimit {
		return Pattern{}, fmt.Errorf("console pattern %q can match up to %d bytes, more than the engine's %d-byte limit: narrow the repetition counts", expr, width, MaxWidthLimit)
	}
	re, err := regexp.Compile(expr)
	if err != nil { // syntax.Parse accepted it, so this is unexpected
		return Pattern{}, fmt.Errorf("console pattern %q: %v", expr, err)
	}
	p := Pattern{src: expr, re: re, width: width, anchored: hasLookBehind(tree), open: openEnd(tree)}
	p.need = required(tree.Simplify())
	return p, nil
}

// MustRegexp is Regexp for expressions fixed in code; it panics on error.
func MustRegexp(expr string) Pattern {
	p, err := Regexp(expr)
	if err != nil {
		panic(err)
	}
	return p
}

// WithMaxWidth returns p with its match width bounded by n bytes, clamped
// to [1, MaxWidthLimit]. A narrower bound than the expression's own makes
// longer matches invisible; a wider one lets `\S+` capture more.
func (p Pattern) WithMaxWidth(n int) Pattern {
	if p.re == nil {
		return p // a literal's width is its length
	}
	p.width = min(max(n, 1), MaxWidthLimit)
	return p
}

// MaxWidth reports the bound on the pattern's match width, in bytes.
func (p Pattern) MaxWidth() int { return p.width }

// IsZero reports whether p is the unset pattern.
func (p Pattern) IsZero() bool { return p.re == nil && p.lit == nil }

// String returns the pattern as written: a regular expression as is, a
// literal quoted.
func (p Pattern) String() string {
	if p.re != nil {
		return p.src
	}
	return fmt.Sprintf("%q", p.src)
}

func shortSyntaxErr(err error) string {
	if se, ok := err.(*syntax.Error); ok {
		return fmt.Sprintf("%s: `%s`", se.Code, se.Expr)
	}
	return err.Error()
}

// mentionsCR reports whether a literal or class in the tree can only be
// satisfied by \r, which normalized output never contains.
func mentionsCR(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return strings.ContainsRune(string(re.Rune), '\r')
	case syntax.OpCharClass:
		return len(re.Rune) == 2 && re.Rune[0] == '\r' && re.Rune[1] == '\r'
	}
	for _, s := range re.Sub {
		if mentionsCR(s) {
			return true
		}
	}
	return false
}

// openEnd reports whether a match of re may end in a run that more text
// would lengthen: its last element is a repetition of variable count, a
// word boundary after one, or an alternation with such a branch. `$` and
// `\z` at the end mean "at the end of the output so far": never open.
func openEnd(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpConcat:
		for i := len(re.Sub) - 1; i >= 0; i-- {
			switch re.Sub[i].Op {
			case syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpEmptyMatch:
				continue
			case syntax.OpEndText, syntax.OpEndLine:
				return false
			}
			return openEnd(re.Sub[i])
		}
		return false
	case syntax.OpCapture:
		return openEnd(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return true
	case syntax.OpRepeat:
		return re.Min != re.Max || openEnd(re.Sub[0])
	case syntax.OpAlternate:
		for _, s := range re.Sub {
			if openEnd(s) {
				return true
			}
		}
	}
	return false
}

func hasLookBehind(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	for _, s := range re.Sub {
		if hasLookBehind(s) {
			return true
		}
	}
	return false
}

// runeWidth is the most bytes one rune of re can consume. Invalid UTF-8
// is consumed one byte at a time, so the answer is at least 1.
func runeWidth(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return 1
		}
		return max(utf8.RuneLen(min(re.Rune[len(re.Rune)-1], utf8.MaxRune)), 1)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	}
	return 1
}

// maxWidth returns the most bytes re can match, and false if unbounded.
func maxWidth(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return len(re.Rune) * utf8.UTFMax, true // 'k' also matches U+212A
		}
		return len(string(re.Rune)), true
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return runeWidth(re), true
	case syntax.OpCapture, syntax.OpQuest:
		return maxWidth(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus:
		w, ok := maxWidth(re.Sub[0])
		return 0, ok && w == 0
	case syntax.OpRepeat:
		w, ok := maxWidth(re.Sub[0])
		if !ok || (re.Max < 0 && w > 0) {
			return 0, false
		}
		return w * max(re.Max, 0), true
	case syntax.OpConcat:
		total := 0
		for _, s := range re.Sub {
			w, ok := maxWidth(s)
			if !ok {
				return 0, false
			}
			total += w
		}
		return total, true
	case syntax.OpAlternate:
		most := 0
		for _, s := range re.Sub {
			w, ok := maxWidth(s)
			if !ok {
				return 0, false
			}
			most = max(most, w)
		}
		return most, true
	}
	return 0, true // assertions, empty match, no match
}

// minWidth returns the fewest bytes a match of re can have.
func minWidth(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minWidth(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min * minWidth(re.Sub[0])
	case syntax.OpConcat:
		total := 0
		for _, s := range re.Sub {
			total += minWidth(s)
		}
		return total
	case syntax.OpAlternate:
		least := -1
		for _, s := range re.Sub {
			if w := minWidth(s); least < 0 || w < least {
				least = w
			}
		}
		return max(least, 0)
	case syntax.OpNoMatch:
		return 1 // never matches, so never matches empty
	}
	return 0 // star, quest, assertions, empty match
}

// factor is a byte string a match must contain; fold says it is
// ASCII-lowercased and to be found case-insensitively.
type factor struct {
	b    []byte
	fold bool
}

// maxFactors bounds how many alternatives a pattern's factor set has, so
// looking for them stays cheap.
const maxFactors = 8

// required finds a set of byte strings one of which every match of re
// contains (RE2's "prefilter" idea, simplified), so the engine can look
// for them with bytes.Index and run the regular expression only where one
// occurs. Nil means no such set was found. Under case folding, k and s
// also match non-ASCII runes (the Kelvin sign, the long s), so a folded
// factor never contains them, nor any non-ASCII rune.
func required(re *syntax.Regexp) []factor {
	switch re.Op {
	case syntax.OpLiteral:
		if l, f, _ := literalBytes(re); len(l) > 0 {
			return []factor{{l, f}}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpAlternate:
		var all []factor
		for _, s := range re.Sub {
			fs := required(s)
			if fs == nil || len(all)+len(fs) > maxFactors {
				return nil // a branch that needs nothing: no set
			}
			all = append(all, fs...)
		}
		return all
	case syntax.OpConcat:
		var best []factor
		better := func(fs []factor) {
			if score(fs) > score(best) || score(fs) == score(best) && len(fs) < len(best) {
				best = fs
			}
		}
		var run []byte // adjacent literals join into one longer factor
		runFold := false
		for _, s := range re.Sub {
			if s.Op == syntax.OpLiteral {
				l, f, whole := literalBytes(s)
				if whole && (len(run) == 0 || f == runFold) {
					run = append(run, l...)
					runFold = f
					continue
				}
				if len(run) > 0 {
					better([]factor{{run, runFold}})
				}
				run = nil
				if whole {
					run, runFold = append(run, l...), f
				} else if len(l) > 0 {
					better([]factor{{l, f}})
				}
				continue
			}
			if len(run) > 0 {
				better([]factor{{run, runFold}})
			}
			run = nil
			if fs := required(s); fs != nil {
				better(fs)
			}
		}
		if len(run) > 0 {
			better([]factor{{run, runFold}})
		}
		return best
	}
	return nil
}

// score rates a factor set by its shortest member: longer strings occur
// less often by chance.
func score(fs []factor) int {
	if len(fs) == 0 {
		return 0
	}
	least := len(fs[0].b)
	for _, f := range fs[1:] {
		least = min(least, len(f.b))
	}
	return least
}

// literalBytes returns a literal's bytes and whether they are all of it; a
// case-folded literal with runes that fold outside ASCII gives only its
// longest foldable stretch, lowercased.
func literalBytes(re *syntax.Regexp) (b []byte, fold bool, whole bool) {
	s := []byte(string(re.Rune))
	if re.Flags&syntax.FoldCase == 0 {
		return s, false, true
	}
	var best, cur []byte
	whole = true
	for _, r := range re.Rune {
		if r >= utf8.RuneSelf || r == 'k' || r == 'K' || r == 's' || r == 'S' {
			whole = false
			cur = nil
			continue
		}
		cur = append(cur, byte(r))
		if len(cur) > len(best) {
			best = cur
		}
	}
	return bytes.ToLower(best), true, whole
}
