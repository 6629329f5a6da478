package busybox

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// jail says how the device's processes are shut in its root: a chroot in
// new mount, PID and UTS namespaces. As root the test process makes them
// itself; otherwise util-linux unshare makes them inside a new user
// namespace whose root is the caller and whose other users come from the
// caller's /etc/subuid range (--map-auto, through the setuid newuidmap of
// Debian's uidmap package). busybox login needs that range: it calls
// setgroups, which a user namespace mapping the caller alone denies.
type jail struct {
	unshare string // path of util-linux unshare; "" when running as root
}

func newJail() (jail, error) {
	f, err := elf.Open(Program)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return jail{}, errNoBusybox
		}
		return jail{}, fmt.Errorf("read %s: %w", Program, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return jail{}, fmt.Errorf("%s is dynamically linked and cannot run in an empty root (Debian: apt-get install busybox-static)", Program)
		}
	}
	if os.Geteuid() == 0 {
		return jail{}, nil
	}
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			return jail{}, fmt.Errorf("not root, and no %s for a user namespace with more users than the caller (busybox login calls setgroups): apt-get install uidmap and give the user a range in /etc/subuid and /etc/subgid, or run as root", tool)
		}
	}
	path, err := exec.LookPath("unshare")
	if err != nil {
		return jail{}, fmt.Errorf("not root, and no util-linux unshare for a user namespace: %w", err)
	}
	return jail{unshare: path}, nil
}

// command starts script (busybox sh) chrooted in root, with tty (a pty
// slave) mounted on root's /dev/ttyS0, the host's /dev/null on its
// /dev/null and the namespace's /proc on its /proc, after chowning each of homes ("UID:GID:PATH" in root) to its
// user. It writes a byte to fd 3 once it runs in the namespaces. The
// first process is PID 1 of its namespace: its death kills
// every other process of the unit, and the test process's death kills it.
func (j jail) command(root, tty, script string, homes []string) *exec.Cmd {
	setup := `set -e
printf x >&3; exec 3>&-
mount --make-rprivate /
mount --bind /dev/null "$1/dev/null"
mount --bind "$2" "$1/dev/ttyS0"
mount -t proc proc "$1/proc"
for h in $4; do chown "${h%%:/*}" "$1/${h#*:/}"; done
exec chroot "$1" /bin/sh -c "$3"`
	args := []string{"sh", "-c", setup, "setup", root, tty, script, strings.Join(homes, " ")}
	var cmd *exec.Cmd
	if j.unshare == "" {
		cmd = exec.Command(Program, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
			Pdeathsig:  syscall.SIGKILL,
		}
	} else {
		// unshare forks the namespace's PID 1 and, with --kill-child,
		// kills it when unshare itself dies.
		cmd = exec.Command(j.unshare, append([]string{"--user", "--map-root-user", "--map-auto",
			"--mount", "--pid", "--uts", "--fork", "--kill-child", "--", Program}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	cmd.Dir = "/"
	return cmd
}

// check runs the device's busybox once in its jail, so a host that allows
// neither chroot nor namespaces is told apart from a broken target.
func (j jail) check(root string) error {
	cmd := j.command(root, "/dev/null", "true", nil)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	cmd.ExtraFiles = []*os.File{null}
	if out, err := cmd.CombinedOutput(); err != nil {
		how := "a chroot in new mount, PID and UTS namespaces"
		if j.unshare != "" {
			how = "a user namespace (unshare --user --map-root-user --map-auto) with chroot"
		}
		return fmt.Errorf("cannot run %s in %s: %w: %s", Program, how, err, strings.TrimSpace(string(out)))
	}
	return nil
}
