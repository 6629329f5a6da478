//go:build unix

package power

import (
	"os"
	"syscall"
)

// Signals are the signals NotifyContext catches unless told otherwise:
// every signal whose default action ends the process and that a program
// may catch, except those the Go runtime or a profiler uses (SIGPROF,
// SIGURG) and those that report a fault in the program itself (SIGSEGV
// and the like). Left to its default, each would end the process with a
// relay as it was: SIGHUP when the terminal closes or SSH drops, SIGPIPE
// when whatever reads the output goes away (`| head`), SIGQUIT from
// Ctrl-\, SIGUSR1/2 and SIGALRM from scripts, SIGXCPU and SIGXFSZ from
// resource limits.
var Signals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGPIPE, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM,
	syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM,
}

// personSignals are those a person sends to stop a program (Ctrl-C,
// Ctrl-\, kill): after the first signal a second of these ends the process
// at once. The others keep being caught, and dropped, until stop: a
// closed terminal or pipe must not end the process while it drives the
// lines safe and writes its last events.
var personSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT}
