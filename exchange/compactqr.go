package exchange

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/compactqr"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/statuslist"
)

// CompactQRBudget is the most characters a compact QR text may have: QR
// version 22 in alphanumeric mode at error correction Q (issue 13), which
// prints at 4 px per module in 452 px.
const CompactQRBudget = 800

// CompactQRs makes compact signed QR codes of licences (docs/compact-qr.md):
// the same rules for the API, the wallet and the share page.
type CompactQRs struct {
	Certs *certificates.Service
	// PublicURL is the hub's base URL: the CWT iss, and the base of the
	// status list URI.
	PublicURL string
}

// CompactRequest says what a compact QR shows.
type CompactRequest struct {
	// Fields are the shareable fields to carry, by name. Nil means every
	// shareable field of the type; empty, none.
	Fields []string
	// HolderName is the holder's name as the code shows it; empty means
	// masked as on the share page (certificates.MaskName).
	HolderName string
}

// CompactQR is one compact QR code's text and what went into it.
type CompactQR struct {
	Text   string
	KID    string   // the seal key that signed
	Fields []string // the fields it carries, in the type's order
}

// Make signs a compact QR of c with its authority's current ES256 or EdDSA
// seal key. Only a valid licence gets one (errs.Conflict naming its status:
// a suspended, revoked, expired or superseded licence must not travel as a
// code that verifies offline). A field that is unknown or not shareable is
// errs.Invalid naming "fields" and the field; so is a selection whose text
// would exceed CompactQRBudget, saying how long it came out.
func (q *CompactQRs) Make(ctx context.Context, c *certificates.Certificate, r CompactRequest) (*CompactQR, error) {
	if st := c.StatusOn(q.Certs.Today()); st != certificates.StatusValid {
		return nil, errs.E(errs.Conflict, "a compact QR is made only for a valid licence; %s is %s", c.ID, st)
	}
	t, err := q.Certs.Type(ctx, c.Type)
	if err != nil {
		return nil, err
	}
	names := r.Fields
	if names == nil || len(names) > 0 {
		if names, err = shareableFields(t, names); err != nil {
			return nil, err
		}
	}
	lic := compactqr.Licence{ID: c.ID, TypeCode: t.Code, TypeName: t.Name, IssuerUSCC: c.Authority,
		Holder: r.HolderName, ValidFrom: civil(c.ValidFrom), ValidUntil: civil(c.ValidUntil)}
	if lic.Holder == "" {
		lic.Holder = certificates.MaskName(c.Holder.Kind, c.Holder.Name)
	}
	var carried []string
	for _, f := range t.Fields { // the type's order
		if !slices.Contains(names, f.Name) {
			continue
		}
		v, ok, err := fieldValue(f, c.Data[f.Name])
		if err != nil {
			return nil, errs.Wrap(err, "field %s of %s", f.Name, c.ID)
		}
		if !ok {
			continue
		}
		n, _ := t.FieldNumber(f.Name)
		if lic.Fields == nil {
			lic.Fields = map[uint64]any{}
		}
		lic.Fields[n] = v
		carried = append(carried, f.Name)
	}
	in := compactqr.Input{Issuer: strings.TrimRight(q.PublicURL, "/"), Licence: lic, Now: q.Certs.Now()}
	if c.Status != nil {
		in.Status = &compactqr.StatusRef{Idx: uint64(c.Status.Index), URI: statuslist.TSLURL(q.PublicURL, c.Status.List)}
	}
	text, kid, err := q.Certs.Keys.SignCompactQR(ctx, c.Authority, in)
	if err != nil {
		return nil, err
	}
	if len(text) > CompactQRBudget {
		which := "the type's shareable fields (" + strings.Join(names, ", ") + ")"
		if r.Fields != nil {
			which = "the chosen fields (" + strings.Join(names, ", ") + ")"
		}
		return nil, errs.Field("fields", "%s make a %d-character compact QR, over the %d a compact QR may hold (QR version 22); choose fewer fields",
			which, len(text), CompactQRBudget)
	}
	return &CompactQR{Text: text, KID: kid, Fields: carried}, nil
}

// civil converts a certificate date; the zero date stays zero.
func civil(d certificates.Date) compactqr.Date {
	if d.IsZero() {
		return compactqr.Date{}
	}
	cd, _ := compactqr.ParseDate(d.String())
	return cd
}

// fieldValue converts a stored data value to what the compact QR carries
// for the field's type; ok is false for an absent or empty value.
func fieldValue(f certificates.Field, v any) (out any, ok bool, err error) {
	if v == nil || v == "" {
		return nil, false, nil
	}
	switch f.Type {
	case certificates.FieldDate:
		s, _ := v.(string)
		d, err := compactqr.ParseDate(s)
		if err != nil {
			return nil, false, fmt.Errorf("date %q: %w", s, err)
		}
		return d, true, nil
	case certificates.FieldNumber:
		var s string
		switch x := v.(type) {
		case json.Number:
			s = x.String()
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			return nil, false, fmt.Errorf("number of Go type %T", v)
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true, nil
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, false, err
		}
		return x, true, nil
	case certificates.FieldBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, false, fmt.Errorf("boolean of Go type %T", v)
		}
		return b, true, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, false, fmt.Errorf("string of Go type %T", v)
	}
	return s, true, nil
}
