package results

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
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

// Envelope is a DSSE envelope (record.dsse.json): the reference
// implementation's type, which the bench's methods below verify and decode.
// Payload and each signature's Sig are base64, as DSSE has them in JSON.
type Envelope dsse.Envelope

// Signature is one DSSE signature: KeyID is KeyID(public key) and Sig the
// base64 of the raw signature (ASN.1 DER for ECDSA, 64 bytes for Ed25519).
type Signature = dsse.Signature

// Statement is an in-toto Statement v1 with the test-result predicate.
// These structs are written here rather than taken from
// github.com/in-toto/attestation's Go module, whose types are generated from
// protobuf and bring the protobuf runtime for five small JSON objects.
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
	s, err := newSigner(key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	es, err := dsse.NewEnvelopeSigner(s)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	env, err := es.SignPayload(context.Background(), payloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign with key %s: %w", s.id[:16], err)
	}
	return (*Envelope)(env), nil
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
	var (
		vs    []dsse.Verifier
		tried []string
		seen  = map[string]bool{}
	)
	for _, pub := range keys {
		v, err := newVerifier(pub)
		if err != nil {
			return "", err
		}
		// One verifier per key: the library prints to stdout when two
		// verifiers with one key ID both accept, and bench verify's stdout
		// may be JSON.
		if seen[v.id] {
			continue
		}
		seen[v.id] = true
		vs = append(vs, v)
		tried = append(tried, v.id[:16])
	}
	var signed []string
	for _, s := range env.Signatures {
		signed = append(signed, shortID(s.KeyID))
	}
	if len(vs) == 0 {
		return "", fmt.Errorf("%w: signed by key %v, and no public key to check against", ErrSignature, signed)
	}
	ev, err := dsse.NewEnvelopeVerifier(vs...)
	if err != nil {
		return "", fmt.Errorf("verify envelope: %w", err)
	}
	accepted, err := ev.Verify(context.Background(), (*dsse.Envelope)(env))
	if err != nil || len(accepted) == 0 {
		return "", fmt.Errorf("%w: signed by key %v, checked against %v: %v", ErrSignature, signed, tried, err)
	}
	return accepted[0].KeyID, nil
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

// keySigner adapts a crypto.Signer to dsse.Signer: dsse hands over the whole
// PAE; crypto.Signer wants a SHA-256 digest for ECDSA (and answers in ASN.1
// DER, which DSSE verifiers, cosign included, expect) and the message
// itself for Ed25519.
type keySigner struct {
	key crypto.Signer
	alg string
	id  string
}

var _ dsse.Signer = (*keySigner)(nil)

func newSigner(key crypto.Signer) (*keySigner, error) {
	alg, err := sigAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	id, err := KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	return &keySigner{key: key, alg: alg, id: id}, nil
}

func (s *keySigner) KeyID() (string, error) { return s.id, nil }

func (s *keySigner) Sign(_ context.Context, pae []byte) ([]byte, error) {
	if s.alg == Ed25519 {
		return s.key.Sign(rand.Reader, pae, crypto.Hash(0))
	}
	d := sha256.Sum256(pae)
	return s.key.Sign(rand.Reader, d[:], crypto.SHA256)
}

// keyVerifier is the public half of keySigner, as a dsse.Verifier.
type keyVerifier struct {
	pub crypto.PublicKey
	id  string
}

var _ dsse.Verifier = (*keyVerifier)(nil)

func newVerifier(pub crypto.PublicKey) (*keyVerifier, error) {
	if _, err := sigAlgorithm(pub); err != nil {
		return nil, fmt.Errorf("verify envelope: %w", err)
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &keyVerifier{pub: pub, id: id}, nil
}

func (v *keyVerifier) KeyID() (string, error)   { return v.id, nil }
func (v *keyVerifier) Public() crypto.PublicKey { return v.pub }

func (v *keyVerifier) Verify(_ context.Context, pae, sig []byte) error {
	ok := false
	switch k := v.pub.(type) {
	case *ecdsa.PublicKey:
		d := sha256.Sum256(pae)
		ok = ecdsa.VerifyASN1(k, d[:], sig)
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, pae, sig)
	}
	if !ok {
		return ErrSignature
	}
	return nil
}

// Statement decodes the envelope's payload as an in-toto statement, checking
// the payload type and statement type on the way.
func (env *Envelope) Statement() (*Statement, error) {
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: payloadType %q, want %q", ErrSignature, env.PayloadType, PayloadType)
	}
	payload, err := (*dsse.Envelope)(env).DecodeB64Payload()
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrSignature, err)
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
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
	// Check the base64 here, so a mangled envelope is reported as one
	// rather than as a signature that does not verify.
	if _, err := (*dsse.Envelope)(&env).DecodeB64Payload(); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: payload: %w", err)
	}
	for i, s := range env.Signatures {
		// DSSE allows either base64 alphabet, as the library's decoder does.
		if _, err := base64.StdEncoding.DecodeString(s.Sig); err != nil {
			if _, err := base64.URLEncoding.DecodeString(s.Sig); err != nil {
				return nil, fmt.Errorf("not a DSSE envelope: signature %d is not base64: %w", i+1, err)
			}
		}
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
