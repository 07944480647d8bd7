package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/certhub/certhub/internal/errs"
)

// Manager creates, rotates and uses seal keys. It caches opened signers and
// public keys by kid: both are immutable for the life of a key, so the cache
// can never go stale. Which key is active is read from the store on every
// seal, so a rotation made by another replica takes effect at once.
type Manager struct {
	store    KeyStore
	backends map[string]Backend
	defaultB string
	now      func() time.Time

	signers sync.Map // kid -> crypto.Signer
	publics sync.Map // kid -> verifyKey
	marks   sync.Map // kid -> compromiseMark (compromise.go)

	// ca, when the store keeps certificates too, is the seal CA's store:
	// every new key then gets a certificate (see sealcert.go).
	ca CAStore
	// CAName is the organisation the seal CA roots name (default
	// "certhub"), read when the roots are created.
	CAName  string
	caMu    sync.Mutex
	caRoots map[string]*caRoot // family -> opened root

	// foreign finds the keys of other hubs (SetForeign); nil outside a
	// federation.
	foreign ForeignKeys
}

type verifyKey struct {
	key       any // *ecdsa.PublicKey or ed25519.PublicKey
	alg       Algorithm
	authority string
	foreign   *ForeignKey // set for another hub's key
}

// NewManager returns a manager using the named default backend for new keys.
// If store also implements CAStore, the manager runs the hub's seal CA: every
// key it creates, rotates in or adds is issued a seal certificate.
func NewManager(store KeyStore, backends map[string]Backend, defaultBackend string, now func() time.Time) (*Manager, error) {
	if _, ok := backends[defaultBackend]; !ok {
		return nil, fmt.Errorf("unknown key backend %q", defaultBackend)
	}
	if now == nil {
		now = time.Now
	}
	m := &Manager{store: store, backends: backends, defaultB: defaultBackend, now: now, CAName: "certhub"}
	if ca, ok := store.(CAStore); ok {
		m.ca = ca
	}
	return m, nil
}

