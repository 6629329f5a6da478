package network

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// connackBroker answers every CONNECT with CONNACK rc, in MQTT 3.1.1's
// bytes, or hangs up when rc is negative. It counts CONNECTs.
func connackBroker(t *testing.T, rc int) (addr string, connects chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	connects = make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				if b, err := r.ReadByte(); err != nil || b>>4 != 1 { // CONNECT
					return
				}
				connects <- struct{}{}
				if rc < 0 {
					return
				}
				c.Write([]byte{0x20, 0x02, 0x00, byte(rc)})
				io.Copy(io.Discard, r)
			}()
		}
	}()
	return ln.Addr().String(), connects
}

func TestMQTTConnack(t *testing.T) {
	for _, tc := range []struct {
		rc   int
		want error
	}{
		{0, nil},
		{1, ErrUnexpected},
		{3, ErrUnavailable},
		{4, ErrDenied},
		{5, ErrNotAuthorized},
		{-1, ErrClosed},
	} {
		t.Run(fmt.Sprint(tc.rc), func(t *testing.T) {
			addr, connects := connackBroker(t, tc.rc)
			var ev evidence
			err := (&MQTT{Addr: addr, Rec: NewRecorder(&ev, time.Time{})}).Connect(t.Context(), "admin", "Label-Pass-42")
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CONNACK %d: %v, want %v", tc.rc, err, tc.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "mqtt connect admin@"+addr+": ") {
				t.Errorf("error %q does not say what was done where", err)
			}
			ev.noSecret(t, "Label-Pass-42")
			// One CONNECT per try: paho's fallback to MQTT 3.1 would be a
			// second guess against a lockout.
			<-connects
			select {
			case <-connects:
				t.Error("two CONNECTs for one try")
			default:
			}
		})
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if err := (&MQTT{Addr: addr}).Connect(t.Context(), "admin", "x"); !errors.Is(err, ErrRefused) {
		t.Errorf("closed port: %v, want refused", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := (&MQTT{Addr: addr, Timeout: time.Hour}).Connect(ctx, "admin", "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// TestMQTTMosquitto connects to Debian's mosquitto with a password file.
func TestMQTTMosquitto(t *testing.T) {
	const bin = "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mosquitto not installed at %s: CI must install it (.ci/run)", bin)
		}
		t.Skipf("mosquitto not installed at %s (apt-get install mosquitto)", bin)
	}
	// mosquitto started as root drops to its own user, which must be able
	// to read the password file.
	dir, err := os.MkdirTemp("", "network-mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	pw := filepath.Join(dir, "passwd")
	if out, err := exec.Command("mosquitto_passwd", "-b", "-c", pw, "admin", "Label-Pass-42").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
	}
	os.Chmod(pw, 0o644)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, fmt.Appendf(nil, "listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\nlog_dest stderr\nlog_type all\n", port, pw), 0o644)
	cmd := exec.Command(bin, "-c", conf)
	out, _ := cmd.StderrPipe() // stderr is not buffered
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Ready when it says it is running (after it listens).
	sc := bufio.NewScanner(out)
	var said strings.Builder
	for sc.Scan() {
		said.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), " running") {
			break
		}
	}
	go io.Copy(io.Discard, out)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	m := &MQTT{Addr: addr}
	if err := m.Connect(t.Context(), "admin", "Label-Pass-42"); err != nil {
		t.Fatalf("right password: %v\nmosquitto said:\n%s", err, said.String())
	}
	// mosquitto answers a wrong password with CONNACK 5.
	if err := m.Connect(t.Context(), "admin", "wrong"); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("wrong password: %v, want not authorized", err)
	}
	if err := m.Connect(t.Context(), "", ""); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("anonymous: %v, want not authorized", err)
	}
}
