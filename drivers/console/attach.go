package console

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// DefaultEscape is Ctrl-], telnet's escape character.
const DefaultEscape = 0x1d

// Attach connects a user's terminal to the console until the user types
// the escape sequence: the escape byte (0 means DefaultEscape, Ctrl-])
// followed by 'q' or '.'. Typing the escape byte twice sends it once;
// the escape byte followed by anything else sends both.
//
// Keystrokes from in go to the device through Send (recorded as tx,
// CharDelay applied); device bytes go to out unchanged (ANSI sequences
// included), while the reader keeps recording them as always. If out is
// too slow, it misses bytes rather than holding up the reader; the
// transcript still has them. A lost port is shown on out in brackets and
// Attach keeps going until the port returns.
//
// Attach returns nil on the escape sequence or when in ends, ctx's error
// when ctx is done, ErrClosed if the console is closed. The caller puts
// the terminal in raw mode. Reading from in happens in a goroutine that
// may outlive Attach until in's Read returns (a terminal's, at the next
// keystroke).
func (c *Console) Attach(ctx context.Context, in io.Reader, out io.Writer, escape byte) error {
	if escape == 0 {
		escape = DefaultEscape
	}
	fromDevice := make(chan []byte, 256)
	c.mu.Lock()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return err
	}
	c.taps[fromDevice] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.taps, fromDevice)
		c.mu.Unlock()
	}()

	type input struct {
		b   []byte
		err error
	}
	fromUser := make(chan input)
	done := make(chan struct{})
	defer close(done)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := in.Read(buf)
			select {
			case fromUser <- input{append([]byte(nil), buf[:n]...), err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	say := func(msg string) { fmt.Fprintf(out, "\r\n[%s]\r\n", msg) }
	armed := false // the escape byte was the last thing typed
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b, ok := <-fromDevice:
			if !ok {
				return c.closedErr()
			}
			if _, err := out.Write(b); err != nil {
				return fmt.Errorf("console %q: attach: write to terminal: %w", c.cfg.Name, err)
			}
		case u := <-fromUser:
			var send []byte
			for _, k := range u.b {
				switch {
				case armed && (k == 'q' || k == '.'):
					if len(send) > 0 {
						c.attachSend(ctx, send, say)
					}
					return nil
				case armed && k == escape:
					send = append(send, escape)
					armed = false
				case armed:
					send = append(send, escape, k)
					armed = false
				case k == escape:
					armed = true
				default:
					send = append(send, k)
				}
			}
			if len(send) > 0 {
				if err := c.attachSend(ctx, send, say); err != nil {
					return err
				}
			}
			if u.err != nil {
				if errors.Is(u.err, io.EOF) {
					return nil
				}
				return fmt.Errorf("console %q: attach: read keystrokes: %w", c.cfg.Name, u.err)
			}
		}
	}
}

// attachSend sends keystrokes; a lost port is shown, not fatal.
func (c *Console) attachSend(ctx context.Context, b []byte, say func(string)) error {
	err := c.Send(ctx, string(b))
	if errors.Is(err, ErrLost) {
		say(fmt.Sprintf("not sent: %v", err))
		return nil
	}
	return err
}
