package federation

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// The typ of each statement's protected header.
const (
	DescriptionType = "certhub-hub+jwt"
	EntryType       = "certhub-hub-entry+jwt"
	DirectoryType   = "certhub-directory+jwt"
)

const (
	// EntryTTL is how long a parent's entry for a child is good for; the
	// parent re-signs it every RefreshEvery.
	EntryTTL = 10 * time.Minute
	// DirectoryTTL is the directory's exp after its iat.
	DirectoryTTL = 10 * time.Minute
	// RefreshEvery is how often a hub re-signs its directory and fetches
	// its parent's and children's.
	RefreshEvery = time.Minute
	// AdmissionTTL is how long a description made for admission (certhub
	// federation describe) may be presented.
	AdmissionTTL = 7 * 24 * time.Hour
	// clockSkew is how far in the future an iat may be.
	clockSkew = time.Minute
	// maxStatement bounds a statement's size (a directory of a province's
	// hundred hubs is well under it).
	maxStatement = 4 << 20
)

// Key states in a hub's key list (two-phase rotation, signing.HubKey: a
// new key is published inactive, becomes active once every hub can have
// learned it, and the old one is retired). The state tells the hub itself
// which key signs: only the active one. A verifier accepts a signature by
// any key the entry lists: an inactive key is there so that every hub
// holds it before it signs (a hub that learns of the activation a refresh
// later still verifies), a retired one so that what it signed stays good
// while it lives (a statement lives minutes; a retired key is listed for
// days). A key no longer listed verifies nothing.
const (
	KeyActive   = signing.HubKeyActive
	KeyInactive = signing.HubKeyInactive
	KeyRetired  = signing.HubKeyRetired
)

// verifies reports whether a key in state may verify a statement: any
// state a key can be listed in.
func verifies(state string) bool {
	return state == KeyActive || state == KeyRetired || state == KeyInactive
}

// Key is one of a hub's keys.
type Key struct {
	KID   string          `json:"kid"`
	JWK   json.RawMessage `json:"jwk"`
	State string          `json:"state"`
}

// Hub is what the federation knows of a hub.
type Hub struct {
	ID     string `json:"hub_id"`
	Name   string `json:"name"`
	URL    string `json:"url"`
	Parent string `json:"parent,omitempty"`
	Keys   []Key  `json:"keys"`
	// Authorities are the USCCs of the issuing authorities whose
	// certificates the hub holds; Types the certificate type codes.
	Authorities []string `json:"authorities"`
	Types       []string `json:"types"`
	// TrustList is the URL of the hub's signed trust list (its seal keys).
	TrustList string `json:"trust_list"`
}

// statement is the payload of a description or an entry: the hub, and who
// says so (iss) until when.
type statement struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
	Hub
}

type directoryClaims struct {
	Issuer   string   `json:"iss"`
	Root     string   `json:"root"`
	IssuedAt int64    `json:"iat"`
	Expires  int64    `json:"exp"`
	Entries  []string `json:"entries"`
}

// RootKey is the federation's trust anchor, configured out of band on
// every hub (certhub federation root-key writes it on the root): the
// root's active key, and while the root rotates its key, in Keys every key
// it publishes (the file given out before the new key is activated lists
// both, so hubs holding it follow the rotation).
type RootKey struct {
	HubID string          `json:"hub_id"`
	KID   string          `json:"kid"`
	JWK   json.RawMessage `json:"jwk"`
	Keys  []RootKeyEntry  `json:"keys,omitempty"`
}

// RootKeyEntry is one key of a root key file.
type RootKeyEntry struct {
	KID string          `json:"kid"`
	JWK json.RawMessage `json:"jwk"`
}

// entries lists every key of the file.
func (r RootKey) entries() []RootKeyEntry {
	out := []RootKeyEntry{{KID: r.KID, JWK: r.JWK}}
	for _, k := range r.Keys {
		if k.KID != r.KID {
			out = append(out, k)
		}
	}
	return out
}

