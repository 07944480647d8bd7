package verifyqr

import (
	"cmp"
	"crypto"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/statuslist"
	"github.com/certhub/certhub/signing"
)

// Verifier checks compact QR codes against one set of cached lists. It is
// safe for concurrent use.
type Verifier struct {
	types  *Catalogue
	trust  *TrustList
	status map[string]*StatusList // by URI
	lists  []*StatusList          // as given, for the report
}

// NewVerifier verifies against tl and lists. Of several lists with the same
// URI the newest (iat) is used. types, which may be nil, names the fields
// in reports.
func NewVerifier(tl *TrustList, lists []*StatusList, types *Catalogue) *Verifier {
	v := &Verifier{trust: tl, status: make(map[string]*StatusList, len(lists)), lists: lists, types: types}
	for _, l := range lists {
		if old, ok := v.status[l.URI]; !ok || l.IssuedAt.After(old.IssuedAt) {
			v.status[l.URI] = l
		}
	}
	return v
}

// Report is what a verification found. Valid is true exactly when Reasons
// is empty; Details[i] explains Reasons[i].
type Report struct {
	Valid       bool      `json:"valid"`
	Reason      Reason    `json:"reason,omitempty"` // the first of Reasons
	Reasons     []Reason  `json:"reasons,omitempty"`
	Details     []string  `json:"details,omitempty"`
	Warnings    []Warning `json:"warnings,omitempty"`
	CheckedAt   time.Time `json:"checked_at"`
	Licence     *Licence  `json:"licence,omitempty"`
	QR          *QR       `json:"qr,omitempty"`
	SignedBy    *Signer   `json:"signed_by,omitempty"`
	Status      *Status   `json:"status,omitempty"`
	TrustList   *ListAge  `json:"trust_list,omitempty"`
	StatusLists []ListAge `json:"status_lists,omitempty"`
}

// Warning is something a valid QR's reader should know.
type Warning struct {
	Reason Reason `json:"reason"`
	Detail string `json:"detail"`
}

// Licence is what the QR says about the licence. IssuerName is the
// authority's name as the trust list states it (the QR carries only the
// USCC).
type Licence struct {
	ID         string  `json:"id"`
	TypeCode   string  `json:"type_code"`
	TypeName   string  `json:"type_name"`
	IssuerUSCC string  `json:"issuer_uscc"`
	IssuerName string  `json:"issuer_name,omitempty"`
	Holder     string  `json:"holder"`
	ValidFrom  string  `json:"valid_from"`
	ValidUntil string  `json:"valid_until,omitempty"`
	Fields     []Field `json:"fields,omitempty"`
}

// Field is one shared field: its number in the licence type, its name and
// labels when the licence type catalogue knows them, and its value (a
// string, a YYYY-MM-DD date, a number or a boolean).
type Field struct {
	Number uint64            `json:"number"`
	Name   string            `json:"name,omitempty"`
	Label  map[string]string `json:"label,omitempty"`
	Value  any               `json:"value"`
}

// QR is the CWT around the licence.
type QR struct {
	Issuer   string     `json:"iss"`
	IssuedAt time.Time  `json:"iat"`
	Expires  *time.Time `json:"exp,omitempty"`
	Alg      string     `json:"alg"`
	Kid      string     `json:"kid"` // the 8 kid bytes, base64url
}

// Signer is the seal key as the trust list states it.
type Signer struct {
	KID             string            `json:"kid"`
	Alg             string            `json:"alg"`
	Authority       string            `json:"authority"`
	AuthorityName   string            `json:"authority_name,omitempty"`
	State           signing.KeyStatus `json:"state"`
	ValidFrom       time.Time         `json:"valid_from"`
	ValidUntil      *time.Time        `json:"valid_until,omitempty"`
	CompromisedFrom *time.Time        `json:"compromised_from,omitempty"`
}

// Status is the licence's status list entry.
type Status struct {
	URI   string `json:"uri"`
	Index uint64 `json:"idx"`
	// Value is the entry (0 valid, 1 invalid, 2 suspended) when the list
	// was given and holds the index.
	Value *statuslist.Status `json:"value,omitempty"`
}

// ListAge says how old a cached list is. Stale: past exp (for a status
// list without exp, iat + ttl); the list is not to be used. RefreshDue: a
// status list older than its ttl, which a verifier should fetch again but
// may still use until exp.
type ListAge struct {
	URI        string     `json:"uri"` // the trust list's iss, a status list's sub
	IssuedAt   time.Time  `json:"iat"`
	Expires    *time.Time `json:"exp,omitempty"`
	TTLSeconds int64      `json:"ttl,omitempty"`
	AgeSeconds int64      `json:"age_seconds"`
	Stale      bool       `json:"stale"`
	RefreshDue bool       `json:"refresh_due,omitempty"`
}

