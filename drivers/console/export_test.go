package console

// OnWaiting calls f each time a wait on c is registered (in flight).
func OnWaiting(c *Console, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waitingHook = f
}