// ParseRootKey reads a root key file.
func ParseRootKey(b []byte) (RootKey, error) {
	var r RootKey
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fail(BadRootKey, "", "not a root key file ({hub_id, kid, jwk}): %v", err)
	}
	if err := ValidHubID(r.HubID); err != nil {
		return r, fail(BadRootKey, "", "hub_id: %v", err)
	}
	for i, k := range r.entries() {
		at := "jwk"
		if i > 0 {
			at = fmt.Sprintf("keys[%d]", i-1)
		}
		if _, err := signing.ParseHubPublicKey(k.JWK); err != nil {
			return r, fail(BadRootKey, "", "%s: %v", at, err)
		}
		if k.KID == "" {
			return r, fail(BadRootKey, "", "%s: kid is required", at)
		}
	}
	return r, nil
}

// Reason says why a statement was refused.
type Reason string

// The reasons (docs/federation.md).
const (
	BadRootKey       Reason = "bad_root_key"      // the configured root key file is unusable
	BadDirectory     Reason = "bad_directory"     // not a directory: unsigned, wrong typ, bad payload
	BadSignature     Reason = "bad_signature"     // the directory's own signature does not verify
	UnknownSigner    Reason = "unknown_signer"    // signed by a hub no chain from the root vouches for
	ExpiredDirectory Reason = "expired_directory" // past its exp
	BadEntry         Reason = "bad_entry"         // an entry's signature does not verify, or it is malformed
	OutsideRegion    Reason = "outside_region"    // a hub outside its parent's region, or an authority outside the hub's
	BadDescription   Reason = "bad_description"   // a hub's description: unsigned, wrongly signed, expired, malformed
	NotParent        Reason = "not_parent"        // a description names another hub as its parent
)

// Error is a refused statement.
type Error struct {
	Reason Reason
	Hub    string // the hub the problem is about, when one is
	Err    error
}

