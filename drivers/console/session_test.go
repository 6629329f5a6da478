package console_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/drivers/console"
	"github.com/certbench/certbench/drivers/console/consoletest"
)

var prompts = console.Prompts{
	Login:    console.MustRegexp(`\S+ login: `),
	Password: console.Literal("Password: "),
	Shell:    console.MustRegexp(`[#$] $`),
	Failed:   console.Literal("Login incorrect"),
	Lockout:  console.MustRegexp(`(?i)account locked`),
}

// loginDevice plays a getty: it prints the prompt, reads the user name
// (echoing it) and the password (not echoed), then answers as told.
func loginDevice(far *consoletest.Far, answer string, askPassword bool) <-chan error {
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			far.Write("\r\nWelcome to Buildroot\r\ncam-1 login: ")
			user, err := far.ReadLine(guard)
			if err != nil {
				return err
			}
			far.Write(user + "\r\n")
			if askPassword {
				far.Write("Password: ")
				if _, err := far.ReadLine(guard); err != nil {
					return err
				}
				far.Write("\r\n")
			}
			far.Write(answer)
			return nil
		}()
	}()
	return errc
}

func TestLoginOutcomes(t *testing.T) {
	for _, c := range []struct {
		name    string
		answer  string
		ask     bool
		timeout time.Duration
		want    error
	}{
		{"success", "BusyBox v1.36\r\n# ", true, guard, nil},
		{"no password asked", "# ", false, guard, nil},
		{"incorrect", "\r\nLogin incorrect\r\ncam-1 login: ", true, guard, console.ErrLoginIncorrect},
		{"prompt comes back", "\r\ncam-1 login: ", true, guard, console.ErrLoginIncorrect},
		{"lockout", "Account locked: too many failures\r\n", true, guard, console.ErrLockedOut},
		{"silence", "", true, 100 * time.Millisecond, console.ErrTimeout},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := openPTY(t, console.Config{Prompts: prompts})
			far := l.far()
			dev := loginDevice(far, c.answer, c.ask)
			err := l.c.Login(ctx, "root", "hunter2", c.timeout)
			if derr := <-dev; derr != nil {
				t.Fatalf("device: %v", derr)
			}
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Login: %v, want %v", err, c.want)
			}
			for _, other := range []error{console.ErrLoginIncorrect, console.ErrLockedOut, console.ErrTimeout, console.ErrLost} {
				if other != c.want && errors.Is(err, other) {
					t.Fatalf("Login error %v is also %v: outcomes must not blur", err, other)
				}
			}
			if c.ask && !strings.Contains(far.Received(), "root\nhunter2\n") {
				t.Fatalf("device received %q", far.Received())
			}
		})
	}
}

func TestLoginAnswersTheLastQueuedPrompt(t *testing.T) {
	l := openPTY(t, console.Config{Prompts: prompts})
	far := l.far()
	far.Write("cam-1 login: \r\ncam-1 login: ") // someone pressed enter twice
	dev := loginDevice(far, "# ", true)
	if err := l.c.Login(ctx, "root", "pw", guard); err != nil {
		t.Fatalf("%v; transcript:\n%s", err, l.tr)
	}
	if err := <-dev; err != nil {
		t.Fatal(err)
	}
}

