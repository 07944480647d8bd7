package exchange

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Share limits.
const (
	MinShareSeconds     = 60
	MaxShareSeconds     = 30 * 24 * 3600
	DefaultShareSeconds = 600
	MaxShareViews       = 10000
)

// Shares runs holders' QR shares.
type Shares struct {
	Store  ShareStore
	Certs  *certificates.Service
	Now    func() time.Time
	Ledger *Ledger // records every view (nil: not recorded)
}

// Holder identifies the signed-in holder a share belongs to.
type Holder struct {
	Kind certificates.HolderKind
	ID   string
}

func (s *Shares) index(h Holder) string { return s.Certs.Vault.Index(string(h.Kind), h.ID) }

// MyCertificate reads one of the holder's certificate versions;
// errs.NotFound for another holder's, the same answer as for none.
func (s *Shares) MyCertificate(ctx context.Context, h Holder, id string) (*certificates.Certificate, error) {
	c, err := s.Certs.Get(ctx, id)
	if err == nil && c.HolderIndex != s.index(h) {
		err = errs.E(errs.NotFound, "no certificate %s of yours", id)
	}
	return c, err
}

// ShareRequest is the input of POST /api/v1/me/shares.
type ShareRequest struct {
	CertificateID    string   `json:"certificate_id"`
	Fields           []string `json:"fields"`
	ExpiresInSeconds *int     `json:"expires_in_seconds"`
	MaxViews         *int     `json:"max_views"`
	Purpose          string   `json:"purpose"`
	ShowName         bool     `json:"show_name"`
}

// MyCertificates lists the holder's current certificates.
func (s *Shares) MyCertificates(ctx context.Context, h Holder) ([]*certificates.Certificate, error) {
	var out []*certificates.Certificate
	var cursor int64
	for {
		page, next, err := s.Certs.Find(ctx, certificates.Scope{}, certificates.FindRequest{HolderID: h.ID, HolderKind: h.Kind, Cursor: cursor, Limit: 500})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == 0 {
			return out, nil
		}
		cursor = next
	}
}

// Create makes a share of one of the holder's certificates and returns it
// with its secret token (shown once).
func (s *Shares) Create(ctx context.Context, h Holder, r *ShareRequest) (*Share, string, error) {
	var l errs.List
	if r.CertificateID == "" {
		l.Add("certificate_id", "is required")
	}
	secs := DefaultShareSeconds
	if r.ExpiresInSeconds != nil {
		secs = *r.ExpiresInSeconds
		if secs < MinShareSeconds || secs > MaxShareSeconds {
			l.Add("expires_in_seconds", "must be between %d (1 minute) and %d (30 days), got %d", MinShareSeconds, MaxShareSeconds, secs)
		}
	}
	if r.MaxViews != nil && (*r.MaxViews < 1 || *r.MaxViews > MaxShareViews) {
		l.Add("max_views", "must be between 1 and %d", MaxShareViews)
	}
	r.Purpose = strings.TrimSpace(r.Purpose)
	if utf8.RuneCountInString(r.Purpose) > 100 {
		l.Add("purpose", "must be at most 100 characters of plain text")
	} else if why := certificates.LineProblem(r.Purpose); why != "" {
		l.Add("purpose", "%s", why)
	}
	if err := l.Err(); err != nil {
		return nil, "", err
	}
	c, err := s.Certs.Get(ctx, r.CertificateID)
	if errs.Is(err, errs.Invalid) {
		return nil, "", &errs.Error{Code: errs.Invalid, Field: "certificate_id", Message: err.(*errs.Error).Message}
	}
	if errs.Is(err, errs.NotFound) || (err == nil && c.HolderIndex != s.index(h)) {
		// Someone else's certificate gets the same answer as none at all.
		return nil, "", &errs.Error{Code: errs.Forbidden, Field: "certificate_id", Message: "you can share only your own certificates"}
	}
	if err != nil {
		return nil, "", err
	}
	if st := c.StatusOn(s.Certs.Today()); st != certificates.StatusValid {
		return nil, "", &errs.Error{Code: errs.Conflict, Field: "certificate_id", Message: fmt.Sprintf("only a valid certificate can be shared; this one is %s", st)}
	}
	t, err := s.Certs.Type(ctx, c.Type)
	if err != nil {
		return nil, "", err
	}
	fields, err := shareableFields(t, r.Fields)
	if err != nil {
		return nil, "", err
	}
	id := NewID("shr_")
	secret := s.Certs.Vault.ShareToken(id)
	now := s.Now().UTC().Truncate(time.Microsecond)
	sh := &Share{ID: id, TokenHash: HashSecret(secret), HolderIndex: c.HolderIndex, CertificateID: c.ID, Fields: fields,
		Purpose: r.Purpose, ShowName: r.ShowName, CreatedAt: now, ExpiresAt: now.Add(time.Duration(secs) * time.Second), MaxViews: r.MaxViews}
	if err := s.Store.CreateShare(ctx, sh); err != nil {
		return nil, "", err
	}
	return sh, secret, nil
}

