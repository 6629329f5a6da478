package results

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCosignVerifiesEnvelope checks the third-party route: cosign's
// verify-blob-attestation, offline, with the bench's public key, accepts
// record.dsse.json for record.json, and rejects it for a changed record.
// Install cosign with
//
//	go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
func TestCosignVerifiesEnvelope(t *testing.T) {
	cosign, err := exec.LookPath("cosign")
	if err != nil {
		msg := "cosign is not on PATH; install it with: go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI installs it in .ci/run: a skip there would hide a broken third-party route)")
		}
		t.Skip(msg)
	}
	// Where we may, run cosign without any network at all, so the test can
	// never reach beyond this host whatever cosign decides to do.
	noNetwork := exec.Command("unshare", "--net", "true").Run() == nil
	for _, alg := range []string{ECDSAP256, Ed25519} {
		t.Run(alg, func(t *testing.T) {
			a := testArchive(t)
			key := testKey(t, alg)
			run := writeRun(t, a, key, "cam-1")
			pub := filepath.Join(t.TempDir(), "bench.pub")
			b, _ := MarshalPublicKey(key.Public())
			os.WriteFile(pub, b, 0o644)

			stranger := filepath.Join(t.TempDir(), "stranger.pub")
			b, _ = MarshalPublicKey(testKey(t, alg).Public())
			os.WriteFile(stranger, b, 0o644)

			verify := func(pub, blob string) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				args := []string{cosign, "verify-blob-attestation",
					"--key", pub, "--insecure-ignore-tlog",
					"--type", PredicateTestResult,
					"--signature", filepath.Join(run.Dir(), EnvelopeFile), blob}
				if noNetwork {
					args = append([]string{"unshare", "--net"}, args...)
				}
				cmd := exec.CommandContext(ctx, args[0], args[1:]...)
				// Offline: --insecure-ignore-tlog skips Rekor; naming a Rekor
				// key skips cosign's fetch of Sigstore's TUF trusted root
				// (tuf-repo-cdn.sigstore.dev), which it tries even with
				// --offline. The key is never used with the tlog ignored.
				cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir(), "SIGSTORE_REKOR_PUBLIC_KEY="+pub)
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			record := filepath.Join(run.Dir(), RecordFile)
			if out, err := verify(pub, record); err != nil || !strings.Contains(out, "Verified OK") {
				t.Fatalf("cosign rejected the bench's envelope: %v\n%s", err, out)
			} else {
				t.Logf("cosign: %s", strings.TrimSpace(out))
			}
			changed := filepath.Join(t.TempDir(), RecordFile)
			b, _ = os.ReadFile(record)
			os.WriteFile(changed, []byte(strings.Replace(string(b), `"FAIL"`, `"PASS"`, 1)), 0o644)
			if out, err := verify(pub, changed); err == nil {
				t.Fatalf("cosign accepted the envelope for a changed record:\n%s", out)
			} else {
				t.Logf("cosign on a changed record: %s", strings.TrimSpace(out))
			}
			if out, err := verify(stranger, record); err == nil {
				t.Fatalf("cosign accepted the envelope with another key:\n%s", out)
			}
		})
	}
}
