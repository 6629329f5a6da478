package suite

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/certbench/certbench/results"
)

// Execute runs one case on the session's fixture and returns its part of the
// record. epoch is the run's monotonic zero (results.Run.Epoch), so the
// case's timing lines up with the evidence. It never panics and never
// returns without a verdict: applicability and needs first, then the body,
// whose outcome Classify judges. The session must be new for this case.
func Execute(ctx context.Context, st *Suite, c *Case, s *Session, epoch time.Time) results.Case {
	start := time.Now()
	rc := results.Case{
		ID:         st.FullID(c),
		Suite:      st.Name,
		Title:      c.Title,
		References: c.References,
	}
	rc.Verdict, rc.Reason = decide(ctx, c, s)
	end := time.Now()
	rc.Evidence = s.refs
	rc.Timing = results.Timing{
		Started:     start.UTC(),
		Finished:    end.UTC(),
		StartMonoNs: start.Sub(epoch).Nanoseconds(),
		DurationNs:  end.Sub(start).Nanoseconds(),
	}
	return rc
}

func decide(ctx context.Context, c *Case, s *Session) (results.Verdict, string) {
	if v, reason, decided := Decided(ctx, c, s); decided {
		return v, reason
	}
	return Classify(body(ctx, c, s))
}

// Decided reports a verdict that is known before the body runs: NOT_RUN
// when ctx is done, NOT_APPLICABLE from the declarations, INCONCLUSIVE or
// ERROR for something the case needs and the fixture lacks. The runner asks
// it first, so it does not boot a device for a case that will not run.
func Decided(ctx context.Context, c *Case, s *Session) (v results.Verdict, reason string, decided bool) {
	if ctx.Err() != nil {
		return results.NotRun, "cancelled before the case started", true
	}
	if c.Applies != nil && s.Declarations != nil {
		if ok, reason := c.Applies(s.Declarations); !ok {
			if reason == "" {
				return results.Error, fmt.Sprintf("%s fault: not applicable without a reason", PartySuite), true
			}
			return results.NotApplicable, reason, true
		}
	}
	return lacks(c.Needs, s)
}

// lacks reports the first thing the case needs that the fixture does not
// have. A missing button, service or image is INCONCLUSIVE (the device may
// be fine; this bench cannot show it); a procedure the profile lacks is the
// configuration's fault.
func lacks(n Needs, s *Session) (results.Verdict, string, bool) {
	if n.Button && s.Button == nil {
		return results.Inconclusive, "the case presses the reset button, and this fixture has no button line (bench file: button.line)", true
	}
	for _, svc := range n.Services {
		if s.Fixture == nil || s.Fixture.Network == nil || s.Fixture.Network.Addr(svc) == "" {
			return results.Inconclusive, fmt.Sprintf("the case needs the device's %s service, and this fixture lists none (bench file: network.ports.%s)", svc, svc), true
		}
	}
	for _, role := range n.Images {
		if s.Images[role] == "" {
			return results.Inconclusive, fmt.Sprintf("the case needs a firmware image in the role %q, and the run was given none", role), true
		}
	}
	var missing []string
	for _, p := range n.Procedures {
		if s.Profile == nil {
			missing = append(missing, p)
			continue
		}
		if _, err := s.Profile.Procedure(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return results.Error, fmt.Sprintf("%s fault: the profile has no procedure %s, which the case needs: add it to the profile",
			PartyConfig, strings.Join(missing, ", ")), true
	}
	return "", "", false
}

// body runs the case's body, turning a statement (a stop panic) back into
// an outcome and keeping any other panic's stack as evidence.
func body(ctx context.Context, c *Case, s *Session) (o Outcome) {
	defer func() {
		o.Checks, o.Stated = s.checks, s.stated
		o.Cancelled = ctx.Err() != nil
		r := recover()
		if r == nil {
			return
		}
		if _, ok := r.(stop); ok {
			return
		}
		o.Panic = r
		if s.Evidence != nil {
			name := "panic-" + c.ID + ".txt"
			text := fmt.Sprintf("panic: %v\n\n%s", r, debug.Stack())
			if err := s.Evidence.AddEvidence(name, results.KindAttachment, []byte(text)); err == nil {
				s.refs = append(s.refs, results.EvidenceRef{Path: "evidence/" + name, Note: "the suite's panic and its stack"})
			}
		}
	}()
	o.Err = c.Body(ctx, s)
	return o
}
