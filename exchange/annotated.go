package exchange

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Annotated copy limits.
const (
	// MaxAnnotationDays is how far ahead an annotated copy may expire,
	// counted in civil days of the hub's time zone.
	MaxAnnotationDays = 90
	// MaxAnnotationPurpose is the longest purpose text, in characters.
	MaxAnnotationPurpose = 100
)

// Reasons Check gives for an annotated copy that may not be used.
const (
	AnnotationExpired = "annotated_copy_expired"
	AnnotationRevoked = "annotated_copy_revoked"
	AnnotationUnknown = "annotated_copy_unknown"
)

// Annotation is an annotated copy (加注件): a licence file of one
// certificate version stamped with one purpose and an expiry, printed as a
// watermark on every page under the seal's signature. The files are made
// on demand; the row says what is printed and whether the copy is usable.
type Annotation struct {
	ID            string
	CertificateID string
	HolderIndex   string // the certificate's keyed holder index
	// Requester is "holder" for the holder's own copy, else the actor that
	// asked (consumer:<id>, admin:<token id>).
	Requester string
	Agreement string // the agreement a consumer's copy was made under
	Purpose   string
	CaseID    string
	ExpiresOn certificates.Date // last day the copy may be used, hub's zone
	CreatedAt time.Time
	RevokedAt *time.Time
}

// RequesterHolder is Annotation.Requester for a holder's own copy.
const RequesterHolder = "holder"

// Watermark is the text printed across every page of the copy.
func (a *Annotation) Watermark() string {
	return "仅用于" + a.Purpose + "，有效期至" + a.ExpiresOn.Start(time.UTC).Format("2006年01月02日")
}

// Status is "" while the copy is usable on today (a civil date in the
// hub's zone), else AnnotationRevoked or AnnotationExpired.
func (a *Annotation) Status(today certificates.Date) string {
	switch {
	case a.RevokedAt != nil:
		return AnnotationRevoked
	case a.ExpiresOn.Before(today):
		return AnnotationExpired
	}
	return ""
}

// AnnotationStore keeps annotated copies.
type AnnotationStore interface {
	// CreateAnnotation stores a copy; errs.Conflict if the id exists.
	CreateAnnotation(ctx context.Context, a *Annotation) error
	// GetAnnotation reads a copy; errs.NotFound if there is none.
	GetAnnotation(ctx context.Context, id string) (*Annotation, error)
	// ListAnnotations lists the copies of a holder's certificates, newest
	// first, whoever asked for them.
	ListAnnotations(ctx context.Context, holderIndex string) ([]*Annotation, error)
	// RevokeAnnotation revokes a copy of the holder's (the first time
	// counts); errs.NotFound if the holder has no copy with that id.
	RevokeAnnotation(ctx context.Context, id, holderIndex string, at time.Time) error
}

// AnnotationRequest is the body of POST …/annotated.
type AnnotationRequest struct {
	Purpose   string `json:"purpose"`
	ExpiresAt string `json:"expires_at"` // YYYY-MM-DD, hub's zone
}

// Validate checks the request against today (hub's zone), listing every
// problem by field.
func (r *AnnotationRequest) Validate(today certificates.Date) (certificates.Date, error) {
	var l errs.List
	r.Purpose = strings.TrimSpace(r.Purpose)
	switch {
	case r.Purpose == "":
		l.Add("purpose", "is required: the one purpose the copy may be used for")
	case utf8.RuneCountInString(r.Purpose) > MaxAnnotationPurpose:
		l.Add("purpose", "must be at most %d characters, got %d", MaxAnnotationPurpose, utf8.RuneCountInString(r.Purpose))
	default:
		if why := certificates.LineProblem(r.Purpose); why != "" {
			l.Add("purpose", "%s", why)
		}
	}
	last := today.AddDays(MaxAnnotationDays)
	var exp certificates.Date
	if r.ExpiresAt == "" {
		l.Add("expires_at", "is required: a date YYYY-MM-DD from %s to %s", today, last)
	} else if d, err := certificates.ParseDate(r.ExpiresAt); err != nil {
		l.Add("expires_at", "%v", err)
	} else if d.Before(today) || last.Before(d) {
		l.Add("expires_at", "must be from today (%s) to at most %d days after it (%s), got %s", today, MaxAnnotationDays, last, d)
	} else {
		exp = d
	}
	return exp, l.Err()
}

