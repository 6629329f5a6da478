package results

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

func TestKeyPairRoundTrip(t *testing.T) {
	for _, alg := range []string{ECDSAP256, Ed25519} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			priv, pub := filepath.Join(dir, "bench.key"), filepath.Join(dir, "bench.pub")
			key := testKey(t, alg)
			if err := WriteKeyPair(priv, pub, key); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
				t.Errorf("private key mode %04o, want 0600", fi.Mode().Perm())
			}
			loaded, err := LoadPrivateKey(priv)
			if err != nil {
				t.Fatal(err)
			}
			pk, err := LoadPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			env, err := Sign(loaded, PayloadType, []byte(`{"x":1}`))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := env.Verify(pk); err != nil {
				t.Fatalf("a signature by the loaded key does not verify with the loaded public key: %v", err)
			}
			// keygen must never replace a key.
			err = WriteKeyPair(priv, filepath.Join(dir, "other.pub"), testKey(t, alg))
			if !errors.Is(err, ErrKeyExists) || !strings.Contains(err.Error(), priv) {
				t.Fatalf("overwrite: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "other.pub")); err == nil {
				t.Fatal("a refused keygen left a file behind")
			}
		})
	}
}

func TestLoadPrivateKeyRefusesReadableFile(t *testing.T) {
	dir := t.TempDir()
	priv := filepath.Join(dir, "bench.key")
	if err := WriteKeyPair(priv, filepath.Join(dir, "bench.pub"), testKey(t, ECDSAP256)); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		os.Chmod(priv, mode)
		_, err := LoadPrivateKey(priv)
		if !errors.Is(err, ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod 600 "+priv) {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	os.Chmod(priv, 0o400)
	if _, err := LoadPrivateKey(priv); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

func TestLoadPrivateKeyRefusesOtherCurves(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	p := filepath.Join(t.TempDir(), "p384.key")
	os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if _, err := LoadPrivateKey(p); err == nil || !strings.Contains(err.Error(), "P-384") {
		t.Fatalf("P-384 key: %v", err)
	}
	os.WriteFile(p, []byte("not a key"), 0o600)
	if _, err := LoadPrivateKey(p); err == nil || !strings.Contains(err.Error(), "bench keygen") {
		t.Fatalf("garbage key: %v", err)
	}
}

// The test vector from the DSSE protocol specification: the library's PAE
// is what the bench signs.
func TestPAE(t *testing.T) {
	got := string(dsse.PAE("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
}

func TestStatement(t *testing.T) {
	r := sampleRecord()
	b, _ := r.Marshal()
	st := NewStatement(r, b)
	if d, ok := st.SubjectDigest(RecordSubject); !ok || d != sha256Hex(b) {
		t.Errorf("record subject %q, want %s", d, sha256Hex(b))
	}
	// The firmware image is both installed and listed: one subject.
	if len(st.Subject) != 2 || st.Subject[1].Digest["sha256"] != r.Device.Firmware.SHA256 {
		t.Errorf("subjects %+v", st.Subject)
	}
	if st.Predicate.Result != "FAILED" || len(st.Predicate.FailedTests) != 1 || len(st.Predicate.PassedTests) != 0 {
		t.Errorf("predicate %+v", st.Predicate)
	}
	for v, want := range map[Verdict]string{Pass: "PASSED", NotApplicable: "WARNED", Error: "WARNED", Inconclusive: "WARNED", NotRun: "WARNED"} {
		r.Verdict = v
		if got := NewStatement(r, b).Predicate.Result; got != want {
			t.Errorf("run %s → %s, want %s", v, got, want)
		}
	}
}
