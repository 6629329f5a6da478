package results

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Key algorithms GenerateKey makes. Signing accepts any crypto.Signer whose
// public key is one of these.
const (
	ECDSAP256 = "ecdsa-p256" // the default: what cosign and most HSMs and TPMs take
	Ed25519   = "ed25519"
)

// ErrKeyPermissions is wrapped when a private key file is readable by group
// or others: a bench key anyone on the host can read signs nothing.
var ErrKeyPermissions = errors.New("private key readable by group or others")

// ErrKeyExists is wrapped when keygen would overwrite a key file.
var ErrKeyExists = errors.New("key file already exists")

// GenerateKey makes a new bench key: ECDSAP256 or Ed25519.
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ECDSAP256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("key algorithm %q: use %s or %s", alg, ECDSAP256, Ed25519)
}

// WriteKeyPair writes key as PEM PKCS#8 to privPath (mode 0600) and its
// public half as PEM PKIX to pubPath (mode 0644). It refuses to overwrite
// either file: replacing a bench key orphans every record it signed.
func WriteKeyPair(privPath, pubPath string, key crypto.Signer) error {
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("write key %s: %w; move it away first if you really mean to replace the bench key", p, ErrKeyExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write key %s: %w", p, err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode private key: %w", err)
	}
	pub, err := MarshalPublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := writeNewFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := writeNewFile(pubPath, pub, 0o644); err != nil {
		os.Remove(privPath) // a private key without its public half would be the next keygen's ErrKeyExists
		return err
	}
	return nil
}

// writeNewFile creates path (failing if it exists), writes b and syncs it.
func writeNewFile(path string, b []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("write %s: %w", path, ErrKeyExists)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// LoadPrivateKey reads a PEM PKCS#8 bench key (ECDSA P-256 or Ed25519). It
// refuses a file that group or others can read, naming the chmod that fixes it.
func LoadPrivateKey(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load bench key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load bench key %s: %w", path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("load bench key %s: %w (mode %04o); run: chmod 600 %s", path, ErrKeyPermissions, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("load bench key %s: %w", path, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("load bench key %s: no PEM \"PRIVATE KEY\" (PKCS#8) block; make one with `bench keygen`", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load bench key %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("load bench key %s: %T cannot sign", path, k)
	}
	if _, err := sigAlgorithm(s.Public()); err != nil {
		return nil, fmt.Errorf("load bench key %s: %w", path, err)
	}
	return s, nil
}

// LoadPublicKey reads a PEM PKIX public key ("PUBLIC KEY"), as keygen writes
// and cosign reads.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load public key: %w", err)
	}
	if block, _ := pem.Decode(b); block != nil && strings.Contains(block.Type, "PRIVATE KEY") {
		pub := strings.TrimSuffix(path, filepath.Ext(path)) + ".pub"
		return nil, fmt.Errorf("load public key %s: %w: that is the bench's private key; give its public half (%s), and keep the private key on the bench: a verifier never needs it", path, ErrPrivateKey, pub)
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", path, err)
	}
	return pub, nil
}

// ErrPrivateKey is wrapped by LoadPublicKey's error when it is given a
// private key.
var ErrPrivateKey = errors.New("a private key where a public key is wanted")

// ParsePublicKey decodes a PEM PKIX public key (ECDSA P-256 or Ed25519).
func ParsePublicKey(b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New(`no PEM "PUBLIC KEY" block`)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	if _, err := sigAlgorithm(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// MarshalPublicKey encodes pub as PEM PKIX.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// KeyID is the hex SHA-256 of pub's PKIX DER encoding: the keyid a DSSE
// signature carries and Record.Bench.KeyID names.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}
