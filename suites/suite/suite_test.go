package suite_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/power"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites/suite"
)

var refs = results.References{EN303645: []string{"5.6-4A"}, TS103701: []string{"5.6-4-2"}, EN18031: []string{"GEC-5"}, CRA: []string{"I(2)(j)"}}

// evidence keeps what a case added, as a run's evidence folder would.
type evidence map[string][]byte

func (e evidence) AddEvidence(name string, _ results.Kind, data []byte) error {
	e[name] = data
	return nil
}

type button struct{}

func (button) Press(context.Context) error               { return nil }
func (button) Hold(context.Context, time.Duration) error { return nil }

func run(t *testing.T, c *suite.Case, s *suite.Session) results.Case {
	t.Helper()
	st := &suite.Suite{Name: "demo", Title: "Demo", Cases: []*suite.Case{c}}
	if err := st.Validate(); err != nil {
		t.Fatalf("suite does not validate: %v", err)
	}
	if s.Evidence == nil {
		s.Evidence = evidence{}
	}
	return suite.Execute(context.Background(), st, c, s, time.Now())
}

func newCase(body func(context.Context, *suite.Session) error) *suite.Case {
	return &suite.Case{ID: "uart-shell", Title: "UART shell needs authentication", References: refs, Start: suite.Booted, Body: body}
}

func TestVerdicts(t *testing.T) {
	lost := fmt.Errorf("read prompt: %w", &console.LostError{Console: "cam-1", Cause: errors.New("EIO")})
	tests := []struct {
		name   string
		body   func(context.Context, *suite.Session) error
		want   results.Verdict
		reason string // a substring of the reason
	}{
		{"checked and returned nil", func(_ context.Context, s *suite.Session) error {
			s.Expect(1).To(gomegaEqual(1))
			return nil
		}, results.Pass, ""},
		{"failed assertion", func(_ context.Context, s *suite.Session) error {
			s.Expect("# ").To(gomegaEqual("login: "), "a shell without login")
			return nil
		}, results.Fail, "a shell without login"},
		{"explicit fail stops the body", func(_ context.Context, s *suite.Session) error {
			s.Fail("root shell on %s", "UART")
			panic("not reached")
		}, results.Fail, "root shell on UART"},
		{"first statement stands", func(_ context.Context, s *suite.Session) error {
			defer s.Inconclusive("later")
			s.Fail("first")
			return nil
		}, results.Fail, "first"},
		{"not applicable", func(_ context.Context, s *suite.Session) error {
			s.NotApplicable("no UART declared")
			return nil
		}, results.NotApplicable, "no UART declared"},
		{"inconclusive", func(_ context.Context, s *suite.Session) error {
			s.Inconclusive("no older signed image supplied")
			return nil
		}, results.Inconclusive, "no older signed image"},
		{"inconclusive without a reason is the suite's bug", func(_ context.Context, s *suite.Session) error {
			s.Inconclusive("")
			return nil
		}, results.Error, "suite fault"},
		{"nothing checked is never PASS", func(context.Context, *suite.Session) error { return nil }, results.Error, "without checking anything"},
		{"lost console is the bench's", func(context.Context, *suite.Session) error { return lost }, results.Error, "bench fault"},
		{"power error is the bench's", func(context.Context, *suite.Session) error {
			return &power.Error{Switch: `fixture "cam-1"`, Action: power.ActionOn, Err: errors.New("line GPIO17: EIO")}
		}, results.Error, "bench fault: power on"},
		{"configuration fault", func(context.Context, *suite.Session) error {
			return suite.Config(errors.New("profile has no read-version command"))
		}, results.Error, "configuration fault"},
		{"unjudged timeout is the suite's, never FAIL", func(context.Context, *suite.Session) error {
			return &console.TimeoutError{Console: "cam-1", Waiting: []string{"login: "}, After: time.Second}
		}, results.Error, "suite fault"},
		{"unjudged login refusal is the suite's, never FAIL", func(context.Context, *suite.Session) error {
			return fmt.Errorf("login admin: %w", console.ErrLoginIncorrect)
		}, results.Error, "suite fault"},
		{"an error after a check is still ERROR", func(_ context.Context, s *suite.Session) error {
			s.Checked("banner read")
			return lost
		}, results.Error, "bench fault"},
		{"panic", func(_ context.Context, s *suite.Session) error {
			s.Checked("fixture " + s.Fixture.Name) // no fixture in this session: nil dereference
			return nil
		}, results.Error, "suite fault: panic: runtime error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, newCase(tt.body), &suite.Session{})
			if got.Verdict != tt.want || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("verdict %s reason %q, want %s with %q", got.Verdict, got.Reason, tt.want, tt.reason)
			}
			if got.Verdict != results.Pass && got.Verdict != results.NotRun && got.Reason == "" {
				t.Fatalf("verdict %s without a reason", got.Verdict)
			}
		})
	}
}

