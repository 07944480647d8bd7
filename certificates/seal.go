package certificates

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image/png"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// Limits of a seal picture. A seal is printed about 4 cm wide: 32 pixels is
// the least that still shows a ring, 4096 is 2,600 dpi at that size. The
// dimensions are read from the header before the pixels are decoded, so a
// small file that would inflate to gigabytes is refused unread.
const (
	MaxSealBytes     = 1 << 20
	MinSealDimension = 32
	MaxSealDimension = 4096
)

// pngSignature opens every PNG file (PNG specification, 5.2).
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// Seal is where an authority's seal picture (印章图片) is stored: a PNG in
// the DocumentStore under a content-addressed key, so replacing it never
// overwrites an object a licence file may still refer to.
type Seal struct {
	Authority string
	Key       string // seals/<code>/<sha256>.png; empty: none stored yet
	SHA256    string // hex SHA-256 of the PNG
	UpdatedAt time.Time
}

// SealDrawer draws the default seal of an authority: the standard round
// red seal with the authority's name on the upper arc and a five-pointed
// star in the centre. complete is false when the picture lacks the name
// (no CJK font): such a picture is served but not stored, so the seal is
// drawn again, complete, once a font is installed.
type SealDrawer interface {
	DrawSeal(name string) (png []byte, complete bool, err error)
}

// SealKey is the content-addressed object key of a seal picture.
func SealKey(authority, sha string) string {
	return fmt.Sprintf("seals/%s/%s.png", authority, sha)
}

// CheckSealImage checks that data is a PNG a licence file can carry: not
// empty, at most MaxSealBytes, the PNG signature, sane dimensions, and
// pixels that decode. Errors name the field "body".
func CheckSealImage(data []byte) error {
	switch {
	case len(data) == 0:
		return errs.Field("body", "is empty; send the seal picture as a PNG file (Content-Type: image/png)")
	case len(data) > MaxSealBytes:
		msg := fmt.Sprintf("is %d bytes; a seal picture may have at most %d bytes (1 MiB)", len(data), MaxSealBytes)
		return &errs.Error{Code: errs.TooLarge, Field: "body", Message: msg, Fields: []errs.FieldError{{Field: "body", Reason: msg}}}
	case !bytes.HasPrefix(data, pngSignature):
		return errs.Field("body", "is not a PNG file (it does not begin with the PNG signature)")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return errs.Field("body", "is not a readable PNG file: %v", err)
	}
	if cfg.Width < MinSealDimension || cfg.Height < MinSealDimension || cfg.Width > MaxSealDimension || cfg.Height > MaxSealDimension {
		return errs.Field("body", "is %d×%d pixels; a seal picture must be between %d and %d pixels wide and high",
			cfg.Width, cfg.Height, MinSealDimension, MaxSealDimension)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		return errs.Field("body", "is a damaged PNG file: %v", err)
	}
	return nil
}

// SetSealImage checks and stores an uploaded seal picture for an
// authority, replacing the current one: errs.NotFound if the authority is
// unknown, errs.Invalid or errs.TooLarge (field "body") if the picture is
// not acceptable. Nothing is stored unless the picture is.
func (s *Service) SetSealImage(ctx context.Context, code string, data []byte) (*Seal, error) {
	if _, err := s.Authority(ctx, code); err != nil {
		return nil, err
	}
	if err := CheckSealImage(data); err != nil {
		return nil, err
	}
	return s.storeSeal(ctx, code, data, true)
}

// storeSeal writes the picture, then points the authority's row at it (the
// object first, like documents: a row never refers to a missing object).
// With replace false the row is set only if the authority has no seal yet.
func (s *Service) storeSeal(ctx context.Context, code string, data []byte, replace bool) (*Seal, error) {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	seal := &Seal{Authority: code, Key: SealKey(code, sha), SHA256: sha, UpdatedAt: s.now()}
	// The same bytes were stored before (a re-upload, or two replicas
	// drawing the same default): the object is already what we want.
	err := s.Documents.Put(ctx, seal.Key, data)
	present := errs.Is(err, errs.Conflict)
	if err != nil && !present {
		return nil, err
	}
	if err := s.Store.SetSeal(ctx, seal, replace); err != nil {
		return nil, err
	}
	if present {
		// The object may be an old orphan (a replaced seal put back)
		// that the orphan sweep deleted before our row committed.
		if err := PutAgain(ctx, s.Documents, seal.Key, data); err != nil {
			return nil, err
		}
	}
	return seal, nil
}

// SealImage returns an authority's seal picture and where it is stored:
// errs.NotFound if the authority is unknown. An authority without a stored
// seal (created before seals existed, or when the default could not be
// drawn) gets the default seal now; a default drawn without a CJK font is
// returned with a zero Key (not stored). A stored picture whose bytes do
// not hash to the row's SHA-256 is an internal error, never served.
func (s *Service) SealImage(ctx context.Context, code string) (*Seal, []byte, error) {
	seal, err := s.Store.GetSeal(ctx, code)
	if err != nil {
		return nil, nil, err
	}
	if seal.Key == "" {
		return s.defaultSeal(ctx, code)
	}
	data, err := s.Documents.Get(ctx, seal.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("seal picture of %s at %s: %w", code, seal.Key, err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != seal.SHA256 {
		return nil, nil, errs.E(errs.Internal, "seal picture of %s at %s does not match its SHA-256", code, seal.Key)
	}
	return seal, data, nil
}

// defaultSeal draws an authority's default seal and stores it unless the
// drawing is incomplete or the authority got a seal meanwhile (then that
// one is returned).
func (s *Service) defaultSeal(ctx context.Context, code string) (*Seal, []byte, error) {
	if s.Seals == nil {
		return nil, nil, errs.E(errs.NotFound, "authority %s has no seal picture (none uploaded, and this hub draws none)", code)
	}
	a, err := s.Authority(ctx, code)
	if err != nil {
		return nil, nil, err
	}
	data, complete, err := s.Seals.DrawSeal(a.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("draw the seal of %s: %w", code, err)
	}
	sum := sha256.Sum256(data)
	if !complete {
		return &Seal{Authority: code, SHA256: hex.EncodeToString(sum[:])}, data, nil
	}
	seal, err := s.storeSeal(ctx, code, data, false)
	if errs.Is(err, errs.Conflict) {
		return s.SealImage(ctx, code)
	}
	if err != nil {
		return nil, nil, err
	}
	return seal, data, nil
}

// drawDefaultSeal gives a new authority its default seal. A failure is
// logged, not returned: the authority exists, and SealImage draws the seal
// on first use.
func (s *Service) drawDefaultSeal(ctx context.Context, a *Authority) {
	if s.Seals == nil {
		return
	}
	if _, _, err := s.defaultSeal(ctx, a.Code); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "default seal picture not stored; it is drawn on first use", "authority", a.Code, "err", err.Error())
	}
}

// ESeal returns the GB/T 38540 SES_Signature of data by the authority's
// electronic seal: its SM2 seal key and certificate sign, the seal carries
// its seal picture. It is what a licence file carries (the OFD's
// SignedValue.dat); propertyInfo names what is sealed. errs.Conflict,
// saying what to configure, for an authority without an SM2 seal.
func (s *Service) ESeal(ctx context.Context, authority string, data []byte, propertyInfo string) ([]byte, error) {
	_, png, err := s.SealImage(ctx, authority)
	if err != nil {
		return nil, err
	}
	return s.Keys.SealBytes(ctx, authority, png, data, propertyInfo)
}
