package console

// normalizer turns raw console bytes into the text patterns see: ANSI
// escape sequences and NUL bytes removed, CR, LF and CRLF each turned into
// one "\n". It keeps state between calls, so a sequence or a CRLF split
// across two reads is handled as if it came in one. Everything else
// (other control bytes, invalid UTF-8) passes through unchanged; the
// transcript keeps the raw bytes.
type normalizer struct {
	state  int
	seqLen int  // bytes swallowed in the current escape sequence
	lastCR bool // previous byte was CR: a following LF is part of it
}

const (
	stText   = iota
	stEsc    // after ESC
	stEscInt // ESC followed by intermediate bytes (0x20-0x2F)
	stCSI    // ESC [ ...
	stString // ESC ] / P / X / ^ / _ ... up to BEL or ESC \
	stStrEsc // ESC seen inside a string
)

// maxSeq bounds how much a malformed or endless escape sequence can
// swallow; after that the normalizer gives up on it and shows text again.
const maxSeq = 256

// special marks bytes that need the state machine in the text state.
var special = [256]bool{0x1b: true, '\r': true, '\n': true, 0: true}

// append appends the normalized form of src to dst.
func (n *normalizer) append(dst, src []byte) []byte {
	i := 0
	for i < len(src) {
		if n.state == stText {
			// Copy the run of ordinary bytes in one go: most console
			// output is plain text.
			j := i
			for j < len(src) && !special[src[j]] {
				j++
			}
			if j > i {
				dst = append(dst, src[i:j]...)
				n.lastCR = false
				i = j
				continue
			}
			c := src[i]
			i++
			switch c {
			case '\r':
				dst = append(dst, '\n')
				n.lastCR = true
			case '\n':
				if !n.lastCR {
					dst = append(dst, '\n')
				}
				n.lastCR = false
			case 0x1b:
				n.state, n.seqLen = stEsc, 0
			case 0:
				// NUL: padding some consoles send; invisible to patterns
			}
			continue
		}
		c := src[i]
		i++
		n.seqLen++
		if n.seqLen > maxSeq {
			n.state = stText
			continue
		}
		switch n.state {
		case stEsc:
			switch {
			case c == '[':
				n.state = stCSI
			case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
				n.state = stString
			case c >= 0x20 && c <= 0x2f:
				n.state = stEscInt
			default: // a two-byte escape (ESC 7, ESC c, ...) or garbage
				n.state = stText
			}
		case stEscInt:
			if c < 0x20 || c > 0x2f {
				n.state = stText
			}
		case stCSI:
			if c >= 0x40 && c <= 0x7e { // final byte
				n.state = stText
			} else if c < 0x20 || c > 0x3f {
				// not a CSI after all: drop the sequence, keep the byte
				n.state = stText
				i--
			}
		case stString:
			if c == 0x07 {
				n.state = stText
			} else if c == 0x1b {
				n.state = stStrEsc
			}
		case stStrEsc:
			n.state = stText // ESC \ ends the string; anything else too
		}
	}
	return dst
}
