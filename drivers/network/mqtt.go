package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// MQTT tries an MQTT 3.1.1 CONNECT with credentials
// (github.com/eclipse/paho.mqtt.golang), to a broker on the device or one
// it uses, and disconnects. The protocol version is fixed: paho otherwise
// retries a refused connect as MQTT 3.1, which a device's lockout would
// count as a second guess.
type MQTT struct {
	Addr     string        // host:port, plain TCP
	ClientID string        // default "certbench-" and random hex
	Timeout  time.Duration // bounds the connect and the CONNACK; default 10s
	Rec      *Recorder     // nil records nothing
}

// Connect connects with user and password ("" user: anonymous) and
// disconnects: nil for CONNACK 0; otherwise an *Error of kind ErrDenied
// (CONNACK 4, bad user name or password), ErrNotAuthorized (5: brokers such
// as mosquitto answer a wrong password so too), ErrUnavailable (3),
// ErrUnexpected (1, 2: protocol version, client ID), or a transport kind.
func (m *MQTT) Connect(ctx context.Context, user, password string) error {
	x := m.Rec.open("mqtt", m.Addr, password)
	return x.outcome(m.connect(ctx, x, user, password))
}

func (m *MQTT) connect(ctx context.Context, x *exchange, user, password string) error {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	op := "mqtt connect"
	fail := func(kind error, said string, err error) error {
		return &Error{Op: op, User: user, Addr: m.Addr, Kind: kind, Said: said, Err: err}
	}
	id := m.ClientID
	if id == "" {
		b := make([]byte, 6)
		rand.Read(b)
		id = "certbench-" + hex.EncodeToString(b)
	}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + m.Addr).SetClientID(id).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(timeout).SetWriteTimeout(timeout)
	shown := fmt.Sprintf("CONNECT protocol 3.1.1 client_id=%s clean_session=true", id)
	if user != "" {
		opts.SetUsername(user)
		shown += " username=" + user
	}
	if password != "" {
		opts.SetPassword(password)
		shown += " password=" + Redacted
		x.txRedacted(shown)
	} else {
		x.tx([]byte(shown))
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		go func() { tok.Wait(); c.Disconnect(0) }()
		return fail(classify(ctx, ctx.Err()), "", ctx.Err())
	}
	err := tok.Error()
	if err == nil {
		x.rx([]byte("CONNACK 0 (accepted)"))
		c.Disconnect(0)
		x.event(EventClose, "DISCONNECT by the bench")
		return nil
	}
	for rc, kind := range map[byte]error{
		packets.ErrRefusedBadUsernameOrPassword: ErrDenied,
		packets.ErrRefusedNotAuthorised:         ErrNotAuthorized,
		packets.ErrRefusedServerUnavailable:     ErrUnavailable,
		packets.ErrRefusedBadProtocolVersion:    ErrUnexpected,
		packets.ErrRefusedIDRejected:            ErrUnexpected,
	} {
		if errors.Is(err, packets.ConnErrors[rc]) {
			said := fmt.Sprintf("CONNACK %d (%s)", rc, packets.ConnackReturnCodes[rc])
			x.rx([]byte(said))
			return fail(kind, said, nil)
		}
	}
	kind := classify(ctx, err)
	if kind == ErrBench && errors.Is(err, packets.ConnErrors[packets.ErrNetworkError]) {
		// The connection ended before a CONNACK, with no socket error.
		kind = ErrClosed
	}
	return fail(kind, "", err)
}