// fail records a reason once; a second failure of the same reason (both
// lists stale) adds to its detail.
func (r *Report) fail(reason Reason, format string, args ...any) {
	for i, x := range r.Reasons {
		if x == reason {
			r.Details[i] += "; " + fmt.Sprintf(format, args...)
			return
		}
	}
	r.Reasons = append(r.Reasons, reason)
	r.Details = append(r.Details, fmt.Sprintf(format, args...))
}

// chinaTime is the zone of a licence's civil dates (as in compactqr).
var chinaTime = time.FixedZone("CST", 8*3600)

// Verify checks text at now. Format and signature failures (bad_base45 …
// bad_signature) end the check with that one reason; once the signature
// verifies every other check runs, and Reasons lists all that failed, in
// this order: stale_lists (trust list), issuer_mismatch (hub, then
// authority), key_not_yet_valid, key_retired, key_compromised, expired,
// not_yet_valid, then the status: status_unavailable, stale_lists (status
// list), bad_status_index, revoked, suspended, bad_status. A QR without a
// status reference (a version issued before status lists existed) is not
// refused for it: Warnings says no_status.
func (v *Verifier) Verify(text string, now time.Time) *Report {
	r := &Report{CheckedAt: now.UTC(), TrustList: v.trustAge(now)}
	for _, l := range v.lists {
		r.StatusLists = append(r.StatusLists, statusAge(l, now))
	}
	trustStale := !now.Before(v.trust.Expires)
	var signer *trustedKey
	res, err := compactqr.Verify(text, func(kid []byte) (crypto.PublicKey, error) {
		if signer = v.trust.key(kid); signer == nil {
			return nil, fmt.Errorf("no ES256 or EdDSA key in the trust list has kid %x", kid)
		}
		return signer.pub, nil
	}, now)
	if reason := compactqr.ReasonOf(err); err != nil && reason != compactqr.Expired {
		r.fail(reason, "%v", err)
		// A key unknown to a stale list may be in a fresh one.
		if trustStale && (reason == compactqr.UnknownKey || reason == compactqr.BadAlgorithm || reason == compactqr.BadSignature) {
			r.fail(StaleLists, "the trust list expired at %s", stamp(v.trust.Expires))
		}
		return r.settle()
	}
	r.describe(res, signer, v.types)
	if trustStale {
		r.fail(StaleLists, "the trust list expired at %s: fetch a new one", stamp(v.trust.Expires))
	}
	v.checkKey(r, res, signer)
	if err != nil { // expired
		r.fail(compactqr.Expired, "the licence expired at %s", stamp(res.Expires))
	}
	if d := res.Licence.ValidFrom; now.Before(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, chinaTime)) {
		r.fail(NotYetValid, "the licence is valid from %s", d)
	}
	v.checkStatus(r, res, now)
	return r.settle()
}

func (r *Report) settle() *Report {
	r.Valid = len(r.Reasons) == 0
	if !r.Valid {
		r.Reason = r.Reasons[0]
	}
	return r
}

// checkKey applies what the trust list says about the seal key to the seal
// time, the QR's iat.
func (v *Verifier) checkKey(r *Report, res *compactqr.Result, k *trustedKey) {
	if res.Issuer != v.trust.Issuer {
		r.fail(IssuerMismatch, "the QR was issued by hub %q, the trust list is %q's", res.Issuer, v.trust.Issuer)
	}
	if k.Authority != res.Licence.IssuerUSCC {
		r.fail(IssuerMismatch, "the seal key belongs to %s, the licence names issuer %s", k.Authority, res.Licence.IssuerUSCC)
	}
	iat := res.IssuedAt.Unix()
	if iat < k.ValidFrom {
		r.fail(KeyNotYetValid, "sealed at %s, before the key existed (%s)", stamp(res.IssuedAt), stamp(time.Unix(k.ValidFrom, 0)))
	}
	if k.ValidUntil != nil && iat > *k.ValidUntil {
		r.fail(KeyRetired, "sealed at %s, after the key was retired at %s", stamp(res.IssuedAt), stamp(time.Unix(*k.ValidUntil, 0)))
	}
	switch {
	case k.CompromisedFrom != nil && iat >= *k.CompromisedFrom:
		r.fail(KeyCompromised, "sealed at %s, the key is compromised from %s", stamp(res.IssuedAt), stamp(time.Unix(*k.CompromisedFrom, 0)))
	case k.CompromisedFrom == nil && k.State == signing.KeyCompromised:
		r.fail(KeyCompromised, "the key is compromised and the trust list says from when not")
	}
}

