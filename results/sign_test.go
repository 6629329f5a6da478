package results

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The envelope on disk is plain DSSE: three fields, the payload and each
// signature in standard base64, the keyid the bench's KeyID. It parses back
// to the same envelope, which still verifies.
func TestEnvelopeIsStandardDSSE(t *testing.T) {
	for _, alg := range []string{ECDSAP256, Ed25519} {
		t.Run(alg, func(t *testing.T) {
			key := testKey(t, alg)
			r := sampleRecord()
			recJSON, _ := r.Marshal()
			env, err := SignRecord(key, r, recJSON)
			if err != nil {
				t.Fatal(err)
			}
			b, err := env.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			if len(raw) != 3 || raw["payloadType"] == nil || raw["payload"] == nil || raw["signatures"] == nil {
				t.Fatalf("envelope fields: %s", b)
			}
			var onDisk struct {
				PayloadType string `json:"payloadType"`
				Payload     string `json:"payload"`
				Signatures  []struct {
					KeyID string `json:"keyid"`
					Sig   string `json:"sig"`
				} `json:"signatures"`
			}
			json.Unmarshal(b, &onDisk)
			payload, err := base64.StdEncoding.DecodeString(onDisk.Payload)
			if err != nil {
				t.Fatalf("payload is not standard base64: %v", err)
			}
			want, _ := json.Marshal(NewStatement(r, recJSON))
			if onDisk.PayloadType != PayloadType || !bytes.Equal(payload, want) {
				t.Fatalf("payload %s %s, want %s %s", onDisk.PayloadType, payload, PayloadType, want)
			}
			id, _ := KeyID(key.Public())
			if len(onDisk.Signatures) != 1 || onDisk.Signatures[0].KeyID != id {
				t.Fatalf("signatures %+v, want one by %s", onDisk.Signatures, id)
			}
			if _, err := base64.StdEncoding.DecodeString(onDisk.Signatures[0].Sig); err != nil {
				t.Fatalf("sig is not standard base64: %v", err)
			}

			back, err := ParseEnvelope(b)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := back.Verify(key.Public()); err != nil || got != id {
				t.Fatalf("parsed envelope: Verify = %s, %v; want %s", got, err, id)
			}
			st, err := back.Statement()
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := st.SubjectDigest(RecordSubject); d != sha256Hex(recJSON) {
				t.Fatalf("record subject %s, want %s", d, sha256Hex(recJSON))
			}
		})
	}
}

// A record may be counter-signed: Verify accepts the envelope with any one
// of the signers' keys, names the key that verified, and refuses every other
// key with ErrSignature naming who signed.
func TestVerifyCounterSigned(t *testing.T) {
	bench, lab, stranger := testKey(t, ECDSAP256), testKey(t, Ed25519), testKey(t, ECDSAP256)
	env, err := Sign(bench, PayloadType, []byte(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	counter, err := Sign(lab, PayloadType, []byte(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	env.Signatures = append(env.Signatures, counter.Signatures...)
	benchID, _ := KeyID(bench.Public())
	labID, _ := KeyID(lab.Public())

	for _, tc := range []struct {
		name string
		keys []crypto.PublicKey
		want string
	}{
		{"bench", []crypto.PublicKey{bench.Public()}, benchID},
		{"lab", []crypto.PublicKey{lab.Public()}, labID},
		{"stranger then lab", []crypto.PublicKey{stranger.Public(), lab.Public()}, labID},
		{"the same key twice", []crypto.PublicKey{lab.Public(), lab.Public()}, labID},
	} {
		if got, err := env.Verify(tc.keys...); err != nil || got != tc.want {
			t.Errorf("%s: Verify = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}

	_, err = env.Verify(stranger.Public())
	if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), benchID[:16]) || !strings.Contains(err.Error(), labID[:16]) {
		t.Errorf("stranger's key: %v; want ErrSignature naming both signers", err)
	}
	if _, err := env.Verify(); !errors.Is(err, ErrSignature) {
		t.Errorf("no keys: %v; want ErrSignature", err)
	}
	env.Signatures = nil
	if _, err := env.Verify(bench.Public()); !errors.Is(err, ErrSignature) {
		t.Errorf("no signatures: %v; want ErrSignature", err)
	}
}

// A signature over other bytes never verifies: one payload byte changed, or
// the payload type changed (PAE binds it).
func TestVerifyRefusesChangedEnvelope(t *testing.T) {
	for _, alg := range []string{ECDSAP256, Ed25519} {
		key := testKey(t, alg)
		env, err := Sign(key, PayloadType, []byte(`{"verdict":"FAIL"}`))
		if err != nil {
			t.Fatal(err)
		}
		changed := *env
		changed.Payload = base64.StdEncoding.EncodeToString([]byte(`{"verdict":"PASS"}`))
		if _, err := changed.Verify(key.Public()); !errors.Is(err, ErrSignature) {
			t.Errorf("%s, changed payload: %v; want ErrSignature", alg, err)
		}
		changed = *env
		changed.PayloadType = "application/json"
		if _, err := changed.Verify(key.Public()); !errors.Is(err, ErrSignature) {
			t.Errorf("%s, changed payload type: %v; want ErrSignature", alg, err)
		}
		if _, err := env.Verify(key.Public()); err != nil {
			t.Errorf("%s, unchanged: %v", alg, err)
		}
	}
}

func TestParseEnvelopeRefuses(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"not JSON", `DSSE`, "not a DSSE envelope"},
		{"unknown field", `{"payloadType":"x","payload":"","signatures":[],"extra":1}`, "unknown field"},
		{"payload not base64", `{"payloadType":"x","payload":"%%%","signatures":[]}`, "payload"},
		{"sig not base64", `{"payloadType":"x","payload":"e30=","signatures":[{"keyid":"","sig":"%%%"}]}`, "signature 1 is not base64"},
	} {
		if _, err := ParseEnvelope([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error with %q", tc.name, err, tc.want)
		}
	}
}
