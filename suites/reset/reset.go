package reset

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/onsi/gomega"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/network"
	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/results"
	"github.com/certbench/certbench/suites/suite"
)

// Suite is the factory-reset suite.
var Suite = &suite.Suite{
	Name:  "factory-reset",
	Title: "A factory reset erases user data and returns the unit to its set-up state",
	Cases: []*suite.Case{Console, Button, Web},
}

var refs = results.References{
	EN303645: []string{"5.11-1", "5.1-1"},
	TS103701: []string{"5.11-1-2a", "5.11-1-2b", "5.11-1-2c", "5.1-1-2b"},
	PSTI:     []string{"1"},
	EN18031:  []string{"DLM-1"},
	CRA:      []string{"I(2)(b)", "I(2)(m)"},
}

// needs are the profile procedures every case calls.
var needs = []string{"create-user-data", "read-version", "login"}

// Console tests every deletion function the declarations give as a console
// command.
var Console = &suite.Case{
	ID:         "console-reset-erases-user-data",
	Title:      "Each declared console deletion function erases user data and returns the unit to its set-up state",
	References: refs,
	Needs:      suite.Needs{Procedures: needs},
	Start:      suite.Off,
	Applies:    declared("console"),
	Body:       func(ctx context.Context, s *suite.Session) error { return run(ctx, s, "console") },
}

// Button tests every deletion function the declarations give as a held
// reset button. A fixture without a button line cannot: INCONCLUSIVE,
// naming the functions left untested.
var Button = &suite.Case{
	ID:         "button-reset-erases-user-data",
	Title:      "Each declared button deletion function erases user data and returns the unit to its set-up state",
	References: refs,
	Needs:      suite.Needs{Procedures: needs},
	Start:      suite.Off,
	Applies:    declared("button"),
	Body:       func(ctx context.Context, s *suite.Session) error { return run(ctx, s, "button") },
}

// Web stands for the deletion functions the declarations give as a web
// page. The bench cannot trigger one yet (the profile format has no web
// steps), so a product that declares one gets INCONCLUSIVE naming it,
// never a PASS that tested nothing.
var Web = &suite.Case{
	ID:         "web-reset-erases-user-data",
	Title:      "Each declared web deletion function erases user data and returns the unit to its set-up state",
	References: refs,
	Start:      suite.Any,
	Applies:    declared("web"),
	Body: func(ctx context.Context, s *suite.Session) error {
		if s.Declarations == nil {
			return suite.Config(errors.New("the fixture has no declarations: the case takes its deletion functions from them"))
		}
		s.Inconclusive(fmt.Sprintf("the declarations list the web deletion function%s %s, and the bench cannot trigger a web deletion function yet",
			plural(len(functions(s.Declarations, "web"))), names(functions(s.Declarations, "web"))))
		return nil
	},
}

// declared applies a case when the declarations list a deletion function
// of its method.
func declared(method string) func(*fixtures.Declarations) (bool, string) {
	return func(d *fixtures.Declarations) (bool, string) {
		if p, ok := d.Provision("5.11-1"); ok && p.Support == fixtures.NotApplicable {
			return false, "the declarations state 5.11-1 is not applicable: " + p.Justification
		}
		if len(functions(d, method)) == 0 {
			return false, fmt.Sprintf("the declarations list no %s deletion function (deletion[].method: %s)", method, method)
		}
		return true, ""
	}
}

func functions(d *fixtures.Declarations, method string) []fixtures.DeletionFunction {
	var fs []fixtures.DeletionFunction
	for _, f := range d.Deletion {
		if f.Method == method {
			fs = append(fs, f)
		}
	}
	return fs
}

