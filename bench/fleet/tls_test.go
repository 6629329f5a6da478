package fleet

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certbench/certbench/results"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, PEM, into dir: ca.pem, server.pem/.key, client.pem/.key.
func pki(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	for i, who := range []string{"server", "client"} {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: who},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		if who == "server" {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, k.Public(), caKey)
		if err != nil {
			t.Fatal(err)
		}
		write(who+".pem", "CERTIFICATE", der)
		kd, _ := x509.MarshalECPrivateKey(k)
		write(who+".key", "EC PRIVATE KEY", kd)
	}
}

// mosquittoPassword is a password_file line in mosquitto's own format
// (PBKDF2-SHA512, "$7$").
func mosquittoPassword(user, pass string) string {
	salt := make([]byte, 12)
	rand.Read(salt)
	key, _ := pbkdf2.Key(sha512.New, pass, salt, 101, 64)
	return fmt.Sprintf("%s:$7$101$%s$%s\n", user, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key))
}

// TestTLSAndLogin: over mosquitto with TLS, a required client certificate
// and a password file, an agent and a controller that present the CA, the
// certificate and the login run a job; a wrong password, and a CA that did
// not sign the broker's certificate, are refused at once, naming the cause.
func TestTLSAndLogin(t *testing.T) {
	var certs string
	m := startMosquittoWith(t, func(dir string, port int) (string, string) {
		pki(t, dir)
		certs = dir
		os.WriteFile(filepath.Join(dir, "passwd"), []byte(mosquittoPassword("lab", "s3cret")), 0o644)
		return fmt.Sprintf("listener %d 127.0.0.1\ncafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\nrequire_certificate true\nallow_anonymous false\npassword_file %s/passwd\npersistence false\n",
			port, dir, dir, dir, dir), fmt.Sprintf("ssl://127.0.0.1:%d", port)
	})
	br := Broker{URL: m.url, Username: "lab", Password: "s3cret",
		CAFile: filepath.Join(certs, "ca.pem"), CertFile: filepath.Join(certs, "client.pem"), KeyFile: filepath.Join(certs, "client.key")}

	for name, bad := range map[string]struct {
		b    Broker
		want string
	}{
		"wrong password": {Broker{URL: br.URL, Username: "lab", Password: "guess", CAFile: br.CAFile, CertFile: br.CertFile, KeyFile: br.KeyFile}, "not Authorized"},
		"unknown CA":     {Broker{URL: br.URL, Username: "lab", Password: "s3cret", CertFile: br.CertFile, KeyFile: br.KeyFile}, "x509"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		_, err := dial(ctx, bad.b, "refused-"+strings.ReplaceAll(name, " ", "-"), true, nil, t.Logf)
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || !strings.Contains(err.Error(), bad.want) || timedOut {
			t.Errorf("%s: %v, want a refusal naming %q at once", name, err, bad.want)
		}
	}

	b := lab(t, "tls", 1, nil)[0]
	ctrl, benchKey := newKey(t), newKey(t)
	ready := make(chan struct{})
	a := &Agent{Bench: b, Broker: br, Key: benchKey, Trusted: []crypto.PublicKey{ctrl.Public()}, TimeScale: testScale, Ready: func() { close(ready) }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	w := &watcher{events: make(chan Event, 256), records: make(chan Received, 4), status: make(chan Status, 64), got: map[string]int{}}
	w.c = &Controller{Broker: br, BenchKeys: map[string][]crypto.PublicKey{b.ID: {benchKey.Public()}},
		OnEvent: func(e Event) { w.events <- e }, OnRecord: func(r Received) { w.records <- r }}
	if err := w.c.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer w.c.Close()
	if err := w.c.Watch(t.Context(), b.ID); err != nil {
		t.Fatal(err)
	}
	j := job(b.ID)
	if err := w.c.Submit(t.Context(), ctrl, j); err != nil {
		t.Fatal(err)
	}
	w.until(t, j.ID, EventDone)
	if r := w.record(t); !r.OK() || r.Record.Verdict != results.Pass {
		t.Fatalf("record over TLS: %s ok=%v %v", r.Record.Verdict, r.OK(), r.Problems)
	}
}
