package results

import (
	"fmt"
	"runtime/debug"
	"time"
)

// clockFloor is a date the bench's clock cannot truthfully be before: the
// start of the year this code was written, or of the year the binary was
// built from version control, whichever is later. A Raspberry Pi has no
// real-time clock and boots in 1970 until NTP answers.
var clockFloor = func() time.Time {
	floor := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key != "vcs.time" {
				continue
			}
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				if y := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC); y.After(floor) {
					floor = y
				}
			}
		}
	}
	return floor
}()

// syncSource tells whether the kernel believes its clock. The Linux one asks
// adjtimex; tests substitute their own.
type syncSource interface {
	// synchronized returns whether the clock is synchronised, and if it can
	// tell at all (false on systems without adjtimex).
	synchronized() (synced, known bool, detail string)
}

// checkClock says whether now, read from the wall clock, can be believed.
func checkClock(now time.Time, src syncSource) Clock {
	if now.Before(clockFloor) {
		return Clock{Synchronized: false, Source: ClockFloor,
			Detail: fmt.Sprintf("clock read %s, before %s: not set (no NTP yet?)", now.UTC().Format(time.RFC3339), clockFloor.Format("2006-01-02"))}
	}
	synced, known, detail := src.synchronized()
	if !known {
		return Clock{Synchronized: true, Source: ClockAssumed, Detail: detail}
	}
	return Clock{Synchronized: synced, Source: ClockAdjtimex, Detail: detail}
}

// mergeClock combines the checks at the start and end of a run: the record's
// times are believable only if both were.
func mergeClock(start, end Clock) Clock {
	if !start.Synchronized {
		if end.Synchronized {
			start.Detail = "at start: " + start.Detail
		}
		return start
	}
	if !end.Synchronized {
		end.Detail = "at end: " + end.Detail
	}
	return end
}
