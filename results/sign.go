package results

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The in-toto and DSSE identifiers the signed statement uses.
const (
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is in-toto Statement v1.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateTestResult is in-toto's test-result predicate v0.1: what
	// `cosign verify-blob-attestation --type` is given.
	PredicateTestResult = "https://in-toto.io/attestation/test-result/v0.1"
)

// RecordSubject is the subject name the record carries in the statement: the
// file name beside the envelope.
const RecordSubject = "record.json"

// ErrSignature is wrapped when an envelope does not verify: bad signature,
// unknown key, or a payload that is not the statement it should be.
var ErrSignature = errors.New("signature does not verify")

// Envelope is a DSSE envelope (record.dsse.json).
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     []byte      `json:"payload"` // base64 in JSON, as DSSE wants
	Signatures  []Signature `json:"signatures"`
}

// Signature is one DSSE signature: KeyID is KeyID(public key) and Sig the
// raw signature (ASN.1 DER for ECDSA, 64 bytes for Ed25519).
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   []byte `json:"sig"`
}

// Statement is an in-toto Statement v1 with the test-result predicate.
type Statement struct {
	Type          string     `json:"_type"`
	Subject       []Subject  `json:"subject"`
	PredicateType string     `json:"predicateType"`
	Predicate     TestResult `json:"predicate"`
}

// Subject is an in-toto subject: a name and its digests (algorithm → hex).
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// TestResult is the predicate of in-toto's test-result v0.1. Result is
// PASSED, WARNED or FAILED; the lists hold case IDs.
type TestResult struct {
	Result        string               `json:"result"`
	Configuration []ResourceDescriptor `json:"configuration,omitempty"`
	PassedTests   []string             `json:"passedTests,omitempty"`
	WarnedTests   []string             `json:"warnedTests,omitempty"`
	FailedTests   []string             `json:"failedTests,omitempty"`
}

// ResourceDescriptor is in-toto's ResourceDescriptor, as much as we use.
type ResourceDescriptor struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

// NewStatement builds the statement that vouches for a record: its subjects
// are the record's bytes (RecordSubject) and every firmware image the record
// names, so a verifier holding an image can find the record that tested it.
//
// The predicate summarises the verdicts in test-result's words: run PASS is
// PASSED, FAIL is FAILED, anything else (ERROR, NOT_RUN, INCONCLUSIVE and an
// all-NOT_APPLICABLE run) is WARNED, because none of those is a pass. Cases
// NOT_APPLICABLE are in no list; the record says why. The full record is not
// repeated in the predicate: it is bound by its digest, which is exactly
// what cosign checks the blob against.
func NewStatement(r *Record, recordJSON []byte) *Statement {
	sum := sha256.Sum256(recordJSON)
	st := &Statement{
		Type:          StatementType,
		PredicateType: PredicateTestResult,
		Subject:       []Subject{{Name: RecordSubject, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}},
	}
	seen := map[string]bool{}
	addImage := func(name, digest string) {
		if digest == "" || seen[digest] {
			return
		}
		seen[digest] = true
		st.Subject = append(st.Subject, Subject{Name: name, Digest: map[string]string{"sha256": digest}})
	}
	addImage("firmware/"+firmwareName(r.Device.Firmware.Version), r.Device.Firmware.SHA256)
	for _, img := range r.Images {
		addImage("image/"+img.Name, img.SHA256)
	}
	switch r.Verdict {
	case Pass:
		st.Predicate.Result = "PASSED"
	case Fail:
		st.Predicate.Result = "FAILED"
	default:
		st.Predicate.Result = "WARNED"
	}
	if r.Declarations.SHA256 != "" {
		st.Predicate.Configuration = []ResourceDescriptor{{
			Name: "declarations/" + r.Declarations.Name, Digest: map[string]string{"sha256": r.Declarations.SHA256},
		}}
	}
	for _, c := range r.Cases {
		switch c.Verdict {
		case Pass:
			st.Predicate.PassedTests = append(st.Predicate.PassedTests, c.ID)
		case Fail:
			st.Predicate.FailedTests = append(st.Predicate.FailedTests, c.ID)
		case Error, NotRun, Inconclusive:
			st.Predicate.WarnedTests = append(st.Predicate.WarnedTests, c.ID)
		}
	}
	return st
}

func firmwareName(version string) string {
	if version == "" {
		return "installed"
	}
	return version
}

