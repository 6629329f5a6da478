package console

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// feedWait registers a wait on a fresh stream and feeds chunks until it
// finishes; it returns the match, how many chunks it took, and the error.
func feedWait(t *testing.T, s *stream, want, not []Pattern, chunks ...string) (*Match, int, error) {
	t.Helper()
	start := max(s.consumed, s.base)
	w := &waiter{start: start, done: make(chan struct{})}
	w.want = s.newScanners(want, false, start)
	w.not = s.newScanners(not, true, start)
	s.wait = w
	s.scan()
	for i := 0; ; i++ {
		select {
		case <-w.done:
			return w.m, i, w.err
		default:
		}
		if i == len(chunks) {
			s.wait = nil
			return nil, i, nil
		}
		s.feed([]byte(chunks[i]))
	}
}

func TestMatchSplitAcrossChunksAtEverySplit(t *testing.T) {
	text := "U-Boot 2024.01\r\n\x1b[0;32m[  OK  ]\x1b[0m Started\r\ncam-1 login: "
	patterns := []Pattern{
		MustRegexp(`(?P<host>[\w-]+) login: `),
		Literal("Kernel panic"),
	}
	for i := 0; i <= len(text); i++ {
		for j := i; j <= len(text); j++ {
			s := newStream(minBacklog)
			m, _, err := feedWait(t, s, patterns, nil, text[:i], text[i:j], text[j:])
			if err != nil || m == nil {
				t.Fatalf("split %d/%d: match %v, err %v", i, j, m, err)
			}
			if m.Text != "cam-1 login: " || m.Groups["host"] != "cam-1" || m.Index != 0 {
				t.Fatalf("split %d/%d: got %+v", i, j, m)
			}
			if want := "U-Boot 2024.01\n[  OK  ] Started\n"; m.Before != want {
				t.Fatalf("split %d/%d: before %q, want %q", i, j, m.Before, want)
			}
		}
	}
}

func TestNormalizerEverySplit(t *testing.T) {
	raw := "a\x1b[1;31mb\x1b]0;title\x07c\r\nd\re\x00f\x1b(Bg\x1bP+q\x1b\\h\n\n\xffi"
	want := "ab" + "c\nd\nefg" + "h\n\n\xffi"
	for i := 0; i <= len(raw); i++ {
		var n normalizer
		got := n.append(nil, []byte(raw[:i]))
		got = n.append(got, []byte(raw[i:]))
		if string(got) != want {
			t.Fatalf("split at %d: %q, want %q", i, got, want)
		}
	}
}

func TestEndlessLineAndNoNewline(t *testing.T) {
	s := newStream(minBacklog)
	chunk := strings.Repeat("x", 4000)
	chunks := make([]string, 0, 300)
	for range 250 { // 1 MB with no newline at all
		chunks = append(chunks, chunk)
	}
	chunks = append(chunks, "lo", "gin: ")
	m, n, err := feedWait(t, s, []Pattern{Literal("login: "), MustRegexp(`x{5}y`)}, nil, chunks...)
	if err != nil || m == nil || m.Index != 0 || n != len(chunks) {
		t.Fatalf("match %+v err %v after %d chunks", m, err, n)
	}
	if !m.Truncated || len(m.Before) > 2*minBacklog {
		t.Fatalf("Before should be truncated to the backlog: truncated=%v len=%d", m.Truncated, len(m.Before))
	}
}

func TestMemoryBoundedByBacklog(t *testing.T) {
	s := newStream(minBacklog)
	w := &waiter{done: make(chan struct{})}
	w.want = s.newScanners([]Pattern{MustRegexp(`(?i)press enter`), MustRegexp(`\S+ login: `)}, false, 0)
	s.wait = w
	rng := rand.New(rand.NewPCG(1, 2))
	line := []byte("[    1.000000] a kernel line, login:x and Press Entr \x1b[0m\r\n")
	for fed := 0; fed < 4<<20; { // 30 times the backlog
		n := 64 + rng.IntN(448)
		chunk := bytes.Repeat(line, n/len(line)+1)[:n]
		s.feed(chunk)
		fed += n
	}
	if c := cap(s.buf); c > 2*minBacklog+4096 {
		t.Errorf("buffer grew to %d bytes after 4 MB; want at most %d", c, 2*minBacklog+4096)
	}
	for _, sc := range w.want {
		if c := cap(sc.lower); c > 4096 {
			t.Errorf("scanner scratch grew to %d bytes", c)
		}
	}
	select {
	case <-w.done:
		t.Fatalf("matched %+v in text that has no match", w.m)
	default:
	}
}

func TestAnchorsNotFooledByChunkEdge(t *testing.T) {
	p := MustRegexp(`(?m)^login: `)
	// The chunk starts right at "login: ", but the line began earlier.
	s := newStream(minBacklog)
	if m, _, _ := feedWait(t, s, []Pattern{p}, nil, "foo", strings.Repeat("z", 10), "login: "); m != nil {
		t.Fatalf("^ matched mid-line: %+v", m)
	}
	m, _, err := feedWait(t, s, []Pattern{p}, nil, "\nlogin", ": ")
	if err != nil || m == nil {
		t.Fatalf("^ at a real line start: match %v err %v", m, err)
	}
	// \b likewise: "xlogin" has no word boundary before "login".
	s = newStream(minBacklog)
	if m, _, _ := feedWait(t, s, []Pattern{MustRegexp(`\blogin`)}, nil, "aaaaaaaaax", "login"); m != nil {
		t.Fatalf(`\b matched inside a word: %+v`, m)
	}
}