// checkStatus reads the licence's entry in the status list its reference
// names.
func (v *Verifier) checkStatus(r *Report, res *compactqr.Result, now time.Time) {
	if res.Status == nil {
		r.Warnings = append(r.Warnings, Warning{NoStatus, "the QR names no status list entry (a licence version from before status lists): " +
			"whether it was revoked or suspended since the code was made cannot be checked offline"})
		return
	}
	r.Status = &Status{URI: res.Status.URI, Index: res.Status.Idx}
	l := v.status[res.Status.URI]
	if l == nil {
		r.fail(StatusUnavailable, "no status list given is %s: fetch it", res.Status.URI)
		return
	}
	if at := l.staleAt(); !now.Before(at) {
		r.fail(StaleLists, "the status list %s expired at %s: fetch a new one", l.URI, stamp(at))
	}
	st, ok := l.Status(res.Status.Idx)
	if !ok {
		r.fail(BadStatusIndex, "index %d is past the end of %s (%d entries)", res.Status.Idx, l.URI, l.Len())
		return
	}
	r.Status.Value = &st
	switch st {
	case statuslist.Valid:
	case statuslist.Invalid:
		r.fail(Revoked, "the status list says invalid (revoked) at index %d", res.Status.Idx)
	case statuslist.Suspended:
		r.fail(Suspended, "the status list says suspended at index %d", res.Status.Idx)
	default:
		r.fail(BadStatus, "the status list has value %d at index %d, which certhub does not use", st, res.Status.Idx)
	}
}

// describe fills in what the QR says and who sealed it.
func (r *Report) describe(res *compactqr.Result, k *trustedKey, types *Catalogue) {
	l := res.Licence
	r.Licence = &Licence{ID: l.ID, TypeCode: l.TypeCode, TypeName: l.TypeName, IssuerUSCC: l.IssuerUSCC,
		Holder: l.Holder, ValidFrom: l.ValidFrom.String()}
	if k.Authority == l.IssuerUSCC {
		r.Licence.IssuerName = k.AuthorityName
	}
	if !l.ValidUntil.IsZero() {
		r.Licence.ValidUntil = l.ValidUntil.String()
	}
	for n, v := range l.Fields {
		f := Field{Number: n, Value: v}
		if d, ok := v.(compactqr.Date); ok {
			f.Value = d.String()
		}
		if cf, ok := types.field(l.TypeCode, n); ok {
			f.Name, f.Label = cf.Name, cf.Label
		}
		r.Licence.Fields = append(r.Licence.Fields, f)
	}
	slices.SortFunc(r.Licence.Fields, func(a, b Field) int { return cmp.Compare(a.Number, b.Number) })
	r.QR = &QR{Issuer: res.Issuer, IssuedAt: res.IssuedAt.UTC(), Alg: res.Alg, Kid: base64.RawURLEncoding.EncodeToString(res.Kid)}
	if !res.Expires.IsZero() {
		e := res.Expires.UTC()
		r.QR.Expires = &e
	}
	r.SignedBy = &Signer{KID: k.KID, Alg: k.Alg, Authority: k.Authority, AuthorityName: k.AuthorityName, State: k.State,
		ValidFrom: time.Unix(k.ValidFrom, 0).UTC(), ValidUntil: unixPtr(k.ValidUntil), CompromisedFrom: unixPtr(k.CompromisedFrom)}
}

func (v *Verifier) trustAge(now time.Time) *ListAge {
	exp := v.trust.Expires.UTC()
	return &ListAge{URI: v.trust.Issuer, IssuedAt: v.trust.IssuedAt.UTC(), Expires: &exp,
		AgeSeconds: int64(now.Sub(v.trust.IssuedAt) / time.Second), Stale: !now.Before(v.trust.Expires)}
}

func statusAge(l *StatusList, now time.Time) ListAge {
	a := ListAge{URI: l.URI, IssuedAt: l.IssuedAt.UTC(), TTLSeconds: int64(l.TTL / time.Second),
		AgeSeconds: int64(now.Sub(l.IssuedAt) / time.Second), Stale: !now.Before(l.staleAt())}
	if !l.Expires.IsZero() {
		e := l.Expires.UTC()
		a.Expires = &e
	}
	a.RefreshDue = l.TTL > 0 && !now.Before(l.IssuedAt.Add(l.TTL))
	return a
}

func unixPtr(p *int64) *time.Time {
	if p == nil {
		return nil
	}
	t := time.Unix(*p, 0).UTC()
	return &t
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
