//go:build !unix

package power

import "os/exec"

// killGroup leaves cancellation to os/exec, which kills the process itself.
func killGroup(*exec.Cmd) {}