func TestFirstToEndWinsAndUnwantedWinsTies(t *testing.T) {
	s := newStream(minBacklog)
	m, _, err := feedWait(t, s, []Pattern{Literal("login: "), Literal("U-Boot")}, nil, "U-Boot 2024\nlogin: ")
	if err != nil || m.Index != 1 {
		t.Fatalf("want the earlier match (U-Boot), got %+v %v", m, err)
	}
	// Consumed up to U-Boot: the next wait sees the rest.
	m, _, err = feedWait(t, s, []Pattern{Literal("login: ")}, []Pattern{Literal("2024")}, "")
	var u *UnwantedError
	if !errors.As(err, &u) || u.Match.Text != "2024" {
		t.Fatalf("unwanted 2024 before login: got %+v %v", m, err)
	}
	s = newStream(minBacklog)
	_, _, err = feedWait(t, s, []Pattern{Literal("panic")}, []Pattern{Literal("Kernel panic")}, "Kernel panic - not syncing")
	if !errors.Is(err, ErrUnwanted) {
		t.Fatalf("a tie must go to the unwanted pattern, got %v", err)
	}
}

func TestCaseFoldedFactor(t *testing.T) {
	s := newStream(minBacklog)
	m, _, err := feedWait(t, s, []Pattern{MustRegexp(`(?i)press ENTER to activate`)}, nil, "Please PRESS", " enter TO activate this console")
	if err != nil || m == nil || m.Text != "PRESS enter TO activate" {
		t.Fatalf("got %+v %v", m, err)
	}
}

func TestRegexpRejectsWithAdvice(t *testing.T) {
	for expr, advice := range map[string]string{
		"":                                    "write the text to wait for",
		"login(":                              "missing closing )",
		"a*":                                  "empty string",
		`login:\r`:                            `write \n instead`,
		`\S{1000}x`:                           "", // bounded, 4001 bytes: accepted
		`.{1000}.{1000}.{1000}.{1000}.{1000}`: "narrow the repetition",
	} {
		_, err := Regexp(expr)
		if advice == "" {
			if err != nil {
				t.Errorf("Regexp(%q): unexpected error %v", expr, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), advice) {
			t.Errorf("Regexp(%q): error %v, want one saying %q", expr, err, advice)
		}
	}
}

func TestWidthsAndFactors(t *testing.T) {
	for _, c := range []struct {
		expr  string
		width int
		need  string // factors joined by |, folded ones marked (?i)
	}{
		{`login: `, 7, "login: "},
		{`(?P<host>[\w-]+) login: `, DefaultMaxWidth, " login: "},
		{`\d{1,3}`, 3, ""},
		{`(?i)kernel panic`, 12 * 4, "(?i)ernel panic"},
		{`Linux version (\S+)`, DefaultMaxWidth, "Linux version "},
		{`[#$] $`, 2, " "},
		{`foo|bar`, 3, "foo|bar"},
		{`(?:segfault|oom-killer)\s+\d{1,8}`, DefaultMaxWidth, "segfault|oom-killer"},
		{`(?:segfault|oom-killer) \d{1,8}`, 19, "segfault|oom-killer"},
		{`(?:error|x*)!`, DefaultMaxWidth, "!"},
		{`(?:error|x*)`, 5, ""},
	} {
		p, err := Regexp(c.expr)
		if err != nil {
			if c.need == "" && strings.Contains(err.Error(), "empty string") {
				continue
			}
			t.Fatal(err)
		}
		var need []string
		for _, f := range p.need {
			if f.fold {
				need = append(need, "(?i)"+string(f.b))
			} else {
				need = append(need, string(f.b))
			}
		}
		if p.MaxWidth() != c.width || strings.Join(need, "|") != c.need {
			t.Errorf("%s: width %d need %q; want %d %q", c.expr, p.MaxWidth(), need, c.width, c.need)
		}
	}
	if w := MustRegexp(`\S+`).WithMaxWidth(1 << 30).MaxWidth(); w != MaxWidthLimit {
		t.Errorf("WithMaxWidth should clamp to %d, got %d", MaxWidthLimit, w)
	}
}

func TestMaxWidthBoundsLookBack(t *testing.T) {
	// A match wider than the bound, arriving over several chunks, is not
	// found: the engine never looks further back than the bound.
	chunks := []string{"BEGIN", strings.Repeat("x", 100), "END"}
	s := newStream(minBacklog)
	if m, _, _ := feedWait(t, s, []Pattern{MustRegexp(`BEGIN.*END`).WithMaxWidth(16)}, nil, chunks...); m != nil {
		t.Fatalf("found a %d-byte match with a 16-byte bound", len(m.Text))
	}
	s = newStream(minBacklog)
	if m, _, _ := feedWait(t, s, []Pattern{MustRegexp(`BEGIN.*END`)}, nil, chunks...); m == nil || len(m.Text) != 108 {
		t.Fatalf("default bound: got %+v", m)
	}
}

func TestBenchmarkPatternHasNoFactor(t *testing.T) {
	if p := noFactor[1]; len(p.need) != 0 {
		t.Fatalf("the worst-case benchmark needs a pattern without a factor; %s has %v", p, p.need)
	}
}

func TestAlternativeFactorsFindEveryBranch(t *testing.T) {
	p := MustRegexp(`(?i)(?:error|failed):`)
	for _, text := range []string{"mount: ERROR:", "fsck FAILED:"} {
		s := newStream(minBacklog)
		if m, _, err := feedWait(t, s, []Pattern{p}, nil, "xx", text[:4], text[4:]); err != nil || m == nil {
			t.Fatalf("%q: %v %v", text, m, err)
		}
	}
}
