package busybox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Hold stops the device's console process (getty, then the login and
// shell it becomes) right after it has written a given text, until
// Release: the device preempted at the worst moment, as a loaded CPU
// does. Stopped right after login's "Password: ", the tty still echoes
// (login turns echo off only afterwards), so the window of the echo race
// stays open as long as the test wants.
type Hold struct {
	pid     int
	held    chan struct{} // closed when the process is stopped after the text
	release chan struct{}
	done    chan struct{} // closed when the tracer has let go
	once    sync.Once
	mu      sync.Mutex
	err     error
}

// Held is closed once the process has written the text and is stopped.
func (h *Hold) Held() <-chan struct{} { return h.held }

// Release lets the process run on (or, if it had not reached the text
// yet, stops waiting for it) and waits until it is free.
func (h *Hold) Release() {
	h.once.Do(func() {
		close(h.release)
		select {
		case <-h.held:
		case <-h.done:
		default:
			// Not stopped: a SIGCONT (which changes nothing for a running
			// process, and which the tracer then discards) makes it stop
			// for the tracer to let go.
			unix.Kill(h.pid, unix.SIGCONT)
		}
	})
	<-h.done
}

// Err is why the hold could not stop the process (nil while it works):
// the process exited, or tracing failed. Valid after Release or once
// Held would never close.
func (h *Hold) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Hold arms a Hold on the unit's console process: the first write it
// makes that contains text stops it, right after the write returned.
// Call it when the process is up (after Tap().Expect of its prompt). It
// is released at the end of the test. Hold uses ptrace; it fails the
// test where the host forbids it.
func (d *Target) Hold(text string) *Hold {
	d.t.Helper()
	pid, err := d.consolePID()
	if err != nil {
		d.t.Fatalf("busybox target: hold %q: %v", text, err)
	}
	h := &Hold{pid: pid, held: make(chan struct{}), release: make(chan struct{}), done: make(chan struct{})}
	seized := make(chan error, 1)
	go h.trace(pid, []byte(text), seized)
	if err := <-seized; err != nil {
		d.t.Fatalf("busybox target: hold %q: trace process %d: %v", text, pid, err)
	}
	d.t.Cleanup(h.Release)
	return h
}

// consolePID finds the process on the console: init's child.
func (d *Target) consolePID() (int, error) {
	d.mu.Lock()
	dev := d.dev
	d.mu.Unlock()
	if dev == nil {
		return 0, errors.New("the unit is off")
	}
	pid := dev.init
	for _, kid := range children(pid) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", kid))
		switch strings.TrimSpace(string(comm)) {
		case "getty", "login", "sh", "ash":
			return kid, nil
		}
	}
	return 0, errors.New("no getty, login or shell is running on the console (wait for its prompt with Tap().Expect first)")
}

func children(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	var kids []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			kids = append(kids, n)
		}
	}
	return kids
}

// syscallInfo is struct ptrace_syscall_info (PTRACE_GET_SYSCALL_INFO,
// Linux 5.3): the same on every architecture.
type syscallInfo struct {
	Op   uint8
	_    [3]uint8
	Arch uint32
	IP   uint64
	SP   uint64
	Nr   uint64 // entry: the syscall number; exit: the return value
	Args [6]uint64
}

const (
	ptraceGetSyscallInfo = 0x420e
	syscallEntry         = 1
	syscallExit          = 2
)

func (h *Hold) fail(err error) {
	h.mu.Lock()
	if h.err == nil {
		h.err = err
	}
	h.mu.Unlock()
}

// trace runs on one locked OS thread, as ptrace requires: seize, stop at
// every syscall, and at the exit of the write that contained text, stay
// stopped until Release.
func (h *Hold) trace(pid int, text []byte, seized chan<- error) {
	runtime.LockOSThread()
	// Unlocked, not left to die with the goroutine: a dying thread would
	// fire the Pdeathsig of processes it started.
	defer runtime.UnlockOSThread()
	defer close(h.done)
	opts := unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, uintptr(opts), 0, 0); e != 0 {
		seized <- e
		return
	}
	if err := unix.PtraceInterrupt(pid); err != nil {
		seized <- err
		return
	}
	seized <- nil
	var ws unix.WaitStatus
	matched := false // the write in progress contains text
	sig := 0
	for {
		if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
			h.fail(fmt.Errorf("wait for process %d: %w", pid, err))
			return
		}
		if ws.Exited() || ws.Signaled() {
			h.fail(fmt.Errorf("process %d ended before it wrote the text", pid))
			return
		}
		if !ws.Stopped() {
			continue
		}
		sig = 0
		switch s := ws.StopSignal(); {
		case s == unix.SIGTRAP|0x80: // a syscall stop
			var info syscallInfo
			if _, _, e := unix.Syscall6(unix.SYS_PTRACE, ptraceGetSyscallInfo, uintptr(pid), unsafe.Sizeof(info), uintptr(unsafe.Pointer(&info)), 0, 0); e != 0 {
				h.fail(fmt.Errorf("syscall info of process %d: %w", pid, e))
				unix.PtraceDetach(pid)
				return
			}
			switch {
			case info.Op == syscallEntry && info.Nr == unix.SYS_WRITE:
				n := min(int(info.Args[2]), 4096)
				buf := make([]byte, n)
				if n, _ = unix.PtracePeekData(pid, uintptr(info.Args[1]), buf); n > 0 {
					matched = bytes.Contains(buf[:n], text)
				}
			case info.Op == syscallExit && matched:
				close(h.held)
				<-h.release
				unix.PtraceDetach(pid)
				return
			}
		case s == unix.SIGTRAP: // exec, or the seize's interrupt
		case int(ws>>16)&0xff == unix.PTRACE_EVENT_STOP: // a group stop
		default:
			sig = int(s) // deliver the process's own signal
		}
		select {
		case <-h.release:
			h.fail(errors.New("released before the text was written"))
			unix.PtraceDetach(pid)
			return
		default:
		}
		if err := unix.PtraceSyscall(pid, sig); err != nil {
			h.fail(fmt.Errorf("resume process %d: %w", pid, err))
			return
		}
	}
}
