package console

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Identity is what a console's configured port resolved to when it was
// opened: the device that served the console. A record says what served
// it with Console.Identity; on every reopen after a loss the console
// compares the port it finds with this, and refuses one that is another
// device (see SameDevice).
type Identity struct {
	Port string // the port as configured: a path, "usb VID:PID", "tcp ADDR"
	Kind string // "usb", "pty", "tty" (any other character device) or "tcp"
	Node string // the device node the path led to, e.g. /dev/ttyUSB0, /dev/pts/3

	Major, Minor uint32 // the node's device number

	// USB adapters, from sysfs: vendor and product ID, serial number (""
	// when the adapter has none) and the USB port it is plugged into
	// (e.g. "1-1.2").
	VID, PID, Serial, USBPort string

	// Made is a pty's creation time (its node's ctime): the kernel reuses
	// /dev/pts numbers, so the number alone does not tell one pty from
	// the next one given the same number.
	Made time.Time

	// Addr is a serial server's address as connected (tcp).
	Addr string

	link  linkID        // the configured path's own symlink, when it is one
	ctime unix.Timespec // the node's, to check the node opened is the one identified
}

// opened checks that fd, just opened at id.Node, is the node identified.
func (id Identity) opened(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", id.Node, err)
	}
	if unix.Major(st.Rdev) != id.Major || unix.Minor(st.Rdev) != id.Minor || (id.Kind == "pty" && st.Ctim != id.ctime) {
		return fmt.Errorf("%s changed while it was being opened", id.Node)
	}
	return nil
}

// linkID tells a symlink apart from one re-made at the same path.
type linkID struct {
	ino   uint64
	ctime unix.Timespec
}

func (id Identity) String() string {
	var b strings.Builder
	switch id.Kind {
	case "tcp":
		fmt.Fprintf(&b, "serial server %s", id.Addr)
		return b.String()
	case "":
		return "unknown"
	}
	fmt.Fprintf(&b, "%s %s (%d:%d", id.Kind, id.Node, id.Major, id.Minor)
	switch id.Kind {
	case "usb":
		fmt.Fprintf(&b, ", %s:%s", id.VID, id.PID)
		if id.Serial != "" {
			fmt.Fprintf(&b, " serial %s", id.Serial)
		} else {
			b.WriteString(" no serial number")
		}
		if id.USBPort != "" {
			fmt.Fprintf(&b, " on USB port %s", id.USBPort)
		}
	case "pty":
		fmt.Fprintf(&b, ", made %s", id.Made.UTC().Format("15:04:05.000000000"))
	}
	b.WriteString(")")
	return b.String()
}

// SameDevice reports whether next, found at the configured port after a
// loss, is the device id named, and if not, why. The rules, by kind:
//
//   - usb: the same adapter: vendor, product and serial number equal, on
//     any node (a /dev/serial/by-id link that led to /dev/ttyUSB0 may lead
//     to /dev/ttyUSB1 after replugging). An adapter without a serial
//     number must also be on the same USB port.
//   - pty: the same pty (device number and creation time), or, when the
//     configured path is a symlink that has been re-made since (a bridge
//     such as ser2net or the simulated lab makes a new link to the new pty
//     of a device that came back), whatever the new link leads to: whoever
//     re-made the link vouches for it. A link left as it was, pointing at a
//     /dev/pts number the kernel has since given to another program, is
//     refused.
//   - tty (a UART on the board, /dev/ttyS0, /dev/ttyAMA0): the same device
//     number.
//   - tcp: any connection to the configured address.
func SameDevice(id, next Identity) (bool, string) {
	if id.Kind != next.Kind {
		return false, fmt.Sprintf("it is a %s, the console was a %s", next.Kind, id.Kind)
	}
	switch id.Kind {
	case "usb":
		if !strings.EqualFold(id.VID, next.VID) || !strings.EqualFold(id.PID, next.PID) || id.Serial != next.Serial {
			return false, "another USB adapter"
		}
		if id.Serial == "" && id.USBPort != next.USBPort {
			return false, "an adapter of the same model on another USB port, and without a serial number it cannot be told from another one"
		}
	case "pty":
		if id.Major == next.Major && id.Minor == next.Minor && id.Made.Equal(next.Made) {
			return true, ""
		}
		if id.link != (linkID{}) && next.link != (linkID{}) && id.link != next.link {
			return true, "" // the link was re-made: the device's new pty
		}
		if id.Major == next.Major && id.Minor == next.Minor {
			return false, "another pty given the same number since (" + id.Port + " was not re-made)"
		}
		return false, "another pty (" + id.Port + " was not re-made)"
	case "tty":
		if id.Major != next.Major || id.Minor != next.Minor {
			return false, "another device"
		}
	}
	return true, ""
}

