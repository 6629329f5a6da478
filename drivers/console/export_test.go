package console

import (
	"testing"
	"time"
)

// OnWaiting calls f each time a wait on c is registered (in flight).
func OnWaiting(c *Console, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waitingHook = f
}

// HoldUTF8 sets, until the test ends, how long consoles opened from now on
// hold back the start of a character split between reads.
func HoldUTF8(t testing.TB, d time.Duration) {
	old := utf8Hold
	utf8Hold = d
	t.Cleanup(func() { utf8Hold = old })
}

// OnHold calls f, with the count, each time c's transcript holds back the
// start of a character. f must not block.
func OnHold(c *Console, f func(n int)) {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	c.rec.onHold = f
}

// Sysfs points the USB lookup at a fake sysfs tree until the test ends.
func Sysfs(t testing.TB, dir string) {
	old := sysfs
	sysfs = dir
	t.Cleanup(func() { sysfs = old })
}
