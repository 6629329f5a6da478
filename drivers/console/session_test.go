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

// shellDevice plays a shell: each line it gets is echoed, wrapped at 80
// columns as busybox ash wraps it ("\r\r\n" where the line reaches the
// last column, the prompt "# " counting), run against a table of canned
// commands (and echo), and answered with the markers' expansions and a
// prompt.
func shellDevice(t *testing.T, far *consoletest.Far, n int) <-chan error {
	marker := regexp.MustCompile(`^echo __CB''([0-9a-f]+)_S__; (?:(.*?)(?:; | ))?echo __CB''([0-9a-f]+)_\$\?__$`)
	commands := map[string]struct {
		out    string
		status int
	}{
		"cat /etc/motd": {"Welcome!\r\nroot@cam-1:~# this line looks like a prompt\r\n__CB_000000000000_0__\r\n# \r\n", 0},
		"false":         {"", 1},
		"printf abc":    {"abc", 0},
		"ls /nope":      {"ls: /nope: No such file or directory\r\n", 2},
		"sleep 1 &":     {"[1] 123\r\n", 0},
		"":              {"", 0},
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
				// The echo shows the command line as typed, in ANSI bold
				// as some shells do, wrapped at the last column.
				echo := "\x1b[1m"
				for i, col := 0, 2; i < len(line); i++ {
					echo += line[i : i+1]
					if col++; col == 80 {
						echo, col = echo+"\r\r\n", 0
					}
				}
				far.Write(echo + "\x1b[0m\r\n")
				m := marker.FindStringSubmatch(line)
				if m == nil || m[1] != m[3] {
					return fmt.Errorf("unexpected line %q", line)
				}
				c, ok := commands[m[2]]
				if arg, isEcho := strings.CutPrefix(m[2], "echo "); isEcho {
					c.out, ok = arg+"\r\n", true
				}
				if strings.HasPrefix(m[2], "a=") || m[2] == ":" || m[2] == "cd" {
					ok = true // assignments and no-ops print nothing
				}
				if !ok {
					return fmt.Errorf("unknown command %q", m[2])
				}
				far.Write(fmt.Sprintf("__CB%s_S__\r\n", m[1]))
				far.Write(c.out)
				far.Write(fmt.Sprintf("__CB%s_%d__\r\n# ", m[1], c.status))
			}
			return nil
		}()
	}()
	return errc
}

// lengthy returns a shell command n characters long and its output.
func lengthy(n int) (cmd, out string) {
	switch {
	case n == 1:
		return ":", ""
	case n == 2:
		return "cd", ""
	case n <= 5:
		return "a=" + strings.Repeat("1", n-2), ""
	}
	x := strings.Repeat("x", n-5)
	return "echo " + x, x
}

// Commands of every length from 1 to 300 characters, their echo wrapped
// at 80 columns: the output is the command's, never a piece of the echo.
func TestRunEveryLengthWrapped(t *testing.T) {
	l := openPTY(t, console.Config{Prompts: prompts})
	dev := shellDevice(t, l.far(), 300)
	for n := 1; n <= 300; n++ {
		cmd, want := lengthy(n)
		res, err := l.c.Run(ctx, cmd, guard)
		if err != nil {
			t.Fatalf("length %d: %v", n, err)
		}
		if res.Output != want || res.Status != 0 {
			t.Fatalf("length %d: output %q status %d; want %q", n, res.Output, res.Status, want)
		}
	}
	if err := <-dev; err != nil {
		t.Fatalf("device: %v", err)
	}
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
	far.Expect("_S__; cat /etc/version; echo __CB''")
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
