package console

import (
	"strings"
	"testing"

	"go.bug.st/serial/enumerator"
)

func TestPickUSBAdapter(t *testing.T) {
	ports := []*enumerator.PortDetails{
		{Name: "/dev/ttyS0"},
		{Name: "/dev/ttyUSB0", IsUSB: true, VID: "0403", PID: "6001", SerialNumber: "A1"},
		{Name: "/dev/ttyUSB1", IsUSB: true, VID: "0403", PID: "6001", SerialNumber: "B2"},
		{Name: "/dev/ttyACM0", IsUSB: true, VID: "2E8A", PID: "000A", SerialNumber: "E66"},
	}
	for _, c := range []struct {
		s    Serial
		path string
		err  string
	}{
		{Serial{VID: "0403", PID: "6001", SerialNumber: "B2"}, "/dev/ttyUSB1", ""},
		{Serial{VID: "2e8a", PID: "000a"}, "/dev/ttyACM0", ""},
		{Serial{VID: "0403", PID: "6001"}, "", "set the serial number"},
		{Serial{VID: "10c4", PID: "ea60"}, "", "present: /dev/ttyUSB0"},
	} {
		path, err := c.s.pick(ports)
		if path != c.path || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: got %q, %v; want %q, error with %q", c.s, path, err, c.path, c.err)
		}
	}
	if _, err := (Serial{VID: "0403", PID: "6001"}).pick(ports[:1]); err == nil || !strings.Contains(err.Error(), "no USB serial adapter is plugged in") {
		t.Errorf("no USB ports: %v", err)
	}
	if err := (TCP{Addr: "ser2net.local"}).Validate(); err == nil || !strings.Contains(err.Error(), "host:port") {
		t.Errorf("TCP without port: %v", err)
	}
	if err := (Serial{}).Validate(); err == nil || !strings.Contains(err.Error(), "set a path") {
		t.Errorf("empty serial: %v", err)
	}
}
