package busybox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PIDNamespace is the link /proc/PID/ns/pid of the unit's processes, ""
// when it is off.
func (d *Target) PIDNamespace() string {
	d.mu.Lock()
	dev := d.dev
	d.mu.Unlock()
	if dev == nil {
		return ""
	}
	pid := dev.cmd.Process.Pid
	if d.jail.unshare != "" {
		// unshare's child is the namespace's first process.
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return ""
		}
		pid, _ = strconv.Atoi(f[0])
	}
	ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	return ns
}
