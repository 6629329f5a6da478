package console

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// bootLog makes a synthetic boot log of about size bytes: kernel lines,
// systemd lines in colour, near misses for the patterns ("Kernel command
// line", "panic=5", "systemd-logind", "Press"), and the login prompt at
// the very end.
func bootLog(size int) []byte {
	rng := rand.New(rand.NewPCG(7, 11))
	var b strings.Builder
	b.WriteString("U-Boot SPL 2024.01 (Jan 08 2024 - 12:00:00 +0000)\r\nHit any key to stop autoboot:  0 \r\n")
	services := []string{"Journal Service", "Network Manager", "systemd-logind.service - User Login Management", "OpenSSH server daemon", "Mosquitto MQTT Broker"}
	for i := 0; b.Len() < size-64; i++ {
		sec, usec := i/1000, (i%1000)*997
		switch rng.IntN(6) {
		case 0:
			fmt.Fprintf(&b, "[%5d.%06d] usb 1-1: new high-speed USB device number %d using ehci-platform\r\n", sec, usec, rng.IntN(128))
		case 1:
			fmt.Fprintf(&b, "\x1b[0;32m[  OK  ]\x1b[0m Started \x1b[0;1;39m%s\x1b[0m.\r\n", services[rng.IntN(len(services))])
		case 2:
			fmt.Fprintf(&b, "[%5d.%06d] Kernel command line: console=ttyS0,115200 root=/dev/mmcblk0p2 panic=5 rootwait\r\n", sec, usec)
		case 3:
			fmt.Fprintf(&b, "[%5d.%06d] EXT4-fs (mmcblk0p2): mounted filesystem with ordered data mode. Press any key? no.\r\n", sec, usec)
		case 4:
			fmt.Fprintf(&b, "[%5d.%06d] random: crng init done \xff\xfe\x00 raw bytes\r\n", sec, usec)
		default:
			fmt.Fprintf(&b, "[%5d.%06d] systemd-logind[%d]: New seat seat0.\r\n", sec, usec, 100+rng.IntN(900))
		}
	}
	b.WriteString("\r\nWelcome to Buildroot 2024.02\r\ncam-1 login: ")
	return []byte(b.String())
}

// chunked splits log into pieces of 64 to 512 bytes, as a UART driver
// hands them over.
func chunked(log []byte) [][]byte {
	rng := rand.New(rand.NewPCG(3, 5))
	var out [][]byte
	for len(log) > 0 {
		n := min(64+rng.IntN(449), len(log))
		out = append(out, log[:n])
		log = log[n:]
	}
	return out
}

var bootPatterns = []Pattern{
	MustRegexp(`(?P<host>[\w-]+) login: `),
	MustRegexp(`(?i)press enter to activate`),
	Literal("Kernel panic - not syncing"),
}

// noFactor has no fixed string every match contains, so the engine runs
// the regular expression over every chunk (plus the pattern's width).
var noFactor = []Pattern{
	MustRegexp(`(?P<host>[\w-]+) login: `),
	MustRegexp(`\d{2,}\s+[A-Z]{3}\b`),
	Literal("Kernel panic - not syncing"),
}

func benchmarkExpect(b *testing.B, size int, patterns []Pattern) {
	log := bootLog(size)
	chunks := chunked(log)
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s := newStream(minBacklog)
		w := &waiter{done: make(chan struct{})}
		w.want = s.newScanners(patterns, false, 0)
		s.wait = w
		for _, c := range chunks {
			s.feed(c)
		}
		select {
		case <-w.done:
			if w.m == nil || w.m.Groups["host"] != "cam-1" {
				b.Fatalf("wrong result: %+v %v", w.m, w.err)
			}
		default:
			b.Fatal("no match at the end of the log")
		}
	}
}

func BenchmarkExpect2MB(b *testing.B)  { benchmarkExpect(b, 2<<20, bootPatterns) }
func BenchmarkExpect20MB(b *testing.B) { benchmarkExpect(b, 20<<20, bootPatterns) }

// The worst case: one pattern without a required fixed string.
func BenchmarkExpectNoFactor2MB(b *testing.B)  { benchmarkExpect(b, 2<<20, noFactor) }
func BenchmarkExpectNoFactor20MB(b *testing.B) { benchmarkExpect(b, 20<<20, noFactor) }
