//go:build !unix

package power

import "os/exec"

// hangUp leaves cancellation to os/exec, which kills the process itself.
func hangUp(*exec.Cmd) {}