// sysfs is where device attributes are read; tests point it elsewhere.
var sysfs = "/sys"

// identify says what device node the configured path leads to, without
// opening it (opening a UART raises its modem lines, and the node may be
// another program's): path is the configured path, node where it led.
func identify(port, path, node string) (Identity, error) {
	id := Identity{Port: port, Node: node}
	var st unix.Stat_t
	if err := unix.Stat(node, &st); err != nil {
		return id, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return id, fmt.Errorf("%s is not a character device (a serial port)", node)
	}
	id.Major, id.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	if path != "" {
		var ls unix.Stat_t
		if err := unix.Lstat(path, &ls); err == nil && ls.Mode&unix.S_IFMT == unix.S_IFLNK {
			id.link = linkID{ino: ls.Ino, ctime: ls.Ctim}
		}
	}
	switch {
	case usbIdentity(&id):
		id.Kind = "usb"
	case id.Major >= 136 && id.Major <= 143: // Unix98 pty slaves (devices.txt)
		id.Kind = "pty"
		id.Made = time.Unix(st.Ctim.Unix())
		id.ctime = st.Ctim
	default:
		id.Kind = "tty"
	}
	return id, nil
}

// usbIdentity reads the USB device above a tty in sysfs, if there is one.
func usbIdentity(id *Identity) bool {
	dir, err := filepath.EvalSymlinks(filepath.Join(sysfs, "dev", "char", fmt.Sprintf("%d:%d", id.Major, id.Minor)))
	if err != nil {
		return false
	}
	for ; dir != sysfs && dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		vid, err := os.ReadFile(filepath.Join(dir, "idVendor"))
		if err != nil {
			continue
		}
		pid, _ := os.ReadFile(filepath.Join(dir, "idProduct"))
		serial, _ := os.ReadFile(filepath.Join(dir, "serial"))
		id.VID = string(bytes.TrimSpace(vid))
		id.PID = string(bytes.TrimSpace(pid))
		id.Serial = string(bytes.TrimSpace(serial))
		id.USBPort = filepath.Base(dir)
		return true
	}
	return false
}

// lockNode takes an advisory exclusive lock (flock) on the device node
// open as fd, so that a second bench (or bench console, bench check) on the
// same port is refused even as root, for whom the serial driver's
// exclusive-open flag does not count. The lock goes with fd.
func lockNode(node string, fd int) error {
	err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		return fmt.Errorf("lock %s: %w", node, err)
	}
	return &BusyError{Node: node, Holder: lockHolder(fd)}
}

// BusyError says a port is in use by another console (another bench
// process, or another Console in this one).
type BusyError struct {
	Node   string
	Holder string // "pid 1234 (bench console cam-1)", or "" when unknown
}

func (e *BusyError) Error() string {
	who := "another program"
	if e.Holder != "" {
		who = e.Holder
	}
	return fmt.Sprintf("%s is in use: %s holds its lock; stop it (or use another fixture) first", e.Node, who)
}

// lockHolder names who holds a flock on the file open as f, from
// /proc/locks, or "".
func lockHolder(fd int) string {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return ""
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return ""
	}
	// 1: FLOCK  ADVISORY  WRITE 2046 00:1a:3 0 EOF
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for _, line := range strings.Split(string(data), "\n") {
		fs := strings.Fields(line)
		if len(fs) < 6 || fs[1] != "FLOCK" || fs[5] != want {
			continue
		}
		pid, err := strconv.Atoi(fs[4])
		if err != nil || pid <= 0 {
			continue
		}
		holder := "pid " + fs[4]
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(cmd) > 0 {
			args := strings.Fields(strings.ReplaceAll(string(bytes.TrimRight(cmd, "\x00")), "\x00", " "))
			if len(args) > 0 {
				args[0] = filepath.Base(args[0])
			}
			holder += " (" + strings.Join(args, " ") + ")"
		}
		return holder
	}
	return ""
}