func (e *Error) Error() string {
	if e.Hub != "" {
		return fmt.Sprintf("%s (hub %s): %v", e.Reason, e.Hub, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// As lets the API and the CLI see a refusal as the hub's invalid-input
// error (400) with this message, reason first.
func (e *Error) As(target any) bool {
	if p, ok := target.(**errs.Error); ok {
		*p = &errs.Error{Code: errs.Invalid, Message: e.Error()}
		return true
	}
	return false
}

func fail(r Reason, hub, format string, args ...any) *Error {
	return &Error{Reason: r, Hub: hub, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns err's Reason, or "".
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// Peek reads a compact JWS's payload (into out) and kid without verifying
// it: only to find the key that will, or to read what a document whose
// signature was checked elsewhere says it is.
func Peek(token string, out any) (kid string, err error) {
	if strings.Count(token, ".") != 2 {
		return "", errors.New("not a compact JWS (three base64url parts)")
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil {
		return "", err
	}
	if len(msg.Signatures()) != 1 {
		return "", errors.New("not one signature")
	}
	kid, _ = msg.Signatures()[0].ProtectedHeaders().KeyID()
	if err := json.Unmarshal(msg.Payload(), out); err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	return kid, nil
}

// verifyBy checks token (typ) against the key kid of h and unmarshals its
// payload into out.
func verifyBy(token, typ, kid string, h *Hub, out any) error {
	for _, k := range h.Keys {
		if k.KID != kid {
			continue
		}
		if !verifies(k.State) {
			return fmt.Errorf("signed by hub %s's key %s, which is %s", h.ID, kid, k.State)
		}
		pub, err := signing.ParseHubPublicKey(k.JWK)
		if err != nil {
			return fmt.Errorf("hub %s's key %s: %w", h.ID, kid, err)
		}
		return verifyWith(token, typ, pub, out)
	}
	return fmt.Errorf("hub %s has no key %q", h.ID, kid)
}

func verifyWith(token, typ string, pub ed25519.PublicKey, out any) error {
	payload, _, err := signing.VerifyHubSigned([]byte(token), pub, typ)
	if err != nil {
		return err
	}
	return json.Unmarshal(payload, out)
}

// check validates a hub's statement of itself or of a child: fields
// present, ids valid, the hub inside its parent's region and its
// authorities inside its own.
func (h *Hub) check() *Error {
	if err := ValidHubID(h.ID); err != nil {
		return fail(BadEntry, h.ID, "hub_id: %v", err)
	}
	if h.Name == "" || certificates.LineProblem(h.Name) != "" || checkURL(h.URL) != nil {
		return fail(BadEntry, h.ID, "a name (one line of text) and an http(s) url are required")
	}
	if h.Parent != "" && !ChildOf(h.ID, h.Parent) {
		return fail(OutsideRegion, h.ID, "hub %s is not inside the region of its parent %s", h.ID, h.Parent)
	}
	active := 0
	for _, k := range h.Keys {
		if _, err := signing.ParseHubPublicKey(k.JWK); err != nil || k.KID == "" {
			return fail(BadEntry, h.ID, "key %q: not an Ed25519 public JWK with a kid", k.KID)
		}
		if k.State == KeyActive {
			active++
		} else if k.State != KeyInactive && k.State != KeyRetired {
			return fail(BadEntry, h.ID, "key %s: state %q", k.KID, k.State)
		}
	}
	if active == 0 {
		return fail(BadEntry, h.ID, "no active key")
	}
	for _, a := range h.Authorities {
		r, err := AuthorityRegion(a)
		if err != nil {
			return fail(OutsideRegion, h.ID, "authority: %v", err)
		}
		if !Within(r, h.ID) {
			return fail(OutsideRegion, h.ID, "authority %s is registered in region %s, outside hub %s's region", a, r, h.ID)
		}
	}
	return nil
}

// Entry is a verified directory entry.
type Entry struct {
	Hub
	// Signer is the hub that signed it: the parent, or the root itself.
	Signer   string    `json:"signer"`
	IssuedAt time.Time `json:"issued_at"`
	Expires  time.Time `json:"expires"`
	// Token is the entry as signed, passed on as it is.
	Token string `json:"-"`
	// Stale is set on an entry past its exp, kept from a last good
	// directory: good for verifying what the hub signed, not for live
	// lookups.
	Stale bool `json:"stale,omitempty"`
}

// View is a verified directory.
type View struct {
	Issuer   string
	Root     string
	IssuedAt time.Time
	Expires  time.Time
	// Hubs are the hubs a chain of signed entries from the root vouches
	// for, by id.
	Hubs map[string]*Entry
	// Dropped says which entries were left out and why (expired, or no
	// chain to the root): not errors, a directory passes on what it knows.
	Dropped []string
}

// Hub returns the entry of id, or nil.
func (v *View) Hub(id string) *Entry {
	if v == nil {
		return nil
	}
	return v.Hubs[id]
}

// Sorted lists the hubs by id.
func (v *View) Sorted() []*Entry {
	out := make([]*Entry, 0, len(v.Hubs))
	for _, e := range v.Hubs {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// VerifyDirectory checks a directory against the root key at now: each
// entry's signature by its parent's active key, back to the root's entry
// signed by the root key; every hub inside its parent's region and every
// authority inside its hub's; the directory's own signature by a hub so
// vouched for; iat not in the future and exp not past. With staleOK (a
// last good directory kept for verification while its hub is down) the
// directory's exp and its entries' are not enforced, and entries past
// theirs are marked Stale. Otherwise expired entries, and always entries
// with no chain to the root, are dropped, not refused; an entry whose
// signature fails is refused: someone changed it.
func VerifyDirectory(token []byte, root RootKey, now time.Time, staleOK bool) (*View, error) {
	if len(token) > maxStatement {
		return nil, fail(BadDirectory, "", "%d bytes, over the %d a directory may have", len(token), maxStatement)
	}
	tok := string(bytes.TrimSpace(token))
	var d directoryClaims
	kid, err := Peek(tok, &d)
	if err != nil {
		return nil, fail(BadDirectory, "", "%v", err)
	}
	if d.Issuer == "" || d.IssuedAt == 0 || d.Expires == 0 {
		return nil, fail(BadDirectory, "", "iss, iat and exp are required")
	}
	if d.Root != root.HubID {
		return nil, fail(UnknownSigner, d.Issuer, "the directory's root is %q, the configured root is %s", d.Root, root.HubID)
	}
	hubs, dropped, err := chain(d.Entries, root, now, true)
	if err != nil {
		return nil, err
	}
	signer := hubs[d.Issuer]
	if signer == nil {
		return nil, fail(UnknownSigner, d.Issuer, "the directory is signed by hub %q, which no chain of entries from the root vouches for", d.Issuer)
	}
	var again directoryClaims
	if err := verifyBy(tok, DirectoryType, kid, &signer.Hub, &again); err != nil {
		return nil, fail(BadSignature, d.Issuer, "%v", err)
	}
	iat, exp := time.Unix(d.IssuedAt, 0), time.Unix(d.Expires, 0)
	if iat.After(now.Add(clockSkew)) {
		return nil, fail(BadDirectory, d.Issuer, "issued at %s, in the future", iat.UTC().Format(time.RFC3339))
	}
	if !staleOK {
		if !now.Before(exp) {
			return nil, fail(ExpiredDirectory, d.Issuer, "expired at %s", exp.UTC().Format(time.RFC3339))
		}
		if signer.Stale {
			return nil, fail(UnknownSigner, d.Issuer, "the entry %s signed for hub %s expired at %s: no one vouches for it now",
				signer.Signer, d.Issuer, signer.Expires.UTC().Format(time.RFC3339))
		}
		for id, e := range hubs {
			if e.Stale {
				delete(hubs, id)
				dropped = append(dropped, fmt.Sprintf("hub %s: the entry %s signed expired at %s", id, e.Signer, e.Expires.UTC().Format(time.RFC3339)))
			}
		}
		sort.Strings(dropped)
	}
	return &View{Issuer: d.Issuer, Root: d.Root, IssuedAt: iat, Expires: exp, Hubs: hubs, Dropped: dropped}, nil
}

// chain verifies entries from the root down.
func chain(tokens []string, root RootKey, now time.Time, staleOK bool) (map[string]*Entry, []string, error) {
	type candidate struct {
		token string
		kid   string
		st    statement
	}
	bySigner := map[string][]candidate{}
	for i, t := range tokens {
		var st statement
		kid, err := Peek(t, &st)
		if err != nil {
			return nil, nil, fail(BadEntry, "", "entry %d: %v", i, err)
		}
		bySigner[st.Issuer] = append(bySigner[st.Issuer], candidate{t, kid, st})
	}
	hubs := map[string]*Entry{}
	var dropped []string
	accept := func(c candidate, signer *Hub, pub ed25519.PublicKey) error {
		var st statement
		var err error
		if pub != nil {
			err = verifyWith(c.token, EntryType, pub, &st)
		} else {
			err = verifyBy(c.token, EntryType, c.kid, signer, &st)
		}
		if err != nil {
			return fail(BadEntry, c.st.Subject, "entry signed by %s: %v", c.st.Issuer, err)
		}
		if st.Subject != st.ID {
			return fail(BadEntry, st.ID, "sub %q is not hub_id %q", st.Subject, st.ID)
		}
		if e := st.Hub.check(); e != nil {
			return e
		}
		if st.Issuer != st.ID && st.Parent != st.Issuer {
			return fail(BadEntry, st.ID, "signed by %s, but its parent is %q", st.Issuer, st.Parent)
		}
		exp := time.Unix(st.Expires, 0)
		stale := !now.Before(exp)
		if stale && !staleOK {
			dropped = append(dropped, fmt.Sprintf("hub %s: the entry %s signed expired at %s", st.ID, st.Issuer, exp.UTC().Format(time.RFC3339)))
			return nil
		}
		if prev := hubs[st.ID]; prev == nil || prev.IssuedAt.Unix() < st.IssuedAt {
			hubs[st.ID] = &Entry{Hub: st.Hub, Signer: st.Issuer, IssuedAt: time.Unix(st.IssuedAt, 0), Expires: exp, Token: c.token, Stale: stale}
		}
		return nil
	}
	// The root's own entry, signed by the configured root key.
	rootKeys := root.entries()
	rootPubs := make([]ed25519.PublicKey, len(rootKeys))
	for i, k := range rootKeys {
		pub, err := signing.ParseHubPublicKey(k.JWK)
		if err != nil {
			return nil, nil, fail(BadRootKey, root.HubID, "%v", err)
		}
		rootPubs[i] = pub
	}
	for _, c := range bySigner[root.HubID] {
		if c.st.Subject != root.HubID {
			continue
		}
		i := slices.IndexFunc(rootKeys, func(k RootKeyEntry) bool { return k.KID == c.kid })
		if i < 0 {
			return nil, nil, fail(BadEntry, root.HubID, "the root's entry is signed by key %q, which the configured root key file does not list (%s)", c.kid, root.KID)
		}
		if err := accept(c, nil, rootPubs[i]); err != nil {
			return nil, nil, err
		}
		if r := hubs[root.HubID]; r != nil && (r.Parent != "" || !slices.ContainsFunc(r.Keys, func(k Key) bool { return k.KID == c.kid && verifies(k.State) })) {
			return nil, nil, fail(BadEntry, root.HubID, "the root's entry must have no parent and list the key that signed it")
		}
	}
	// Then each trusted hub's children, level by level.
	done := map[string]bool{}
	for progress := true; progress; {
		progress = false
		ids := make([]string, 0, len(hubs))
		for id := range hubs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if done[id] {
				continue
			}
			done[id], progress = true, true
			for _, c := range bySigner[id] {
				if c.st.Subject == id {
					continue // the root's own, done above
				}
				if err := accept(c, &hubs[id].Hub, nil); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	for signer, cs := range bySigner {
		if hubs[signer] == nil {
			for _, c := range cs {
				dropped = append(dropped, fmt.Sprintf("hub %s: signed by %s, which no chain from the root vouches for", c.st.Subject, signer))
			}
		}
	}
	sort.Strings(dropped)
	return hubs, dropped, nil
}

// signStatement signs a description or an entry.
func signStatement(key *signing.HubKey, typ, issuer string, h Hub, iat time.Time, ttl time.Duration) (string, error) {
	b, err := json.Marshal(statement{Issuer: issuer, Subject: h.ID, IssuedAt: iat.Unix(), Expires: iat.Add(ttl).Unix(), Hub: h})
	if err != nil {
		return "", err
	}
	t, err := key.Sign(b, typ)
	return string(t), err
}

// signDirectory signs a directory of entries.
func signDirectory(key *signing.HubKey, issuer, root string, entries []string, iat time.Time) ([]byte, error) {
	b, err := json.Marshal(directoryClaims{Issuer: issuer, Root: root, IssuedAt: iat.Unix(), Expires: iat.Add(DirectoryTTL).Unix(), Entries: entries})
	if err != nil {
		return nil, err
	}
	return key.Sign(b, DirectoryType)
}

// VerifyDescription checks a hub's description of itself: signed by an
// active key it lists, not expired at now, and consistent (a valid id, the
// hub inside its parent's region, its authorities inside its own). For a
// hub already admitted, known holds its admitted keys, and the description
// must be signed by one of them: a new key comes in only beside an old one
// (listed inactive in a description the old one signed).
func VerifyDescription(token []byte, known *Hub, now time.Time) (*Hub, time.Time, error) {
	if len(token) > maxStatement {
		return nil, time.Time{}, fail(BadDescription, "", "%d bytes, over the %d a description may have", len(token), maxStatement)
	}
	tok := string(bytes.TrimSpace(token))
	var st statement
	kid, err := Peek(tok, &st)
	if err != nil {
		return nil, time.Time{}, fail(BadDescription, "", "%v", err)
	}
	by := &st.Hub
	if known != nil {
		if st.ID != known.ID {
			return nil, time.Time{}, fail(BadDescription, known.ID, "it describes hub %q", st.ID)
		}
		by = known
	}
	var again statement
	if err := verifyBy(tok, DescriptionType, kid, by, &again); err != nil {
		return nil, time.Time{}, fail(BadDescription, st.ID, "%v", err)
	}
	if again.Issuer != again.ID || again.Subject != again.ID {
		return nil, time.Time{}, fail(BadDescription, again.ID, "a description is by the hub itself (iss = sub = hub_id)")
	}
	if e := again.Hub.check(); e != nil {
		return nil, time.Time{}, e
	}
	if iat := time.Unix(again.IssuedAt, 0); iat.After(now.Add(clockSkew)) {
		return nil, time.Time{}, fail(BadDescription, again.ID, "issued at %s, in the future", iat.UTC().Format(time.RFC3339))
	}
	exp := time.Unix(again.Expires, 0)
	if !now.Before(exp) {
		return nil, time.Time{}, fail(BadDescription, again.ID, "expired at %s", exp.UTC().Format(time.RFC3339))
	}
	return &again.Hub, exp, nil
}