// shareableFields checks a field selection against the type: every field
// must exist and be shareable; none selected means all shareable ones.
func shareableFields(t *certificates.Type, want []string) ([]string, error) {
	var all []string
	for _, f := range t.Fields {
		if f.Shareable {
			all = append(all, f.Name)
		}
	}
	if len(want) == 0 {
		return all, nil
	}
	var bad []string
	out := []string{}
	for _, name := range want {
		switch {
		case !slices.Contains(all, name):
			bad = append(bad, name)
		case !slices.Contains(out, name):
			out = append(out, name)
		}
	}
	if len(bad) > 0 {
		return nil, errs.Field("fields", "not shareable fields of type %s: %s (shareable: %s)", t.Code, strings.Join(bad, ", "), strings.Join(all, ", "))
	}
	return out, nil
}

// Token returns the secret token of one of the holder's shares, to render
// its URL and QR code again; errs.NotFound if the share is not theirs.
func (s *Shares) Token(ctx context.Context, h Holder, id string) (*Share, string, error) {
	list, err := s.List(ctx, h)
	if err != nil {
		return nil, "", err
	}
	for _, sh := range list {
		if sh.ID == id {
			return sh, s.Certs.Vault.ShareToken(id), nil
		}
	}
	return nil, "", errs.E(errs.NotFound, "you have no share %s", id)
}

// List lists the holder's shares, newest first.
func (s *Shares) List(ctx context.Context, h Holder) ([]*Share, error) {
	return s.Store.ListShares(ctx, s.index(h))
}

// Views lists the latest views of the holder's shares.
func (s *Shares) Views(ctx context.Context, h Holder) ([]ShareView, error) {
	return s.Store.ListShareViews(ctx, s.index(h), 200)
}

// Revoke ends one of the holder's shares at once.
func (s *Shares) Revoke(ctx context.Context, h Holder, id string) error {
	return s.Store.RevokeShare(ctx, id, s.index(h), s.Now().UTC().Truncate(time.Microsecond))
}

// Shown is what a share lets a viewer see.
type Shown struct {
	Share       *Share
	Certificate *certificates.Certificate
	Type        *certificates.Type
	Authority   *certificates.Authority
	Status      certificates.Status
	// SealValid reports whether the stored document's seal verifies.
	SealValid  bool
	HolderName string // masked unless the holder chose to show it
	Fields     []ShownField
}

// ShownField is one shared field with its label.
type ShownField struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Value any    `json:"value"`
}

// ErrShareInvalid is the one answer for a token that is unknown, expired,
// revoked or used up.
var ErrShareInvalid = &errs.Error{Code: errs.NotFound, Message: "this share link is not valid: it is unknown, expired, revoked or used up"}

// Open resolves a share token for a viewer and records the view. Only the
// chosen fields leave; the status is live.
func (s *Shares) Open(ctx context.Context, secret string, v ShareView) (*Shown, error) {
	if len(secret) < 20 || len(secret) > 100 {
		// Still hash and look up: a malformed token costs what any costs.
		secret = "x"
	}
	v.At = s.Now().UTC().Truncate(time.Microsecond)
	sh, err := s.Store.UseShare(ctx, HashSecret(secret), v, v.At)
	if errs.Is(err, errs.NotFound) {
		return nil, ErrShareInvalid
	}
	if err != nil {
		return nil, err
	}
	c, err := s.Certs.Get(ctx, sh.CertificateID)
	if err != nil {
		return nil, err
	}
	t, err := s.Certs.Type(ctx, c.Type)
	if err != nil {
		return nil, err
	}
	a, err := s.Certs.Authority(ctx, c.Authority)
	if err != nil {
		return nil, err
	}
	sealOK, err := s.Certs.SealIntact(ctx, c)
	if err != nil {
		return nil, err
	}
	out := &Shown{Share: sh, Certificate: c, Type: t, Authority: a, Status: c.StatusOn(s.Certs.Today()), SealValid: sealOK,
		HolderName: certificates.MaskName(c.Holder.Kind, c.Holder.Name)}
	if sh.ShowName {
		out.HolderName = c.Holder.Name
	}
	for _, name := range sh.Fields {
		if f, ok := t.Field(name); ok {
			out.Fields = append(out.Fields, ShownField{Name: name, Label: f.Label, Value: c.Data[name]})
		}
	}
	if err := s.Ledger.Record(ctx, AuditEntry{Actor: "share:" + sh.ID, ActorName: v.Client + " " + v.Network, Action: "share_view",
		Certificates: []string{c.ID}, Holder: sh.HolderIndex, Fields: sh.Fields, Purpose: sh.Purpose}); err != nil {
		return nil, err
	}
	return out, nil
}