// shellDevice plays a shell: each line it gets is echoed, run against a
// table of canned commands, and answered with the marker's expansion and
// a prompt.
func shellDevice(t *testing.T, far *consoletest.Far, n int) <-chan error {
	marker := regexp.MustCompile(`^(.*?)(?:; | )?echo __CB_''([0-9a-f]+)_\$\?__$`)
	commands := map[string]struct {
		out    string
		status int
	}{
		"cat /etc/motd": {"Welcome!\r\nroot@cam-1:~# this line looks like a prompt\r\n__CB_000000000000_0__\r\n# \r\n", 0},
		"false":         {"", 1},
		"printf abc":    {"abc", 0},
		"ls /nope":      {"ls: /nope: No such file or directory\r\n", 2},
		"sleep 1 &":     {"[1] 123\r\n", 0},
	}
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			far.Write("# ")
			for range n {
				line, err := far.ReadLine(guard)
				if err != nil {
					return err
				}
				// The echo shows the command line as typed, marker
				// included, wrapped in ANSI like some shells do.
				far.Write("\x1b[1m" + line + "\x1b[0m\r\n")
				m := marker.FindStringSubmatch(line)
				if m == nil {
					return fmt.Errorf("unexpected line %q", line)
				}
				c, ok := commands[m[1]]
				if !ok {
					return fmt.Errorf("unknown command %q", m[1])
				}
				far.Write(c.out)
				far.Write(fmt.Sprintf("__CB_%s_%d__\r\n# ", m[2], c.status))
			}
			return nil
		}()
	}()
	return errc
}

func TestRunOutputAndStatus(t *testing.T) {
	both(t, console.Config{Prompts: prompts}, func(t *testing.T, l *link) {
		dev := shellDevice(t, l.far(), 5)
		if _, err := l.c.Expect(ctx, guard, prompts.Shell); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			cmd    string
			out    string
			status int
		}{
			{"cat /etc/motd", "Welcome!\nroot@cam-1:~# this line looks like a prompt\n__CB_000000000000_0__\n# ", 0},
			{"false", "", 1},
			{"printf abc", "abc", 0},
			{"ls /nope", "ls: /nope: No such file or directory", 2},
			{"sleep 1 &", "[1] 123", 0},
		} {
			res, err := l.c.Run(ctx, c.cmd, guard)
			if err != nil {
				t.Fatalf("run %q: %v", c.cmd, err)
			}
			if res.Output != c.out || res.Status != c.status {
				t.Fatalf("run %q: output %q status %d; want %q %d", c.cmd, res.Output, res.Status, c.out, c.status)
			}
		}
		if err := <-dev; err != nil {
			t.Fatalf("device: %v", err)
		}
	})
}

func TestRunRejectsMultiLine(t *testing.T) {
	l := openPTY(t, console.Config{Prompts: prompts})
	if _, err := l.c.Run(ctx, "ls\nreboot", guard); err == nil || !strings.Contains(err.Error(), "one line") {
		t.Fatalf("want a one-line error, got %v", err)
	}
	if got := l.far().Received(); got != "" {
		t.Fatalf("nothing should be sent, device got %q", got)
	}
}

func TestRunTimeoutCoversTheSend(t *testing.T) {
	// Sending the command line one byte every 2ms takes longer than the
	// whole timeout; the wait for the marker must still end in time, not
	// run unbounded because the time left came out negative.
	l := openTCP(t, console.Config{Prompts: prompts, CharDelay: 2 * time.Millisecond})
	far := l.far()
	cctx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	_, err := l.c.Run(cctx, "cat /etc/version", 20*time.Millisecond)
	var te *console.TimeoutError
	if !errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrTimeout from the marker wait, got %v", err)
	}
	if te.After < 20*time.Millisecond {
		t.Fatalf("the timeout should say how long Run took, sending included, not %v: %v", te.After, err)
	}
	far.Expect("cat /etc/version; echo __CB_")
}

func TestLoginAndRunRefuseNoTimeout(t *testing.T) {
	l := openTCP(t, console.Config{Prompts: prompts})
	ctx, cancel := context.WithTimeout(ctx, guard)
	defer cancel()
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := l.c.Run(ctx, "true", d); err == nil || errors.Is(err, console.ErrTimeout) || !strings.Contains(err.Error(), "positive") {
			t.Fatalf("Run with timeout %v: want a usage error, got %v", d, err)
		}
		if err := l.c.Login(ctx, "root", "pw", d); err == nil || errors.Is(err, console.ErrTimeout) || !strings.Contains(err.Error(), "positive") {
			t.Fatalf("Login with timeout %v: want a usage error, got %v", d, err)
		}
	}
	if got := l.far().Received(); got != "" {
		t.Fatalf("nothing should be sent, device got %q", got)
	}
}