func (m *Manager) newKey(ctx context.Context, authority string, alg Algorithm) (*Key, error) {
	b := m.backends[m.defaultB]
	sealed, pub, err := b.Generate(ctx, alg, authority)
	if err != nil {
		return nil, errs.Wrap(err, "generate seal key")
	}
	jk, kid, err := publicJWK(pub, alg)
	if err != nil {
		return nil, errs.Wrap(err, "encode public key")
	}
	pj, err := json.Marshal(jk)
	if err != nil {
		return nil, errs.Wrap(err, "encode public key")
	}
	k := &Key{KID: kid, Authority: authority, Algorithm: alg, PublicJWK: pj, Backend: m.defaultB,
		Sealed: sealed, Status: KeyActive, CreatedAt: m.now().UTC().Truncate(time.Microsecond)}
	if m.ca != nil {
		// Issued before the key is stored, so a key never exists without
		// its certificate (the backfill covers keys from before the CA).
		if err := m.certify(ctx, k, pub); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// CreateKey gives an authority its first seal key.
func (m *Manager) CreateKey(ctx context.Context, authority string, alg Algorithm) (*Key, error) {
	k, err := m.newKey(ctx, authority, alg)
	if err != nil {
		return nil, err
	}
	if err := m.store.InsertKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// AddKey gives an authority an active key of another algorithm beside the
// ones it has (an SM2 key for the national seal beside the ES256 one, say).
// It does not change which key seals the authority's JWS documents, unless
// the authority had no active key. errs.Conflict if the authority already
// has an active key of alg: rotate that one instead.
func (m *Manager) AddKey(ctx context.Context, authority string, alg Algorithm) (*Key, error) {
	k, err := m.newKey(ctx, authority, alg)
	if err != nil {
		return nil, err
	}
	if err := m.store.InsertKey(ctx, k); err != nil {
		if errs.Is(err, errs.Conflict) {
			e := errs.E(errs.Conflict, "authority %s already has an active %s key; rotate it instead", authority, alg)
			e.Field = "algorithm"
			return nil, e
		}
		return nil, err
	}
	return k, nil
}

// SetDocumentAlgorithm makes the authority's active key of alg the one that
// seals its JWS documents, from the next document on.
func (m *Manager) SetDocumentAlgorithm(ctx context.Context, authority string, alg Algorithm) error {
	err := m.store.SetDocumentKey(ctx, authority, alg)
	if errs.Is(err, errs.NotFound) {
		return errs.Field("document_algorithm", "authority %s has no active %s key; add one first", authority, alg)
	}
	return err
}

// DocumentAlgorithm is the algorithm of the key that seals the authority's
// JWS documents, from its keys as Keys lists them; "" if none does.
func DocumentAlgorithm(keys []*Key) Algorithm {
	for _, k := range keys {
		if k.Status == KeyActive && k.Documents {
			return k.Algorithm
		}
	}
	return ""
}

// Rotate replaces one of the authority's active keys with a new one: the
// key of alg, or (alg "" or an algorithm it has no active key of) its
// document key; the new key seals documents if the replaced key did. So for
// an authority with one key, rotating to another algorithm switches its
// documents to that algorithm. Older keys keep verifying.
func (m *Manager) Rotate(ctx context.Context, authority string, alg Algorithm) (*Key, error) {
	if alg == "" {
		cur, err := m.store.ActiveKey(ctx, authority)
		switch {
		case err == nil:
			alg = cur.Algorithm
		case errs.Is(err, errs.NotFound):
			alg = ES256
		default:
			return nil, err
		}
	}
	k, err := m.newKey(ctx, authority, alg)
	if err != nil {
		return nil, err
	}
	if err := m.store.RotateKey(ctx, authority, k, k.CreatedAt); err != nil {
		return nil, err
	}
	return k, nil
}

// Key returns a key by kid; errs.NotFound if unknown.
func (m *Manager) Key(ctx context.Context, kid string) (*Key, error) {
	return m.store.GetKey(ctx, kid)
}

// Keys lists keys of an authority, or all keys with authority "".
func (m *Manager) Keys(ctx context.Context, authority string) ([]*Key, error) {
	return m.store.ListKeys(ctx, authority)
}

func (m *Manager) signer(ctx context.Context, k *Key) (crypto.Signer, error) {
	if s, ok := m.signers.Load(k.KID); ok {
		return s.(crypto.Signer), nil
	}
	b, ok := m.backends[k.Backend]
	if !ok {
		return nil, errs.E(errs.Internal, "seal key %s uses backend %q, which is not configured", k.KID, k.Backend)
	}
	s, err := b.Signer(ctx, k)
	if err != nil {
		return nil, errs.Wrap(err, "open seal key")
	}
	if k.Algorithm == SM2 {
		if err := checkSM2Signer(s); err != nil {
			return nil, errs.Wrap(err, "seal key %s (backend %s)", k.KID, k.Backend)
		}
	}
	m.signers.Store(k.KID, s)
	return s, nil
}

// Seal signs payload as a compact JWS with the authority's active key. The
// protected header carries alg, kid, typ "vc+jwt" and cty "vc" (W3C VC-JOSE).
func (m *Manager) Seal(ctx context.Context, authority string, payload []byte) (document []byte, kid string, err error) {
	seal, err := m.Sealer(ctx, authority)
	if err != nil {
		return nil, "", err
	}
	return seal(payload)
}

// SealFunc seals one payload; it is safe for concurrent use.
type SealFunc func(payload []byte) (document []byte, kid string, err error)

// Sealer resolves the authority's active key once and returns a function
// that seals with it, for batches.
func (m *Manager) Sealer(ctx context.Context, authority string) (SealFunc, error) {
	k, err := m.store.ActiveKey(ctx, authority)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, errs.E(errs.Conflict, "authority %s has no active seal key; rotate to create one", authority)
		}
		return nil, err
	}
	signer, err := m.signer(ctx, k)
	if err != nil {
		return nil, err
	}
	// Every document of a sealer has the same protected header, built and
	// marshalled here once as jws.Sign would. Each document is then its
	// signing input, signed by the algorithm's registered jwx signer (the
	// one jws.Sign calls), and that signature appended: jwx's building
	// blocks (jwsbb). Through jws.Sign, a third of a seal's time went into
	// making the same header again.
	h := jws.NewHeaders()
	for name, v := range map[string]any{jws.AlgorithmKey: k.Algorithm.jwa(), jws.KeyIDKey: k.KID, jws.TypeKey: "vc+jwt", jws.ContentTypeKey: "vc"} {
		if err := h.Set(name, v); err != nil {
			return nil, errs.Wrap(err, "build JWS header")
		}
	}
	header, err := json.Marshal(h)
	if err != nil {
		return nil, errs.Wrap(err, "build JWS header")
	}
	sign, err := jws.SignerFor(k.Algorithm.jwa())
	if err != nil {
		return nil, errs.Wrap(err, "seal with %s", k.Algorithm)
	}
	enc := base64.RawURLEncoding
	return func(payload []byte) ([]byte, string, error) {
		// Room for the signature too (132 bytes covers ES256, EdDSA, SM2).
		buf := make([]byte, 0, enc.EncodedLen(len(header))+enc.EncodedLen(len(payload))+enc.EncodedLen(132)+2)
		input := jwsbb.SignBuffer(buf, header, payload, enc, true)
		sig, err := sign.Sign(signer, input)
		if err != nil {
			return nil, "", errs.Wrap(err, "seal document")
		}
		return jwsbb.AppendSignature(input, sig, enc), k.KID, nil
	}, nil
}

// Verification failure reasons reported by Verify (in errs.Error.Field).
const (
	ReasonMalformed    = "malformed_document"
	ReasonUnknownKey   = "unknown_key"
	ReasonBadSignature = "bad_signature"
	// ReasonDERSignature and ReasonSM2WithoutZ are causes of a
	// bad_signature, given in VerifyError.Cause: an SM2SM3 signature that
	// is ASN.1 DER instead of raw r‖s, and one computed over SM3(message)
	// without the Z value of user ID 1234567812345678.
	ReasonDERSignature = "der_signature"
	ReasonSM2WithoutZ  = "sm2_signature_without_z"
)

// Verified is what a good signature tells.
type Verified struct {
	Payload   []byte
	KID       string
	Authority string
	Algorithm Algorithm
	// Foreign is set when the key is another hub's, as its trust list
	// states it: the caller judges the key's window from it.
	Foreign *ForeignKey
}

// VerifyError says why a document does not verify; Reason is one of the
// Reason* constants and KID names the key the document claimed, if any.
// Cause, when known, narrows a bad_signature down to a producer's defect
// (ReasonDERSignature, ReasonSM2WithoutZ); Reason stays bad_signature so
// that callers looking for it keep finding it.
type VerifyError struct {
	Reason string
	Cause  string
	KID    string
	Detail string
}

func (e *VerifyError) Error() string { return e.Reason + ": " + e.Detail }

type protectedHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// Verify checks a compact JWS against the key its kid names. It returns a
// *VerifyError for documents that do not verify, other errors for failures of
// the store.
func (m *Manager) Verify(ctx context.Context, document []byte) (*Verified, error) {
	dot := -1
	for i, c := range document {
		if c == '.' {
			dot = i
			break
		}
	}
	if dot <= 0 {
		return nil, &VerifyError{Reason: ReasonMalformed, Detail: "not a compact JWS (header.payload.signature)"}
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(dot))
	n, err := base64.RawURLEncoding.Decode(raw, document[:dot])
	if err != nil {
		return nil, &VerifyError{Reason: ReasonMalformed, Detail: "protected header is not base64url"}
	}
	var h protectedHeader
	if err := json.Unmarshal(raw[:n], &h); err != nil {
		return nil, &VerifyError{Reason: ReasonMalformed, Detail: "protected header is not JSON"}
	}
	if h.Kid == "" {
		return nil, &VerifyError{Reason: ReasonMalformed, Detail: "protected header has no kid"}
	}
	vk, err := m.verifyKey(ctx, h.Kid)
	if err != nil {
		return nil, err
	}
	if want := vk.alg.JWSAlgorithm(); h.Alg != want {
		return nil, &VerifyError{Reason: ReasonBadSignature, KID: h.Kid, Detail: fmt.Sprintf("header alg %q does not match key alg %s", h.Alg, want)}
	}
	payload, err := jws.VerifyCompactFast(vk.key, document, vk.alg.jwa())
	if err != nil {
		ve := &VerifyError{Reason: ReasonBadSignature, KID: h.Kid, Detail: "signature does not verify"}
		if vk.alg == SM2 {
			ve.Cause, ve.Detail = diagnoseSM2Document(vk.key.(*ecdsa.PublicKey), document)
		}
		return nil, ve
	}
	return &Verified{Payload: payload, KID: h.Kid, Authority: vk.authority, Algorithm: vk.alg, Foreign: vk.foreign}, nil
}

// diagnoseSM2Document splits a compact JWS whose SM2SM3 signature failed
// and says why (see diagnoseSM2).
func diagnoseSM2Document(pub *ecdsa.PublicKey, document []byte) (cause, detail string) {
	parts := bytes.Split(document, []byte("."))
	if len(parts) != 3 {
		return "", "not a compact JWS (header.payload.signature)"
	}
	sig, err := base64.RawURLEncoding.DecodeString(string(parts[2]))
	if err != nil {
		return "", "signature is not base64url"
	}
	return diagnoseSM2(pub, document[:len(parts[0])+1+len(parts[1])], sig)
}

func (m *Manager) verifyKey(ctx context.Context, kid string) (*verifyKey, error) {
	if v, ok := m.publics.Load(kid); ok {
		return v.(*verifyKey), nil
	}
	if len(kid) > 128 {
		return nil, &VerifyError{Reason: ReasonUnknownKey, Detail: "kid is too long"}
	}
	k, err := m.store.GetKey(ctx, kid)
	if errs.Is(err, errs.NotFound) {
		// Another hub's key is looked up each time, never cached in
		// publics: its trust list may mark it compromised later.
		if v, ferr := m.foreignKey(ctx, kid); v != nil || ferr != nil {
			return v, ferr
		}
		return nil, &VerifyError{Reason: ReasonUnknownKey, KID: kid, Detail: "no seal key has this kid"}
	}
	if err != nil {
		return nil, err
	}
	jk, err := jwk.ParseKey(k.PublicJWK)
	if err != nil {
		return nil, errs.Wrap(err, "parse stored public key %s", kid)
	}
	var raw any
	if err := jwk.Export(jk, &raw); err != nil {
		return nil, errs.Wrap(err, "export stored public key %s", kid)
	}
	v := &verifyKey{key: raw, alg: k.Algorithm, authority: k.Authority}
	m.publics.Store(kid, v)
	return v, nil
}

// JWKS returns the JSON Web Key Set of every key that can verify a stored
// document, active and retired, followed by any extra public keys given. A
// key with a seal certificate carries it in x5c (RFC 7517: standard base64
// DER, the key's certificate first, then its chain), SM2 keys too.
func (m *Manager) JWKS(ctx context.Context, extra ...json.RawMessage) ([]byte, error) {
	keys, err := m.store.ListKeys(ctx, "")
	if err != nil {
		return nil, err
	}
	set := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: make([]json.RawMessage, 0, len(keys))}
	for _, k := range keys {
		j := json.RawMessage(k.PublicJWK)
		if len(k.Certificate) > 0 {
			if j, err = withX5C(k); err != nil {
				return nil, errs.Wrap(err, "seal key %s", k.KID)
			}
		}
		set.Keys = append(set.Keys, j)
	}
	set.Keys = append(set.Keys, extra...)
	return json.Marshal(set)
}

// IsVerifyError reports whether err says the document does not verify (as
// opposed to a failure of the hub).
func IsVerifyError(err error) (*VerifyError, bool) {
	var ve *VerifyError
	ok := errors.As(err, &ve)
	return ve, ok
}
