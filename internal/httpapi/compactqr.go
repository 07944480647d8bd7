package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/qr"
)

// CompactQRScale is the PNG's pixels per module: a version 22 code (the
// 800-character budget) is 452 px square with its quiet zone.
const CompactQRScale = 4

// compactQRs is the one maker of compact QR codes, over the server's
// certificates and public URL.
func (s *Server) compactQRs() *exchange.CompactQRs {
	return &exchange.CompactQRs{Certs: s.Certs, PublicURL: s.PublicURL}
}

// compactParams reads ?form=compact, ?format= (png, text, svg) and
// ?fields=a,b of a compact QR request.
func compactParams(r *http.Request) (req exchange.CompactRequest, format string, err error) {
	q := r.URL.Query()
	var l errs.List
	switch f := q.Get("form"); f {
	case "compact":
	case "":
		l.Add("form", "is required: the only form is compact (?form=compact)")
	default:
		l.Add("form", "must be compact (the offline, signed QR); got %q", f)
	}
	switch format = q.Get("format"); format {
	case "":
		format = "png"
	case "png", "text", "svg":
	default:
		l.Add("format", "must be png, text or svg; got %q", format)
	}
	if vs, ok := q["fields"]; ok {
		req.Fields = []string{}
		for _, v := range vs {
			for _, name := range strings.Split(v, ",") {
				if name = strings.TrimSpace(name); name != "" {
					req.Fields = append(req.Fields, name)
				}
			}
		}
	}
	return req, format, l.Err()
}

// writeCompactQR answers with the code as format, its length and fields in
// headers so a page can show the size beside the picture.
func (s *Server) writeCompactQR(w http.ResponseWriter, r *http.Request, c *exchange.CompactQR, format string) {
	var body []byte
	var err error
	switch format {
	case "text":
		body = []byte(c.Text)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	case "svg":
		body, err = qr.AlphanumericSVG(c.Text, CompactQRScale)
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		body, err = qr.AlphanumericPNG(c.Text, CompactQRScale)
		w.Header().Set("Content-Type", "image/png")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Compact-QR-Characters", strconv.Itoa(len(c.Text)))
	w.Header().Set("X-Compact-QR-Fields", strings.Join(c.Fields, ","))
	w.Header().Set("X-Compact-QR-Kid", c.KID)
	_, _ = w.Write(body)
}

// certificateQR answers GET /api/v1/certificates/{id}/qr?form=compact: a
// compact signed QR of the licence, for the same callers and under the same
// agreement rule (+document) as the signed document and the licence file,
// recorded in the ledger with the fields it carries.
func (s *Server) certificateQR(w http.ResponseWriter, r *http.Request) {
	req, format, err := compactParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, pm, ok := s.readable(w, r, true)
	if !ok {
		return
	}
	code, err := s.compactQRs().Make(r.Context(), c, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e := about(c)
	e.Fields = code.Fields
	e.Outcome = "ok: compact QR by " + code.KID
	if pm != nil {
		e.Agreement = pm.agreement.ID
		agreementHeader(w, []string{pm.agreement.ID})
	}
	if err := s.record(r, "compact_qr", e); err != nil {
		s.fail(w, r, err)
		return
	}
	s.follow(r, c)
	s.writeCompactQR(w, r, code, format)
}

// myCertificateQR answers GET /api/v1/me/certificates/{id}/qr?form=compact:
// a compact QR of the holder's own licence with the fields they pick.
// Another holder's certificate is 404, like none at all.
func (s *Server) myCertificateQR(w http.ResponseWriter, r *http.Request) {
	req, format, err := compactParams(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.Shares.MyCertificate(r.Context(), me(r), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	code, err := s.compactQRs().Make(r.Context(), c, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeCompactQR(w, r, code, format)
}

// LicenceTypes is the licence type catalogue offline verifiers cache
// (GET /.well-known/certhub-licence-types): what a compact QR's type code
// and field numbers mean.
type LicenceTypes struct {
	Profile string                      `json:"profile"` // "CH1"
	Types   map[string]LicenceTypeEntry `json:"types"`   // by type code
}

// LicenceTypeEntry is one type: its name and its shareable fields by
// number (the decimal field number as the key).
type LicenceTypeEntry struct {
	Name       string                       `json:"name"`
	HolderKind certificates.HolderKind      `json:"holder_kind"`
	Fields     map[string]LicenceFieldEntry `json:"fields"`
}

// LicenceFieldEntry is one field: its name, value type and labels.
type LicenceFieldEntry struct {
	Name  string                 `json:"name"`
	Type  certificates.FieldType `json:"type"`
	Label map[string]string      `json:"label"` // "zh-CN" and "en"
}

// licenceTypes serves the catalogue. It changes only when a type is
// added, so it is cacheable (ETag; a day's max-age, revalidated).
func (s *Server) licenceTypes(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Certs.Store.ListTypes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cat := LicenceTypes{Profile: "CH1", Types: make(map[string]LicenceTypeEntry, len(ts))}
	for _, t := range ts {
		e := LicenceTypeEntry{Name: t.Name, HolderKind: t.HolderKind, Fields: map[string]LicenceFieldEntry{}}
		for _, f := range t.Fields {
			if !f.Shareable {
				continue // never in a compact QR
			}
			n, _ := t.FieldNumber(f.Name)
			en := f.LabelEN
			if en == "" {
				en = f.Name
			}
			e.Fields[strconv.FormatUint(n, 10)] = LicenceFieldEntry{Name: f.Name, Type: f.Type, Label: map[string]string{"zh-CN": f.Label, "en": en}}
		}
		cat.Types[t.Code] = e
	}
	b, err := json.Marshal(cat) // map keys sorted: the same types give the same bytes
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sum := sha256.Sum256(b)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "public, max-age=86400, must-revalidate")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