// Sign wraps payload in a DSSE envelope signed by key. key is any
// crypto.Signer whose public key is ECDSA P-256 or Ed25519: a key from
// LoadPrivateKey, or one held by a TPM or a PKCS#11 token (their Go
// bindings expose crypto.Signer), so the private key need never be in memory.
func Sign(key crypto.Signer, payloadType string, payload []byte) (*Envelope, error) {
	alg, err := sigAlgorithm(key.Public())
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	keyID, err := KeyID(key.Public())
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	pae := PAE(payloadType, payload)
	var sig []byte
	switch alg {
	case ECDSAP256:
		// crypto.Signer's ECDSA contract: sign the digest, ASN.1 DER out,
		// which is what DSSE verifiers (cosign included) expect.
		d := sha256.Sum256(pae)
		sig, err = key.Sign(rand.Reader, d[:], crypto.SHA256)
	case Ed25519:
		sig, err = key.Sign(rand.Reader, pae, crypto.Hash(0))
	}
	if err != nil {
		return nil, fmt.Errorf("sign with key %s: %w", keyID[:16], err)
	}
	return &Envelope{PayloadType: payloadType, Payload: payload, Signatures: []Signature{{KeyID: keyID, Sig: sig}}}, nil
}

// SignRecord signs the statement for a record whose JSON form is recordJSON
// (the exact bytes of record.json).
func SignRecord(key crypto.Signer, r *Record, recordJSON []byte) (*Envelope, error) {
	payload, err := json.Marshal(NewStatement(r, recordJSON))
	if err != nil {
		return nil, fmt.Errorf("encode statement for run %s: %w", r.RunID, err)
	}
	return Sign(key, PayloadType, payload)
}

// Verify checks that at least one of env's signatures was made by one of
// keys and returns the key ID that verified. Signatures by other keys are
// ignored (a record may be counter-signed); none verifying is ErrSignature.
func (env *Envelope) Verify(keys ...crypto.PublicKey) (string, error) {
	if len(env.Signatures) == 0 {
		return "", fmt.Errorf("%w: the envelope has no signatures", ErrSignature)
	}
	pae := PAE(env.PayloadType, env.Payload)
	var tried []string
	for _, pub := range keys {
		id, err := KeyID(pub)
		if err != nil {
			return "", err
		}
		for _, s := range env.Signatures {
			if s.KeyID != "" && s.KeyID != id {
				continue
			}
			if verifySig(pub, pae, s.Sig) {
				return id, nil
			}
		}
		tried = append(tried, id[:16])
	}
	var signed []string
	for _, s := range env.Signatures {
		signed = append(signed, shortID(s.KeyID))
	}
	return "", fmt.Errorf("%w: signed by key %v, checked against %v", ErrSignature, signed, tried)
}

func shortID(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	if id == "" {
		return "(no keyid)"
	}
	return id
}

func verifySig(pub crypto.PublicKey, msg, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, d[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	}
	return false
}

// Statement decodes the envelope's payload as an in-toto statement, checking
// the payload type and statement type on the way.
func (env *Envelope) Statement() (*Statement, error) {
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payloadType %q, want %q", ErrSignature, env.PayloadType, PayloadType)
	}
	var st Statement
	if err := json.Unmarshal(env.Payload, &st); err != nil {
		return nil, fmt.Errorf("%w: payload is not an in-toto statement: %v", ErrSignature, err)
	}
	if st.Type != StatementType {
		return nil, fmt.Errorf("%w: statement _type %q, want %q", ErrSignature, st.Type, StatementType)
	}
	if st.PredicateType != PredicateTestResult {
		return nil, fmt.Errorf("%w: predicateType %q, want %q", ErrSignature, st.PredicateType, PredicateTestResult)
	}
	return &st, nil
}

// SubjectDigest returns the sha256 digest the statement names for subject name.
func (st *Statement) SubjectDigest(name string) (string, bool) {
	for _, s := range st.Subject {
		if s.Name == name {
			d, ok := s.Digest["sha256"]
			return d, ok
		}
	}
	return "", false
}

// ParseEnvelope decodes record.dsse.json.
func ParseEnvelope(b []byte) (*Envelope, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var env Envelope
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	return &env, nil
}

// Marshal encodes the envelope as record.dsse.json holds it.
func (env *Envelope) Marshal() ([]byte, error) {
	b, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// PAE is DSSE's pre-authentication encoding: what is actually signed.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.Grow(32 + len(payloadType) + len(payload))
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// sigAlgorithm names the signing scheme for pub, or refuses it.
func sigAlgorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return ECDSAP256, nil
		}
		return "", fmt.Errorf("ECDSA key on curve %s: the bench signs with P-256 or Ed25519", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return Ed25519, nil
	}
	return "", fmt.Errorf("%T key: the bench signs with ECDSA P-256 or Ed25519", pub)
}
