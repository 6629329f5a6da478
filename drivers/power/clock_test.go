package power

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when a test advances it. Every timer
// it starts is announced on started, so a test knows that the code under
// test is now waiting, and for how long it asked to wait.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	started chan time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{
		now:     time.Date(2026, 11, 24, 23, 50, 0, 0, time.UTC),
		started: make(chan time.Duration, 100),
	}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) timer {
	c.mu.Lock()
	t := &fakeTimer{clk: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.fireLocked()
	c.mu.Unlock()
	c.started <- d
	return t
}

// Advance moves time forward by d and fires the timers now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fireLocked()
}

func (c *fakeClock) fireLocked() {
	for _, t := range c.timers {
		if !t.done && !t.at.After(c.now) {
			t.done = true
			t.ch <- c.now
		}
	}
}

type fakeTimer struct {
	clk  *fakeClock
	at   time.Time
	ch   chan time.Time
	done bool // fired or stopped
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// waitTimer waits until the code under test starts a timer and returns the
// duration it asked for.
func (c *fakeClock) waitTimer(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.started:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no timer was started")
		return 0
	}
}

// noTimer fails the test if a timer was started.
func (c *fakeClock) noTimer(t *testing.T) {
	t.Helper()
	select {
	case d := <-c.started:
		t.Fatalf("a timer of %s was started, want no wait", d)
	default:
	}
}
