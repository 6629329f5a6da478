package busybox

import (
	"fmt"
	"os"
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
	ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", dev.init))
	return ns
}
