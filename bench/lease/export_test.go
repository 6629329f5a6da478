package lease

import "time"

// Fake plays the machine: another host, a dead or reborn process, a clock.
type Fake struct {
	Host   string
	PID    int
	Starts map[int]uint64 // live processes and their start times
	Now    time.Time
}

func (f *Fake) host() string { return f.Host }
func (f *Fake) pid() int     { return f.PID }
func (f *Fake) start(pid int) (uint64, bool) {
	s, ok := f.Starts[pid]
	return s, ok
}
func (f *Fake) now() time.Time { return f.Now }
func (f *Fake) user() string   { return "tester" }

// WithSystem makes d see the machine through f.
func WithSystem(d *Dir, f *Fake) *Dir { d.sys = f; return d }
