package console_test

import (
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/results"
)

// A secret reaches the device whole, and the transcript only as a redacted
// tx record: a password in a record shared with customers is a leak.
func TestSendSecretIsRedactedInTheTranscript(t *testing.T) {
	for _, delay := range []time.Duration{0, time.Microsecond} {
		both(t, console.Config{CharDelay: delay}, func(t *testing.T, l *link) {
			if err := l.c.Send(ctx, "user\n"); err != nil {
				t.Fatal(err)
			}
			if err := l.c.SendSecret(ctx, "h7Kp-2mQx"); err != nil {
				t.Fatal(err)
			}
			if err := l.c.Send(ctx, "\n"); err != nil {
				t.Fatal(err)
			}
			l.far().Expect("user\nh7Kp-2mQx\n") // the device got it all
			rs := l.tr.waitFor(t, "the newline after the secret", func(rs []console.Record) bool {
				return string(stream(t, rs, "tx")) == "user\n\n"
			})
			if strings.Contains(l.tr.String(), "h7Kp") {
				t.Fatalf("the secret is in the transcript:\n%s", l.tr.String())
			}
			var red []console.Record
			for _, r := range rs {
				if r.Redacted {
					red = append(red, r)
				}
			}
			if len(red) != 1 || red[0].Dir != "tx" || red[0].Text != "" || red[0].B64 != "" || red[0].Detail != "secret: 9 bytes" {
				t.Fatalf("want one redacted tx record of 9 bytes, got %+v", red)
			}
			if got := string(stream(t, rs, "tx")); got != "user\n\n" {
				t.Fatalf("tx stream %q, want the text around the secret", got)
			}
			// The results reader, which verify and the reports use, takes
			// the redacted line (formats.md).
			lines, err := results.ReadTranscript(strings.NewReader(l.tr.String()))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, line := range lines {
				if line.Redacted {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("results read %d redacted lines, want 1", n)
			}
		})
	}
}
