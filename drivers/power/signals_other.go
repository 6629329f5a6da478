//go:build !unix

package power

import (
	"os"
	"syscall"
)

// Signals are the signals NotifyContext catches unless told otherwise.
var Signals = []os.Signal{os.Interrupt, syscall.SIGTERM}

var personSignals = Signals