// Annotations makes and checks annotated copies.
type Annotations struct {
	Store AnnotationStore
	Certs *certificates.Service
	Now   func() time.Time
}

// Create makes an annotated copy of the certificate version c for
// requester (RequesterHolder or an actor), under agreement and for caseID
// when a department asks. errs.Invalid naming purpose or expires_at for a
// bad request; errs.Conflict when c is not currently valid. The caller
// checks that requester may have c, and records the copy in the ledger.
func (s *Annotations) Create(ctx context.Context, c *certificates.Certificate, requester, agreement, caseID string, r *AnnotationRequest) (*Annotation, error) {
	today := s.Certs.Today()
	exp, err := r.Validate(today)
	if err != nil {
		return nil, err
	}
	if st := c.StatusOn(today); st != certificates.StatusValid {
		return nil, errs.E(errs.Conflict, "only a valid certificate can be annotated; %s is %s", c.ID, st)
	}
	a := &Annotation{ID: NewAnnotationID(), CertificateID: c.ID, HolderIndex: c.HolderIndex, Requester: requester,
		Agreement: agreement, Purpose: r.Purpose, CaseID: caseID, ExpiresOn: exp, CreatedAt: s.Now().UTC().Truncate(time.Microsecond)}
	if err := s.Store.CreateAnnotation(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// NewAnnotationID is "ann_" and 128 random bits in lower-case base32.
func NewAnnotationID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "ann_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Get reads a copy; errs.NotFound if there is none.
func (s *Annotations) Get(ctx context.Context, id string) (*Annotation, error) {
	return s.Store.GetAnnotation(ctx, id)
}

// Mine reads a copy of one of the holder's certificates, whoever asked for
// it; errs.NotFound for another holder's copy, the same as for none.
func (s *Annotations) Mine(ctx context.Context, h Holder, id string) (*Annotation, error) {
	a, err := s.Store.GetAnnotation(ctx, id)
	if err == nil && a.HolderIndex != s.Certs.Vault.Index(string(h.Kind), h.ID) {
		err = errs.E(errs.NotFound, "no annotated copy %s of yours", id)
	}
	return a, err
}

// Check says whether the copy id may be used now: "" when it may, else
// AnnotationExpired, AnnotationRevoked or AnnotationUnknown. Verification
// of an uploaded file calls it with the file's annotationId; the status
// of the certificate itself is checked apart.
func (s *Annotations) Check(ctx context.Context, id string) (string, error) {
	a, err := s.Store.GetAnnotation(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return AnnotationUnknown, nil
	}
	if err != nil {
		return "", err
	}
	return a.Status(s.Certs.Today()), nil
}

// Usable returns the copy if it may be used now; errs.Gone with the
// reason (annotated_copy_expired or _revoked) if not.
func (s *Annotations) Usable(a *Annotation) error {
	if why := a.Status(s.Certs.Today()); why != "" {
		return &errs.Error{Code: errs.Gone, Message: fmt.Sprintf("%s: annotated copy %s can no longer be used", why, a.ID)}
	}
	return nil
}

// List lists the copies of the holder's certificates, newest first.
func (s *Annotations) List(ctx context.Context, h Holder) ([]*Annotation, error) {
	return s.Store.ListAnnotations(ctx, s.Certs.Vault.Index(string(h.Kind), h.ID))
}

// Revoke ends one of the holder's copies at once, whoever asked for it.
func (s *Annotations) Revoke(ctx context.Context, h Holder, id string) error {
	return s.Store.RevokeAnnotation(ctx, id, s.Certs.Vault.Index(string(h.Kind), h.ID), s.Now().UTC().Truncate(time.Microsecond))
}
