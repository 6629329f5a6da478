package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Broker is how to reach the fleet's MQTT broker.
type Broker struct {
	URL      string // tcp://HOST:1883, ssl://HOST:8883, ws://HOST:PORT/PATH
	Username string
	Password string
	// CAFile, when set, is the only CA trusted for the broker's
	// certificate; CertFile and KeyFile are the client's certificate,
	// for a broker that asks for one.
	CAFile, CertFile, KeyFile string
}

// TLS is the TLS configuration for b, nil when it names no file.
func (b Broker) TLS() (*tls.Config, error) {
	if b.CAFile == "" && b.CertFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if b.CAFile != "" {
		pem, err := os.ReadFile(b.CAFile)
		if err != nil {
			return nil, fmt.Errorf("broker CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker CA %s: no PEM certificate in it", b.CAFile)
		}
	}
	if (b.CertFile == "") != (b.KeyFile == "") {
		return nil, errors.New("broker client certificate: give both the certificate and its key, or neither")
	}
	if b.CertFile != "" {
		c, err := tls.LoadX509KeyPair(b.CertFile, b.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker client certificate %s: %w", b.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// session is one persistent MQTT session: QoS 1, auto-reconnect with
// backoff, and subscriptions made again on every connect (a broker that
// lost the session, restarted without persistence, forgets them).
// Handlers run on paho's router: they only hand messages to goroutines.
type session struct {
	client mqtt.Client
	mu     sync.Mutex
	subs   map[string]mqtt.MessageHandler
	up     chan struct{} // closed while connected; replaced on loss
	upMu   sync.Mutex
	logf   func(string, ...any)
}

type will struct {
	topic   string
	payload []byte
}

func dial(ctx context.Context, b Broker, clientID string, clean bool, w *will, logf func(string, ...any)) (*session, error) {
	if _, err := url.Parse(b.URL); err != nil {
		return nil, fmt.Errorf("broker %q: %w", b.URL, err)
	}
	s := &session{subs: map[string]mqtt.MessageHandler{}, up: make(chan struct{}), logf: logf}
	o := mqtt.NewClientOptions().AddBroker(b.URL).SetClientID(clientID).
		SetCleanSession(clean).SetAutoReconnect(true).SetMaxReconnectInterval(5 * time.Second).
		SetKeepAlive(15 * time.Second).SetPingTimeout(5 * time.Second).SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(30 * time.Second).SetOrderMatters(true)
	if b.Username != "" {
		o.SetUsername(b.Username).SetPassword(b.Password)
	}
	tc, err := b.TLS()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		o.SetTLSConfig(tc)
	}
	if w != nil {
		o.SetBinaryWill(w.topic, w.payload, 1, true)
	}
	o.SetOnConnectHandler(func(c mqtt.Client) {
		// paho calls this on its own goroutine; subscribing waits for the
		// broker, so it goes to another one.
		go s.connected()
	})
	o.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		s.logf("broker %s: connection lost: %v (reconnecting)", b.URL, err)
		s.upMu.Lock()
		select {
		case <-s.up:
			s.up = make(chan struct{})
		default:
		}
		s.upMu.Unlock()
	})
	s.client = mqtt.NewClient(o)
	// The first connection is tried until ctx ends, with backoff, while the
	// broker is away; a refusal of the login or of a certificate is a
	// setting to fix and is returned at once. Once connected, paho
	// reconnects by itself.
	wait := 250 * time.Millisecond
	for {
		t := s.client.Connect()
		select {
		case <-t.Done():
		case <-ctx.Done():
			s.client.Disconnect(0)
			return nil, fmt.Errorf("connect to broker %s: %w", b.URL, context.Cause(ctx))
		}
		err := t.Error()
		if err == nil {
			return s, nil
		}
		if refused(err) {
			return nil, fmt.Errorf("connect to broker %s: %w: check the user name, password and certificates (bench file fleet:, or the command's flags)", b.URL, err)
		}
		logf("broker %s: %v (trying again in %s)", b.URL, err, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to broker %s: %w (last: %v)", b.URL, context.Cause(ctx), err)
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// refused says err is the broker or TLS refusing who we are, which no
// retry mends.
func refused(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	if errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword) || errors.Is(err, packets.ErrorRefusedNotAuthorised) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &verify) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "bad user name or password") || strings.Contains(msg, "not Authorized") ||
		strings.Contains(msg, "x509: ") || strings.Contains(msg, "tls: ")
}

func (s *session) connected() {
	s.mu.Lock()
	subs := make(map[string]mqtt.MessageHandler, len(s.subs))
	for k, v := range s.subs {
		subs[k] = v
	}
	s.mu.Unlock()
	for topic, h := range subs {
		t := s.client.Subscribe(topic, 1, h)
		t.Wait()
		if err := t.Error(); err != nil {
			s.logf("subscribe %s: %v", topic, err)
		}
	}
	s.upMu.Lock()
	select {
	case <-s.up:
	default:
		close(s.up)
	}
	s.upMu.Unlock()
}

// connectedCh is closed while the session is connected.
func (s *session) connectedCh() <-chan struct{} {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	return s.up
}

// subscribe subscribes now and after every reconnect. h must not block.
func (s *session) subscribe(ctx context.Context, topic string, h mqtt.MessageHandler) error {
	s.mu.Lock()
	s.subs[topic] = h
	s.mu.Unlock()
	t := s.client.Subscribe(topic, 1, h)
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// publish sends one QoS 1 message and waits for the broker's PUBACK. While
// the broker is away paho keeps the message and sends it on reconnect; the
// wait ends when it is acknowledged, or with ctx.
func (s *session) publish(ctx context.Context, topic string, retained bool, payload []byte) error {
	for {
		t := s.client.Publish(topic, 1, retained, payload)
		select {
		case <-t.Done():
			if err := t.Error(); err == nil {
				return nil
			} else if !errors.Is(err, mqtt.ErrNotConnected) {
				return fmt.Errorf("publish %s: %w", topic, err)
			}
			// not connected yet: wait for the connection and try again
			select {
			case <-s.connectedCh():
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(time.Second):
			}
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (s *session) close() { s.client.Disconnect(250) }
