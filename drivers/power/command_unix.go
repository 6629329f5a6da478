//go:build unix

package power

import (
	"os/exec"
	"syscall"
)

// hangUp runs cmd in a process group of its own and makes cancellation (a
// timeout, Ctrl-C) end the command and what it did not detach, the way
// closing a terminal does:
//
//   - the whole group gets SIGHUP (then SIGCONT, so a stopped member
//     sees it): children left by `sh -c 'x | y'` or a wrapper script, still
//     talking to the PDU, end, unless they catch SIGHUP;
//   - a helper the command detached on purpose lives on: started with
//     nohup it ignores SIGHUP, started with setsid (or as a daemon) it is
//     in a group of its own, which nothing is sent to;
//   - the command itself gets SIGKILL, which it cannot refuse.
//
// The old rule, SIGKILL to the whole group, killed a USB-serial bridge a
// vendor's on-script had started with nohup.
func hangUp(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid // the command leads its group
		syscall.Kill(-pgid, syscall.SIGHUP)
		syscall.Kill(-pgid, syscall.SIGCONT)
		return cmd.Process.Kill()
	}
}
