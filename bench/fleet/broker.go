package fleet

import (
	"fmt"
	"io"
	"log/slog"
	"net"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Server is a broker the bench runs itself, so one bench needs no set-up.
// The fleet speaks plain MQTT to it, as to any other broker.
type Server interface {
	URL() string // tcp://HOST:PORT, for clients
	Close() error
}

// DefaultListen is where an embedded broker listens: loopback, so a bench
// that embeds one is not open to its network unless told (--listen).
const DefaultListen = "127.0.0.1:1883"

// Embed starts mochi-mqtt (github.com/mochi-mqtt/server) on addr
// ("127.0.0.1:0" picks a free port). It accepts every client: jobs are
// signed, and whoever reaches it could read the records anyway. Sessions
// live in memory, as long as the process.
func Embed(addr string) (Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w", addr, err)
	}
	s := mochi.New(&mochi.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		ln.Close()
		return nil, err
	}
	l := listeners.NewNet("fleet", ln)
	if err := s.AddListener(l); err != nil {
		ln.Close()
		return nil, err
	}
	if err := s.Serve(); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	return &embedded{s: s, url: "tcp://" + ln.Addr().String()}, nil
}

type embedded struct {
	s   *mochi.Server
	url string
}

func (e *embedded) URL() string  { return e.url }
func (e *embedded) Close() error { return e.s.Close() }
