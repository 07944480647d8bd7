package signing

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/certhub/certhub/internal/errs"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// HubKey is the hub's own signing key: it signs the access tokens the hub
// issues to consumers, the bodies of the webhooks it sends, its trust and
// status lists and its federation statements. Like the ledger key it is
// derived from the master key, so every replica holds the same key; its
// public half is in the JWKS next to the seal keys.
//
// It rotates in two phases (docs/federation.md, Rotating the hub key): a
// new generation is published inactive (in the JWKS and the hub's
// federation statements, signing nothing), then activated, and the key it
// replaces is retired: it signs nothing more but still verifies what it
// signed until HubKeyRetention has passed, when it is no longer published.
// Generation n is derived from the master key with its own label, so a
// replica needs only the generations' states (HubKeyStore) to hold every
// key. A HubKey is safe for concurrent use; Load swaps the ring at once.
type HubKey struct {
	master *MasterKey
	mu     sync.RWMutex
	active *hubKeyGen
	keys   []*hubKeyGen // published: inactive, active, retired within retention, by generation
}

type hubKeyGen struct {
	HubKeyRecord
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	kid  string
	jwk  json.RawMessage
}

// Hub key states.
const (
	HubKeyInactive = "inactive" // published, not yet signing
	HubKeyActive   = "active"   // signing
	HubKeyRetired  = "retired"  // signing nothing more, verifying what it signed
)

// HubKeyRetention is how long a retired hub key stays published: longer
// than anything it signed lives (an admission description, 7 days; access
// tokens, directories, trust and status lists, minutes to hours).
const HubKeyRetention = 8 * 24 * time.Hour