func TestPanicStackIsEvidence(t *testing.T) {
	ev := evidence{}
	got := run(t, newCase(func(context.Context, *suite.Session) error { panic("boom") }), &suite.Session{Evidence: ev})
	stack, ok := ev["panic-uart-shell.txt"]
	if !ok || !strings.Contains(string(stack), "panic: boom") || !strings.Contains(string(stack), "suite_test.go") {
		t.Fatalf("stack not kept as evidence: %q", stack)
	}
	if len(got.Evidence) != 1 || got.Evidence[0].Path != "evidence/panic-uart-shell.txt" {
		t.Fatalf("case does not cite its panic: %+v", got.Evidence)
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := newCase(func(ctx context.Context, s *suite.Session) error {
		s.Checked("something")
		cancel()
		<-ctx.Done()
		return fmt.Errorf("wait for prompt: %w", ctx.Err())
	})
	st := &suite.Suite{Name: "demo", Title: "Demo", Cases: []*suite.Case{c}}
	got := suite.Execute(ctx, st, c, &suite.Session{}, time.Now())
	if got.Verdict != results.NotRun {
		t.Fatalf("cancelled mid-case: %s %q, want NOT_RUN", got.Verdict, got.Reason)
	}
	got = suite.Execute(ctx, st, c, &suite.Session{}, time.Now())
	if got.Verdict != results.NotRun || !strings.Contains(got.Reason, "before the case started") {
		t.Fatalf("cancelled before: %s %q", got.Verdict, got.Reason)
	}
}

func TestApplicabilityAndNeeds(t *testing.T) {
	ran := false
	body := func(_ context.Context, s *suite.Session) error { ran = true; s.Checked("x"); return nil }
	decl := &fixtures.Declarations{Interfaces: []string{"telnet"}}

	c := newCase(body)
	c.Applies = func(d *fixtures.Declarations) (bool, string) {
		if !d.HasInterface("uart") {
			return false, "the declarations list no UART"
		}
		return true, ""
	}
	if got := run(t, c, &suite.Session{Declarations: decl}); got.Verdict != results.NotApplicable || got.Reason != "the declarations list no UART" || ran {
		t.Fatalf("not applicable: %s %q ran=%v", got.Verdict, got.Reason, ran)
	}

	c = newCase(body)
	c.Needs.Button = true
	if got := run(t, c, &suite.Session{}); got.Verdict != results.Inconclusive || !strings.Contains(got.Reason, "button") || ran {
		t.Fatalf("no button: %s %q ran=%v", got.Verdict, got.Reason, ran)
	}
	if got := run(t, c, &suite.Session{Button: button{}}); got.Verdict != results.Pass || !ran {
		t.Fatalf("with button: %s %q ran=%v", got.Verdict, got.Reason, ran)
	}

	ran = false
	c = newCase(body)
	c.Needs.Services = []string{"telnet"}
	if got := run(t, c, &suite.Session{Fixture: &fixtures.Fixture{Name: "cam-1"}}); got.Verdict != results.Inconclusive || !strings.Contains(got.Reason, "telnet") || ran {
		t.Fatalf("no telnet: %s %q ran=%v", got.Verdict, got.Reason, ran)
	}

	c = newCase(body)
	c.Needs.Images = []string{"older-signed"}
	if got := run(t, c, &suite.Session{}); got.Verdict != results.Inconclusive || !strings.Contains(got.Reason, "older-signed") || ran {
		t.Fatalf("no image: %s %q ran=%v", got.Verdict, got.Reason, ran)
	}

	c = newCase(body)
	c.Needs.Procedures = []string{"factory-reset", "create-user-data"}
	if got := run(t, c, &suite.Session{Profile: &fixtures.Profile{}}); got.Verdict != results.Error ||
		!strings.Contains(got.Reason, "configuration fault") || !strings.Contains(got.Reason, "create-user-data, factory-reset") || ran {
		t.Fatalf("no procedure: %s %q ran=%v", got.Verdict, got.Reason, ran)
	}
}

func TestTimingOnTheRunsClock(t *testing.T) {
	epoch := time.Now()
	c := newCase(func(_ context.Context, s *suite.Session) error { s.Checked("x"); return nil })
	st := &suite.Suite{Name: "demo", Title: "Demo", Cases: []*suite.Case{c}}
	got := suite.Execute(context.Background(), st, c, &suite.Session{}, epoch)
	if got.ID != "demo/uart-shell" || got.Suite != "demo" || got.Timing.StartMonoNs < 0 || got.Timing.DurationNs < 0 || got.Timing.Started.IsZero() {
		t.Fatalf("case record: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	good := newCase(func(context.Context, *suite.Session) error { return nil })
	bad := &suite.Case{ID: "Bad ID", References: results.References{EN303645: []string{"5.1"}, TS103701: []string{"5.1-1-2a,c"}}, Start: "powered"}
	st := &suite.Suite{Name: "demo", Title: "Demo", Cases: []*suite.Case{good, bad, good}}
	err := st.Validate()
	if err == nil {
		t.Fatal("a bad suite validates")
	}
	for _, want := range []string{`id must be lower-case`, `title is empty`, `no body`, `start state "powered"`, `EN 303 645 reference "5.1"`, `TS 103 701 reference "5.1-1-2a,c"`, `id used twice`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
