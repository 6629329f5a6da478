package console

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// PowerTimeline returns a writer for a power-event log (JSON Lines, one
// event a line, as drivers/power's Log writes them) that puts each event
// into c's transcript (EventPower) and marks c when power is cut: an
// "off" or "cycle" (whose off follows at once), or the "safe" state. So
// the console's timeline shows the power events among the bytes they
// explain, and nothing printed before a cut answers a wait after it:
//
//	log := power.NewLog(io.MultiWriter(eventsFile, console.PowerTimeline(con)), epoch)
//
// A failed action (one with an error) is recorded but does not mark.
func PowerTimeline(c *Console) io.Writer {
	return powerTimeline{c}
}

type powerTimeline struct{ c *Console }

func (p powerTimeline) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			Switch, Action, Level, Detail, Error string
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return 0, fmt.Errorf("console %q: power event %q: %w", p.c.cfg.Name, line, err)
		}
		var parts []string
		for _, s := range []string{e.Switch, e.Action, e.Level, e.Detail} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		if e.Error != "" {
			parts = append(parts, "failed: "+e.Error)
		}
		if err := p.c.Event(EventPower, strings.Join(parts, " ")); err != nil {
			return 0, err
		}
		switch e.Action {
		case "off", "cycle", "safe":
			if e.Error == "" {
				p.c.Mark("power " + e.Action + " (" + e.Switch + ")")
			}
		}
	}
	return len(b), nil
}