// HubKeyRecord is the state of one generation of the hub key.
type HubKeyRecord struct {
	Generation int    `json:"generation"`
	State      string `json:"state"`
	// KID is filled in when read through a HubKey (Records).
	KID         string     `json:"kid,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	// VouchedAt is when this hub first saw its parent's directory list the
	// key (federated hubs: a key is activated only once every hub can
	// have learned it).
	VouchedAt *time.Time `json:"vouched_at,omitempty"`
}

// HubKeyStore keeps the generations' states; an empty store is generation
// 1, active.
type HubKeyStore interface {
	// HubKeys lists the generations in order.
	HubKeys(ctx context.Context) ([]HubKeyRecord, error)
	// AddHubKey adds a generation (errs.Conflict when it exists).
	AddHubKey(ctx context.Context, r HubKeyRecord) error
	// ActivateHubKey makes the inactive generation gen active and the
	// active one retired, at once (errs.Conflict when gen is not inactive,
	// as when another replica activated it first).
	ActivateHubKey(ctx context.Context, gen int, at time.Time) error
	// VouchHubKey records when the parent was first seen vouching for gen.
	VouchHubKey(ctx context.Context, gen int, at time.Time) error
}

// NewHubKey derives the hub key: generation 1, active, until Load reads
// the generations' states.
func NewHubKey(m *MasterKey) (*HubKey, error) {
	h := &HubKey{master: m}
	if err := h.set([]HubKeyRecord{{Generation: 1, State: HubKeyActive}}, time.Time{}); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *HubKey) derive(r HubKeyRecord) (*hubKeyGen, error) {
	// Generation 1 keeps the label it always had: hubs that never rotate
	// keep their key.
	priv := ed25519.NewKeyFromSeed(h.master.derive(fmt.Sprintf("hub token key v%d", r.Generation)))
	pub := priv.Public().(ed25519.PublicKey)
	k, kid, err := publicJWK(pub, EdDSA)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	r.KID = kid
	return &hubKeyGen{HubKeyRecord: r, priv: priv, pub: pub, kid: kid, jwk: b}, nil
}

// set replaces the ring with the generations' states at now.
func (h *HubKey) set(recs []HubKeyRecord, now time.Time) error {
	if len(recs) == 0 {
		recs = []HubKeyRecord{{Generation: 1, State: HubKeyActive}}
	}
	var active *hubKeyGen
	var keys []*hubKeyGen
	for _, r := range recs {
		if r.Generation < 1 {
			return fmt.Errorf("hub key generation %d", r.Generation)
		}
		if r.State == HubKeyRetired && r.RetiredAt != nil && !now.IsZero() && now.Sub(*r.RetiredAt) >= HubKeyRetention {
			continue // no longer published
		}
		g, err := h.derive(r)
		if err != nil {
			return err
		}
		switch r.State {
		case HubKeyActive:
			if active != nil {
				return fmt.Errorf("hub key generations %d and %d are both active", active.Generation, r.Generation)
			}
			active = g
		case HubKeyInactive, HubKeyRetired:
		default:
			return fmt.Errorf("hub key generation %d: state %q", r.Generation, r.State)
		}
		keys = append(keys, g)
	}
	if active == nil {
		return errors.New("no hub key generation is active")
	}
	h.mu.Lock()
	h.active, h.keys = active, keys
	h.mu.Unlock()
	return nil
}

// Load reads the generations' states from the store (every replica does,
// at start and at every refresh).
func (h *HubKey) Load(ctx context.Context, st HubKeyStore, now time.Time) error {
	recs, err := st.HubKeys(ctx)
	if err != nil {
		return err
	}
	return h.set(recs, now)
}

// Records lists the published generations, with their kids.
func (h *HubKey) Records() []HubKeyRecord {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]HubKeyRecord, len(h.keys))
	for i, g := range h.keys {
		out[i] = g.HubKeyRecord
	}
	return out
}

// PublishedKey is a published hub key: what the JWKS and the hub's
// federation statements list.
type PublishedKey struct {
	KID   string
	JWK   json.RawMessage
	State string
}

// Published lists the published keys by generation.
func (h *HubKey) Published() []PublishedKey {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]PublishedKey, len(h.keys))
	for i, g := range h.keys {
		out[i] = PublishedKey{KID: g.kid, JWK: g.jwk, State: g.State}
	}
	return out
}

// Rotate publishes the next generation, inactive (the first phase). One
// rotation at a time: errs.Conflict while a generation is inactive.
func (h *HubKey) Rotate(ctx context.Context, st HubKeyStore, now time.Time) (HubKeyRecord, error) {
	recs, err := st.HubKeys(ctx)
	if err != nil {
		return HubKeyRecord{}, err
	}
	if len(recs) == 0 {
		// Generation 1 was implicit: write it down first.
		first := HubKeyRecord{Generation: 1, State: HubKeyActive, CreatedAt: now}
		if err := st.AddHubKey(ctx, first); err != nil && !errs.Is(err, errs.Conflict) {
			return HubKeyRecord{}, err
		}
		recs = []HubKeyRecord{first}
	}
	last := recs[len(recs)-1]
	for _, r := range recs {
		if r.State == HubKeyInactive {
			return HubKeyRecord{}, errs.E(errs.Conflict, "hub key generation %d is published and not yet active; a second rotation waits for it", r.Generation)
		}
	}
	next := HubKeyRecord{Generation: last.Generation + 1, State: HubKeyInactive, CreatedAt: now}
	if err := st.AddHubKey(ctx, next); err != nil {
		return HubKeyRecord{}, err
	}
	if err := h.Load(ctx, st, now); err != nil {
		return HubKeyRecord{}, err
	}
	g, err := h.derive(next)
	if err != nil {
		return HubKeyRecord{}, err
	}
	return g.HubKeyRecord, nil
}

// Activate makes the inactive generation active and retires the one it
// replaces (the second phase); errs.NotFound when none is inactive.
func (h *HubKey) Activate(ctx context.Context, st HubKeyStore, now time.Time) (HubKeyRecord, error) {
	if err := h.Load(ctx, st, now); err != nil {
		return HubKeyRecord{}, err
	}
	r, ok := h.Pending()
	if !ok {
		return HubKeyRecord{}, errs.E(errs.NotFound, "no hub key is waiting to be activated (certhub hub-key rotate publishes one)")
	}
	if err := st.ActivateHubKey(ctx, r.Generation, now); err != nil {
		return HubKeyRecord{}, err
	}
	if err := h.Load(ctx, st, now); err != nil {
		return HubKeyRecord{}, err
	}
	r.State, r.ActivatedAt = HubKeyActive, &now
	return r, nil
}

// Pending returns the inactive generation, if one is.
func (h *HubKey) Pending() (HubKeyRecord, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, g := range h.keys {
		if g.State == HubKeyInactive {
			return g.HubKeyRecord, true
		}
	}
	return HubKeyRecord{}, false
}

func (h *HubKey) current() *hubKeyGen {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.active
}

// verifier returns the public key of kid when it may verify: active or
// retired, never inactive (it has signed nothing yet).
func (h *HubKey) verifier(kid string) ed25519.PublicKey {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, g := range h.keys {
		if g.kid == kid && g.State != HubKeyInactive {
			return g.pub
		}
	}
	return nil
}

// KID is the active key's id: its RFC 7638 JWK thumbprint (SHA-256,
// base64url without padding), like every kid in the JWKS, with no prefix.
// It is in the protected header of everything the key signs, so a
// receiver picks the key out of /.well-known/jwks.json by it.
func (h *HubKey) KID() string { return h.current().kid }

// PublicJWK is the active key's public JWK.
func (h *HubKey) PublicJWK() json.RawMessage { return h.current().jwk }

func (g *hubKeyGen) headers(typ string) (jws.Headers, error) {
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, g.kid); err != nil {
		return nil, err
	}
	if typ != "" {
		if err := hdr.Set(jws.TypeKey, typ); err != nil {
			return nil, err
		}
	}
	return hdr, nil
}

// Sign signs a JSON payload with the active key as a compact JWS (alg
// EdDSA, its kid, typ when not empty): the trust list, the status lists,
// federation statements. Ed25519 is deterministic, so the same payload
// always gives the same bytes.
func (h *HubKey) Sign(payload []byte, typ string) ([]byte, error) {
	g := h.current()
	hdr, err := g.headers(typ)
	if err != nil {
		return nil, err
	}
	return jws.Sign(payload, jws.WithKey(jwa.EdDSA(), g.priv, jws.WithProtectedHeaders(hdr)))
}

// SignJWT signs a token's claims with the active key, with typ set (for
// access tokens "at+jwt", RFC 9068).
func (h *HubKey) SignJWT(t jwt.Token, typ string) (string, error) {
	g := h.current()
	hdr, err := g.headers(typ)
	if err != nil {
		return "", err
	}
	b, err := jwt.Sign(t, jwt.WithKey(jwa.EdDSA(), g.priv, jws.WithProtectedHeaders(hdr)))
	return string(b), err
}

// ParseJWT verifies a token the hub signed, with the key its kid names
// (active, or retired: a token signed just before a rotation stays good
// until it expires), and validates its claims with the options given
// (issuer, audience, clock).
func (h *HubKey) ParseJWT(token string, opts ...jwt.ParseOption) (jwt.Token, error) {
	pub := h.verifier(kidOf(token))
	if pub == nil {
		return nil, errors.New("not signed by a key of this hub")
	}
	return jwt.ParseString(token, append([]jwt.ParseOption{jwt.WithKey(jwa.EdDSA(), pub), jwt.WithValidate(true)}, opts...)...)
}

// Signs reports whether a compact JWS names a key of this hub that may
// have signed it (active or retired) in its header.
func (h *HubKey) Signs(token string) bool {
	return h.verifier(kidOf(token)) != nil
}

func kidOf(token string) string {
	msg, err := jws.ParseString(token)
	if err != nil || len(msg.Signatures()) != 1 {
		return ""
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	return kid
}

// SignDetached signs a body with the active key as a JWS with a detached
// payload (RFC 7515 appendix F): "header..signature", the header
// {"alg":"EdDSA","kid":KID}. The receiver verifies it against the body it
// received and the key of that kid in the hub's JWKS.
func (h *HubKey) SignDetached(body []byte) (string, error) {
	g := h.current()
	hdr, err := g.headers("")
	if err != nil {
		return "", err
	}
	b, err := jws.Sign(nil, jws.WithKey(jwa.EdDSA(), g.priv, jws.WithProtectedHeaders(hdr)), jws.WithDetachedPayload(body))
	return string(b), err
}

// ParseHubPublicKey reads a hub's public key from a JWK (as in a hub's
// /.well-known/jwks.json, a trust list or a federation directory): an
// Ed25519 public key. A private JWK is refused: no one but the hub itself
// should hold its private key.
func ParseHubPublicKey(b []byte) (ed25519.PublicKey, error) {
	k, err := jwk.ParseKey(bytes.TrimSpace(b))
	if err != nil {
		return nil, fmt.Errorf("not a JWK: %w", err)
	}
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return nil, err
	}
	pub, ok := raw.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an Ed25519 public key (kty OKP, crv Ed25519)", raw)
	}
	return pub, nil
}

// VerifyHubSigned checks a compact JWS that a hub key signed (alg EdDSA,
// one signature, typ in the protected header equal to typ, so one kind of
// statement never passes for another) and returns its payload and kid.
func VerifyHubSigned(token []byte, pub ed25519.PublicKey, typ string) (payload []byte, kid string, err error) {
	token = bytes.TrimSpace(token)
	if bytes.Count(token, []byte(".")) != 2 {
		return nil, "", errors.New("not a compact JWS (three base64url parts)")
	}
	msg, err := jws.Parse(token)
	if err != nil {
		return nil, "", err
	}
	if len(msg.Signatures()) != 1 {
		return nil, "", errors.New("not one signature")
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if alg, _ := h.Algorithm(); alg != jwa.EdDSA() {
		return nil, "", fmt.Errorf("alg %q, want EdDSA", alg)
	}
	if got, _ := h.Type(); got != typ {
		return nil, "", fmt.Errorf("typ %q, want %q", got, typ)
	}
	kid, _ = h.KeyID()
	payload, err = jws.Verify(token, jws.WithKey(jwa.EdDSA(), pub))
	if err != nil {
		return nil, "", fmt.Errorf("signature: %w", err)
	}
	return payload, kid, nil
}