func names(fs []fixtures.DeletionFunction) string {
	var q []string
	for _, f := range fs {
		q = append(q, fmt.Sprintf("%q", f.Name))
	}
	return strings.Join(q, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// describe names a function as a report's reader knows it.
func describe(f fixtures.DeletionFunction) string {
	switch f.Method {
	case "console":
		return fmt.Sprintf("console deletion function %q (%s)", f.Name, f.Command)
	case "button":
		return fmt.Sprintf("button deletion function %q (held %s)", f.Name, f.Hold)
	}
	return fmt.Sprintf("%s deletion function %q", f.Method, f.Name)
}

// watcher is a console that watches for patterns without consuming them
// (*console.Console): the set-up prompt a reset ends on must stay unread
// for the login or set-password procedure that answers it.
type watcher interface {
	Watch(patterns ...console.Pattern) *console.Watch
}

// marker is a console that can end what earlier output may answer
// (*console.Console).
type marker interface{ Mark(reason string) }

// unit is what a case knows about its device while it runs.
type unit struct {
	s      *suite.Session
	w      watcher
	user   string // the account the bench logs in with
	setup  bool   // passwords are user_defined: the set-up state asks for one
	admin  string // that account's password now
	boot   time.Duration
	short  time.Duration
	login  console.Pattern
	shellP console.Pattern
	newPwd console.Pattern
	hasNew bool // the profile has a new_password prompt
}

func run(ctx context.Context, s *suite.Session, method string) error {
	if s.Declarations == nil {
		return suite.Config(errors.New("the fixture has no declarations: the case takes its deletion functions from them"))
	}
	fs := functions(s.Declarations, method)
	if method == "button" && s.Button == nil {
		s.Inconclusive(fmt.Sprintf("the declarations list the button deletion function%s %s, and this fixture has no button line to hold (bench file: button.line)",
			plural(len(fs)), names(fs)))
	}
	u, err := newUnit(s)
	if err != nil {
		return err
	}
	if err := u.start(ctx); err != nil {
		return err
	}
	for _, f := range fs {
		if err := u.test(ctx, f); err != nil {
			return fmt.Errorf("%s: %w", describe(f), err)
		}
	}
	if u.setup {
		// Leave the unit as the next case expects a user-set unit: in its
		// set-up state, with no password the next case cannot know.
		if err := u.leaveInSetup(ctx, fs[len(fs)-1]); err != nil {
			return fmt.Errorf("leave the unit in its set-up state: %w", err)
		}
	}
	return nil
}

func newUnit(s *suite.Session) (*unit, error) {
	w, ok := s.Console.(watcher)
	if !ok {
		return nil, suite.Bench(errors.New("the console cannot watch for a prompt without reading it"))
	}
	p := s.Profile.Prompts
	if p.Login.IsZero() || p.LoginFailed.IsZero() || p.Shell.IsZero() {
		return nil, suite.Config(fmt.Errorf("profile %s: the factory-reset cases need the login, login_failed and shell prompts", s.Profile.Path))
	}
	u := &unit{s: s, w: w, login: pattern(p.Login), shellP: pattern(p.Shell)}
	mech, ok := uartPasswords(s.Declarations)
	if !ok {
		return nil, suite.Config(fmt.Errorf("declarations %s: no password mechanism guards the uart with a user name: the case cannot log in", s.Declarations.Path))
	}
	u.user = mech.Users[0]
	u.setup = mech.Passwords == "user_defined"
	if u.setup {
		if p.NewPassword.IsZero() {
			return nil, suite.Config(fmt.Errorf("profile %s: the declarations say passwords are user_defined, and the profile has no new_password prompt to see the unit ask for one", s.Profile.Path))
		}
		if _, err := s.Profile.Procedure("set-password"); err != nil {
			return nil, suite.Config(fmt.Errorf("the declarations say passwords are user_defined: %w: add a set-password procedure (params: [password])", err))
		}
	} else if s.Label.Password == "" {
		return nil, suite.Config(errors.New("the unit's password is pre-installed and the bench file gives no label password (label.password)"))
	}
	if !p.NewPassword.IsZero() {
		u.newPwd, u.hasNew = pattern(p.NewPassword), true
	}
	u.boot = s.Procedures.Timeout(bootTimeout(s.Profile))
	u.short = s.Procedures.Timeout(s.Profile.Timeout)
	return u, nil
}

// uartPasswords is the password mechanism guarding the console, the one
// the cases log in through.
func uartPasswords(d *fixtures.Declarations) (fixtures.AuthMechanism, bool) {
	for _, a := range d.Auth {
		if (a.Kind == "" || a.Kind == "password") && slices.Contains(a.Interfaces, "uart") && len(a.Users) > 0 {
			return a, true
		}
	}
	return fixtures.AuthMechanism{}, false
}

// setupPatterns are the prompts a unit shows when it is ready for a user:
// the login prompt, and (when the profile has it) the request for a new
// password.
func (u *unit) setupPatterns() []console.Pattern {
	ps := []console.Pattern{u.login}
	if u.hasNew {
		ps = append(ps, u.newPwd)
	}
	return ps
}

// await runs trigger and waits, within limit, for a set-up prompt the
// trigger leads to, leaving it unread. It returns which prompt (0 login,
// 1 new password), or -1 when none came in time.
func (u *unit) await(ctx context.Context, limit time.Duration, trigger func() error) (int, error) {
	w := u.w.Watch(u.setupPatterns()...)
	defer w.Stop()
	if err := trigger(); err != nil {
		return 0, err
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-w.Fired():
		return w.Stop().Index, nil
	case <-w.Broken():
		return 0, w.Err()
	case <-t.C:
		return -1, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// start powers the unit on and logs in: with the label's password, or on a
// user-set unit by setting a fresh one in its set-up state.
//
// The runner has just switched the unit off, and the boot before may have
// been printing its prompt at that instant: those bytes can reach the
// console after the mark below, and a login that answered them would type
// its user name into the new boot's bootloader. So when the profile has an
// identify procedure the case reads the new boot's banner with it first:
// the prompt that answers the login comes after that banner.
func (u *unit) start(ctx context.Context) error {
	s := u.s
	if m, ok := s.Console.(marker); ok {
		m.Mark("factory-reset: power on: output before this is the last boot's")
	}
	if _, err := s.Profile.Procedure("identify"); err == nil {
		if err := s.Power.On(ctx); err != nil {
			return err
		}
		if _, err := s.Procedures.Run(ctx, "identify", nil); err != nil {
			return fmt.Errorf("power on: read the boot banner: %w", err)
		}
		if u.setup {
			if err := u.setPassword(ctx); err != nil {
				return fmt.Errorf("power on: a unit whose passwords are user-defined must start in its set-up state, asking for one (reset or reflash it if it holds a password): %w", err)
			}
			return u.shell(ctx, u.user, u.admin)
		}
		u.admin = s.Label.Password
		// The prompt after the banner: a login prompt, read here and asked
		// for again with an empty line (a getty prompts again for an empty
		// user name), or a shell no login guards.
		m, err := s.Console.Expect(ctx, u.boot, u.login, u.shellP)
		if err != nil {
			return fmt.Errorf("power on: wait for the login prompt: %w", err)
		}
		if m.Index == 1 {
			s.Fail("the console gave a shell prompt %q at power-on without any login: the unit has no authenticated state for a reset to return it to (5.1-1)", m.Text)
		}
		if err := s.Console.SendLine(ctx, ""); err != nil {
			return err
		}
		return u.shell(ctx, u.user, u.admin)
	}
	i, err := u.await(ctx, u.boot, func() error { return s.Power.On(ctx) })
	if err != nil {
		return err
	}
	switch {
	case i < 0:
		return fmt.Errorf("power on: no login prompt within %s (the login procedure's first wait)", u.boot)
	case u.setup && i == 0:
		s.Inconclusive("the unit's passwords are user-defined, and it booted to a login prompt, not its set-up state: it holds a password the bench does not know (reset or reflash it, then run again)")
	case !u.setup && i == 1:
		return fmt.Errorf("the declarations say the password is pre-installed, and the unit asked for a new one at power-on")
	}
	if u.setup {
		if err := u.setPassword(ctx); err != nil {
			return err
		}
	} else {
		u.admin = s.Label.Password
	}
	return u.shell(ctx, u.user, u.admin)
}

func (u *unit) setPassword(ctx context.Context) error {
	pw, err := random("cbadmin")
	if err != nil {
		return err
	}
	res, err := u.s.Procedures.Run(ctx, "set-password", map[string]string{"password": pw})
	if err != nil {
		return fmt.Errorf("set the first password: %w", err)
	}
	if res.Vars["set"] == "" {
		return fmt.Errorf("set the first password: the unit refused it: %s", res.Vars["refused"])
	}
	u.admin = pw
	return nil
}

// shell logs in, and must reach a shell.
func (u *unit) shell(ctx context.Context, user, password string) error {
	res, err := u.s.Procedures.Run(ctx, "login", map[string]string{"user": user, "password": password})
	if err != nil {
		return fmt.Errorf("log in as %s: %w", user, err)
	}
	if res.Prompt != "shell" {
		return fmt.Errorf("log in as %s: the unit answered its %s prompt, not a shell", user, res.Prompt)
	}
	return nil
}

// test runs one deletion function through TS 103 701 5.11-1-2: (a) seed
// user data, (b) trigger the function as a user would, (c) look for
// residue, and check the unit is back in its set-up state on the same
// firmware, with every old credential refused. It starts and ends with the
// unit on: logged in at the start, at a login prompt at the end.
func (u *unit) test(ctx context.Context, f fixtures.DeletionFunction) error {
	s := u.s
	what := describe(f)
	cs, err := newCanaries()
	if err != nil {
		return err
	}
	// (a) user data, each value fresh for this run.
	res, err := s.Procedures.Run(ctx, "create-user-data", cs.args())
	if err != nil {
		return fmt.Errorf("create user data: %w", err)
	}
	if res.Vars["refused"] != "" {
		return fmt.Errorf("create user data: the unit refused the account %s: %s", cs.get("user"), res.Vars["refused"])
	}
	before, err := u.inspect(ctx, f, "before")
	if err != nil {
		return err
	}
	seen := cs.visible(before)
	v0, err := u.version(ctx)
	if err != nil {
		return fmt.Errorf("before the reset: %w", err)
	}

	// (b) the function, as a user triggers it.
	trigger := func() error { return s.Console.SendLine(ctx, f.Command) }
	if f.Method == "button" {
		// A user holds a little longer than the manual says: exactly the
		// declared time would race the unit's own timer at its edge.
		// The declared hold is the device's time as the declarations state
		// it (a simulated lab writes its declarations in its own time), so
		// it is not scaled again.
		hold := f.Hold + f.Hold/5
		trigger = func() error {
			s.Console.Note(fmt.Sprintf("factory-reset: holding the reset button %s (%s declared, a fifth more)", hold, f.Hold))
			return s.Button.Hold(ctx, hold)
		}
	} else {
		s.Console.Note(fmt.Sprintf("factory-reset: typing the declared command %q", f.Command))
	}
	i, err := u.await(ctx, u.boot, trigger)
	if err != nil {
		return fmt.Errorf("trigger: %w", err)
	}
	switch {
	case i < 0:
		s.Fail("%s: the unit did not come back to its set-up state (no login or new-password prompt) within %s, the profile's boot time", what, u.boot)
	case u.setup && i == 0:
		s.Fail("%s: the unit came back to a login prompt without asking for a new password: its passwords are user-defined, so the reset must make the user set one before use (5.1-1)", what)
	}
	s.Checked(what + ": the unit came back to its set-up state")

	// Into the reset unit: a user-set unit takes a new password first.
	oldAdmin := u.admin
	if i == 1 {
		if err := u.setPassword(ctx); err != nil {
			return fmt.Errorf("after the reset: %w", err)
		}
		s.Checked(what + ": the unit demanded a new password before use")
	}
	res, err = s.Procedures.Run(ctx, "login", map[string]string{"user": u.user, "password": u.admin})
	if err != nil {
		return fmt.Errorf("after the reset: log in as %s: %w", u.user, err)
	}
	if res.Prompt != "shell" {
		if u.setup {
			return fmt.Errorf("after the reset: log in as %s with the password just set: the unit answered its %s prompt", u.user, res.Prompt)
		}
		s.Fail("%s: after the reset the label's password for %s is refused (the unit answered its %s prompt): the reset did not restore the factory credentials", what, u.user, res.Prompt)
	}

	// (c) residue.
	after, err := u.inspect(ctx, f, "after")
	if err != nil {
		return err
	}
	var left []string
	for _, c := range cs {
		in := after.where(c.Value)
		if len(in) == 0 {
			continue
		}
		if !slices.Contains(f.Erases, c.Kind) {
			s.Console.Note(fmt.Sprintf("factory-reset: %s: the %s value %s (%s) is left after the reset; the function does not declare it erases %s",
				what, c.Param, c.Value, c.Kind, c.Kind))
			continue
		}
		left = append(left, fmt.Sprintf("the %s's %s %s in the output of %s", kindWords[c.Kind], c.Param, c.Value, commandList(s.Profile, in)))
	}
	if len(left) > 0 {
		s.Fail("%s: after the reset the user data the bench seeded still shows, of kinds the function declares it erases (%s): %s",
			what, strings.Join(f.Erases, ", "), strings.Join(left, "; "))
	}
	s.Checked(fmt.Sprintf("%s: none of the seeded values shows in the output of %s after the reset", what, commandList(s.Profile, sortedKeys(after))))
	v1, err := u.version(ctx)
	if err != nil {
		return fmt.Errorf("after the reset: %w", err)
	}
	s.Expect(v1).To(gomega.Equal(v0), "%s: the firmware version was %s before the reset and is %s after it: a reset must not change the firmware", what, v0, v1)

	// Old credentials: the seeded account, and a user-set unit's old
	// password: on telnet when the unit has it, then on the console (out
	// of the shell, then each at the login prompt).
	old := [][2]string{{cs.get("user"), cs.get("password")}}
	if u.setup {
		old = append(old, [2]string{u.user, oldAdmin})
	}
	if err := u.telnet(ctx, what, old); err != nil {
		return err
	}
	if err := s.Console.SendLine(ctx, "exit"); err != nil {
		return err
	}
	for _, cr := range old {
		res, err := s.Procedures.Run(ctx, "login", map[string]string{"user": cr[0], "password": cr[1]})
		if err != nil {
			return fmt.Errorf("after the reset: try the old password of %s: %w", cr[0], err)
		}
		switch res.Prompt {
		case "login_failed":
			s.Checked(fmt.Sprintf("%s: the old password of %s is refused on the console after the reset", what, cr[0]))
		case "shell":
			s.Fail("%s: after the reset the account %s still logs in on the console with the password set before it", what, cr[0])
		default:
			s.Inconclusive(fmt.Sprintf("%s: after the reset the unit answered the old password of %s with its %s prompt, not a refusal: the bench cannot tell whether it would work", what, cr[0], res.Prompt))
		}
	}

	// What the function declares it erases and the bench could not see.
	for _, k := range f.Erases {
		switch {
		case k == "accounts":
			// shown by the refused login above
		case k == "settings":
			s.Console.Note(fmt.Sprintf("factory-reset: %s: declares it erases settings; the profile's create-user-data seeds none, so this is not checked", what))
		case !seen[k]:
			s.Inconclusive(fmt.Sprintf("%s declares it erases %s, and none of the %s the bench seeded showed in the output of the profile's commands (%s) even before the reset: its erasure cannot be seen (add a command that shows it to the profile's commands)",
				what, k, kindWords[k], commandList(s.Profile, sortedKeys(before))))
		}
	}
	if len(seen) > 0 {
		s.Checked(fmt.Sprintf("%s: the seeded %s showed before the reset", what, strings.Join(sortedKeys(seen), ", ")))
	}
	// Log back in for the next function.
	return u.shell(ctx, u.user, u.admin)
}

// telnet tries each old credential over telnet, when the declarations
// say a password mechanism guards telnet and the fixture lists the
// service: each must be refused.
func (u *unit) telnet(ctx context.Context, what string, old [][2]string) error {
	s := u.s
	mech, ok := uartPasswords(s.Declarations)
	if !ok || !slices.Contains(mech.Interfaces, "telnet") || s.Fixture == nil || s.Fixture.Network == nil || s.Fixture.Network.Addr("telnet") == "" {
		s.Console.Note("factory-reset: " + what + ": old credentials not tried on telnet (the declarations' console mechanism does not guard it, or the fixture lists no telnet service)")
		return nil
	}
	p := s.Profile.Prompts
	t := &network.Telnet{
		Addr: s.Fixture.Network.Addr("telnet"),
		Prompts: network.Prompts{Login: regexpOf(p.Login), Password: regexpOf(p.Password), Shell: regexpOf(p.Shell),
			Failed: regexpOf(p.LoginFailed), Lockout: regexpOf(p.Lockout)},
		Newline: s.Profile.Newline,
		Timeout: u.short,
	}
	for _, cr := range old {
		err := t.Login(ctx, cr[0], cr[1])
		switch {
		case errors.Is(err, network.ErrDenied):
			s.Checked(fmt.Sprintf("%s: the old password of %s is refused on telnet (%s) after the reset", what, cr[0], t.Addr))
		case err == nil:
			s.Fail("%s: after the reset the account %s still logs in on telnet (%s) with the password set before it", what, cr[0], t.Addr)
		case errors.Is(err, network.ErrLocked):
			s.Inconclusive(fmt.Sprintf("%s: after the reset telnet answered the old password of %s with a lockout, not a refusal: the bench cannot tell whether it would work", what, cr[0]))
		default:
			return fmt.Errorf("after the reset: try the old password of %s on telnet: %w", cr[0], err)
		}
	}
	return nil
}

// regexpOf is a profile prompt as the network drivers take it: nil when
// unset, a literal quoted.
func regexpOf(p fixtures.Pattern) *regexp.Regexp {
	switch {
	case p.IsZero():
		return nil
	case p.Literal:
		return regexp.MustCompile(regexp.QuoteMeta(p.Expr))
	}
	return regexp.MustCompile(p.Expr) // the profile loaded: its patterns compile
}

// leaveInSetup triggers f once more, unjudged, from the login prompt or
// shell the last test left, so a user-set unit ends the case in its set-up
// state.
func (u *unit) leaveInSetup(ctx context.Context, f fixtures.DeletionFunction) error {
	trigger := func() error { return u.s.Console.SendLine(ctx, f.Command) }
	if f.Method == "button" {
		trigger = func() error { return u.s.Button.Hold(ctx, f.Hold+f.Hold/5) }
	}
	u.s.Console.Note("factory-reset: once more, unjudged, to leave the user-set unit in its set-up state")
	i, err := u.await(ctx, u.boot, trigger)
	if err != nil {
		return err
	}
	if i != 1 {
		return fmt.Errorf("no new-password prompt within %s", u.boot)
	}
	return nil
}

// reUnsafe is what an evidence file name may not hold of a function's name.
var reUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

var kindWords = map[string]string{
	"accounts":   "account",
	"wifi":       "Wi-Fi network",
	"pairing":    "paired app",
	"user_files": "user file",
	"logs":       "log line",
}

// inspect runs each of the profile's commands at the shell and keeps their
// output as evidence (when, "before" or "after", names the file).
func (u *unit) inspect(ctx context.Context, f fixtures.DeletionFunction, when string) (outputs, error) {
	s := u.s
	o := outputs{}
	var text strings.Builder
	for _, name := range sortedKeys(s.Profile.Commands) {
		cmd := s.Profile.Commands[name]
		r, err := s.Console.Run(ctx, cmd, u.short)
		if err != nil {
			return nil, fmt.Errorf("inspect %s the reset: run %s (%q): %w", when, name, cmd, err)
		}
		o[name] = r.Output
		fmt.Fprintf(&text, "$ %s    # %s, exit status %d\n%s\n", cmd, name, r.Status, r.Output)
	}
	if s.Evidence != nil {
		file := fmt.Sprintf("factory-reset-%s-%s.txt", reUnsafe.ReplaceAllString(strings.ToLower(f.Name), "-"), when)
		if err := s.Evidence.AddEvidence(file, results.KindAttachment, []byte(text.String())); err != nil {
			return nil, suite.Bench(fmt.Errorf("keep the inspection %s the reset: %w", when, err))
		}
		s.Cite(results.EvidenceRef{Path: "evidence/" + file, Note: fmt.Sprintf("the profile's commands %s %s", when, describe(f))})
	}
	return o, nil
}

func (u *unit) version(ctx context.Context) (string, error) {
	res, err := u.s.Procedures.Run(ctx, "read-version", nil)
	if err != nil {
		return "", fmt.Errorf("read the firmware version: %w", err)
	}
	v := res.Vars["version"]
	if v == "" {
		return "", suite.Config(fmt.Errorf("profile %s: read-version sets no version variable", u.s.Profile.Path))
	}
	return v, nil
}

func commandList(p *fixtures.Profile, names []string) string {
	var q []string
	for _, n := range names {
		q = append(q, fmt.Sprintf("%q", p.Commands[n]))
	}
	return strings.Join(q, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func pattern(p fixtures.Pattern) console.Pattern {
	if p.Literal {
		return console.Literal(p.Expr)
	}
	return console.MustRegexp(p.Expr) // the profile loaded: its patterns compile
}

// bootTimeout is how long the profile lets a boot take: its login
// procedure's first wait, else its default. A factory reset ends in a
// boot, and the declarations give no time of their own for it.
func bootTimeout(p *fixtures.Profile) time.Duration {
	if p.Login != nil && len(p.Login.Steps) > 0 && p.Login.Steps[0].Kind == fixtures.Expect {
		return p.Login.Steps[0].Timeout
	}
	return p.Timeout
}
