package report

import (
	"fmt"
	"io"
	"strings"
)

// Format is an output format of a report.
type Format string

// The formats.
const (
	Text  Format = "text"  // plain-text summary for a terminal (WriteText)
	JUnit Format = "junit" // JUnit XML for CI (WriteJUnit)
	HTML  Format = "html"  // one self-contained page (WriteHTML)
	JSON  Format = "json"  // the machine summary (WriteJSON)
)

// Formats lists every format, the default first.
var Formats = []Format{Text, JUnit, HTML, JSON}

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("report format %q: use one of %s", s, strings.Join(names, ", "))
}

// Write writes rep to w in format f.
func Write(w io.Writer, rep *Source, f Format) error {
	switch f {
	case Text:
		return WriteText(w, rep)
	case JUnit:
		return WriteJUnit(w, rep)
	case HTML:
		return WriteHTML(w, rep)
	case JSON:
		return WriteJSON(w, rep)
	}
	return fmt.Errorf("report format %q is unknown", f)
}
