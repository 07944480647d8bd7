package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/licencefile"
	"github.com/certhub/certhub/internal/qr"
)

// maxUpload is the largest image a clerk may upload or a camera frame.
const maxUpload = 8 << 20

// outcome is a clerk's verification result.
type outcome struct {
	Valid      bool
	Reasons    []string // message keys
	Source     string   // "share", "document", "identifier"
	Detail     string   // a message for the clerk (why an upload failed)
	Authority  string
	Issuer     string // the authority's code: a valid result shows its seal picture
	TypeName   string
	ID         string
	HolderName string
	Masked     bool
	ValidFrom  certificates.Date
	ValidUntil certificates.Date
	Status     string
	Fields     []exchange.ShownField
	Purpose    string
	CurrentID  string
	Form       string   // an uploaded licence file's form: "ofd" or "pdf"
	Problems   []string // what is wrong with an uploaded file itself
	// Hub names the library of the federation that holds the licence,
	// when it is another hub's; AsOf is set when that hub could not answer
	// and the status is of the copy it pushed here.
	Hub  string
	AsOf string

	holder string // the holder's index, for the ledger only
}

type verifyData struct {
	Result *outcome
	Input  string
}

// verifyPage is the clerk's page. /verify?id=<identifier>, what the QR
// code printed on a licence file holds, opens it on that licence's live
// verification (identifiers are public; the check is recorded like a
// typed one).
func (s *Server) verifyPage(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id == "" {
		s.render(w, r, http.StatusOK, "verify", "verify_title", verifyData{})
		return
	}
	res, err := s.check(r, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "verify", "verify_title", verifyData{Result: res, Input: id})
}

// verifyCheck verifies typed or pasted input: a share link, a document or
// an identifier.
func (s *Server) verifyCheck(w http.ResponseWriter, r *http.Request) {
	input := strings.TrimSpace(r.PostFormValue("input"))
	res, err := s.check(r, input)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "verify", "verify_title", verifyData{Result: res, Input: input})
}

// verifyUpload decodes a QR code in an uploaded photo or screenshot.
func (s *Server) verifyUpload(w http.ResponseWriter, r *http.Request) {
	// The csrf middleware has limited and parsed the form.
	if r.MultipartForm == nil {
		s.errorPage(w, r, http.StatusBadRequest, "bad_request", "")
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, hdr, err := r.FormFile("image")
	if err != nil {
		s.render(w, r, http.StatusBadRequest, "verify", "verify_title", verifyData{Result: &outcome{Reasons: []string{"choose_file"}}})
		return
	}
	defer f.Close()
	if hdr.Size > maxUpload {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err != nil || len(data) > maxUpload {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
		return
	}
	text, err := qr.Decode(data)
	if err != nil {
		// Not an image, or no QR code in it: say so on the page.
		s.render(w, r, http.StatusUnprocessableEntity, "verify", "verify_title", verifyData{Result: &outcome{Reasons: []string{"upload_failed"}, Detail: err.(*errs.Error).Message}})
		return
	}
	res, err := s.check(r, text)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "verify", "verify_title", verifyData{Result: res, Input: text})
}

// verifyFile checks an uploaded licence file (OFD or PDF): its seal, the
// identifier it carries and that identifier's live status, shown like a
// scanned QR code and recorded in the ledger like every clerk check.
func (s *Server) verifyFile(w http.ResponseWriter, r *http.Request) {
	// The csrf middleware has limited and parsed the form.
	if r.MultipartForm == nil {
		s.errorPage(w, r, http.StatusBadRequest, "bad_request", "")
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, hdr, err := r.FormFile("file")
	if err != nil {
		s.render(w, r, http.StatusBadRequest, "verify", "verify_title", verifyData{Result: &outcome{Reasons: []string{"choose_file"}}})
		return
	}
	defer f.Close()
	if hdr.Size > licencefile.MaxFileBytes {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
		return
	}
	data, err := io.ReadAll(io.LimitReader(f, licencefile.MaxFileBytes+1))
	if err != nil || len(data) > licencefile.MaxFileBytes {
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
		return
	}
	if s.Files == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "licence files are not configured on this hub"))
		return
	}
	fv, err := s.Files.Verify(r.Context(), data)
	if errs.Is(err, errs.Invalid) || errs.Is(err, errs.TooLarge) {
		var e *errs.Error
		detail := ""
		if errors.As(err, &e) {
			detail = e.Message
		}
		s.render(w, r, http.StatusBadRequest, "verify", "verify_title", verifyData{Result: &outcome{Reasons: []string{"file_failed"}, Detail: detail}})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	o := &outcome{}
	if fv.Status != nil {
		o = s.fromVerification(r, fv.Status, "identifier")
	}
	o.Source, o.Valid, o.Form, o.Problems = "file", fv.Valid, strings.ToUpper(string(fv.Form)), fv.Problems
	o.Reasons = nil
	for _, reason := range fv.Reasons {
		o.Reasons = append(o.Reasons, "r_"+reason)
	}
	if err := s.record(r, o); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "verify", "verify_title", verifyData{Result: o})
}

// verifyScan decodes one camera frame; the page's script posts frames until
// one holds a QR code, then submits its text for checking.
func (s *Server) verifyScan(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	data, err := io.ReadAll(io.LimitReader(r.Body, maxUpload+1))
	if err != nil || len(data) > maxUpload {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = w.Write([]byte(`{"found":false}`))
		return
	}
	text, err := qr.Decode(data)
	_ = json.NewEncoder(w).Encode(map[string]any{"found": err == nil, "text": text})
}

// check works out what the input is, verifies it and records the
// verification in the ledger, before the clerk sees anything: which clerk,
// which certificate, what the page disclosed, and the result.
func (s *Server) check(r *http.Request, input string) (*outcome, error) {
	o, err := s.inspect(r, input)
	if err != nil || o.Source == "" {
		return o, err
	}
	if err := s.record(r, o); err != nil {
		return nil, err
	}
	return o, nil
}

// record writes a clerk's verification to the ledger: which clerk, which
// certificate, what the page disclosed, and the result.
func (s *Server) record(r *http.Request, o *outcome) error {
	if s.Shares.Ledger == nil {
		return nil
	}
	e := exchange.AuditEntry{Action: "clerk_verify", Holder: o.holder, Purpose: "窗口核验", Outcome: "valid"}
	if sess := sessionOf(r); sess != nil {
		e.Actor, e.ActorName = sess.Actor, sess.Name
	}
	if e.Actor == "" {
		e.Actor = "clerk:unknown"
	}
	if o.ID != "" {
		e.Certificates = []string{o.ID}
	}
	for _, f := range o.Fields {
		e.Fields = append(e.Fields, f.Name)
	}
	if !o.Valid {
		e.Outcome = "invalid: " + strings.Join(o.Reasons, ",")
	}
	return s.Shares.Ledger.Record(r.Context(), e)
}

// inspect works out what the input is and verifies it.
func (s *Server) inspect(r *http.Request, input string) (*outcome, error) {
	ctx := r.Context()
	switch {
	case strings.Contains(input, "/s/"):
		token := input[strings.LastIndex(input, "/s/")+3:]
		if i := strings.IndexAny(token, "?#/ "); i >= 0 {
			token = token[:i]
		}
		shown, err := s.Shares.Open(ctx, token, viewOf(r))
		if errs.Is(err, errs.NotFound) {
			return &outcome{Source: "share", Reasons: []string{"r_share_invalid"}}, nil
		}
		if err != nil {
			return nil, err
		}
		c := shown.Certificate
		return &outcome{Valid: shown.Status == certificates.StatusValid && shown.SealValid, Reasons: reasonsOf(shown.Status, shown.SealValid),
			Source: "share", Authority: shown.Authority.Name, Issuer: shown.Authority.Code, TypeName: shown.Type.Name, ID: c.ID, HolderName: shown.HolderName,
			Masked: !shown.Share.ShowName, ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil, Status: shown.Status.Label(),
			Fields: shown.Fields, Purpose: shown.Share.Purpose, holder: c.HolderIndex}, nil
	case strings.Count(input, ".") == 2 && strings.HasPrefix(input, "eyJ"):
		v, err := s.Certs.VerifyDocument(ctx, []byte(input))
		if err != nil {
			return nil, err
		}
		if o, err := s.elsewhere(r, input, "", v, "document"); o != nil || err != nil {
			return o, err
		}
		return s.fromVerification(r, v, "document"), nil
	case strings.HasPrefix(input, "1.2.156."):
		v, err := s.Certs.VerifyID(ctx, input)
		if err != nil {
			return nil, err
		}
		if o, err := s.elsewhere(r, "", input, v, "identifier"); o != nil || err != nil {
			return o, err
		}
		return s.fromVerification(r, v, "identifier"), nil
	}
	return &outcome{Reasons: []string{"r_unrecognised"}}, nil
}

func (s *Server) fromVerification(r *http.Request, v *certificates.Verification, source string) *outcome {
	o := &outcome{Valid: v.Valid, Source: source}
	for _, reason := range v.Reasons {
		o.Reasons = append(o.Reasons, "r_"+reason)
	}
	if v.Authority != nil {
		o.Authority, o.Issuer = v.Authority.Name, v.Authority.Code
	}
	c := v.Certificate
	if c == nil {
		return o
	}
	o.ID, o.ValidFrom, o.ValidUntil, o.Status, o.CurrentID, o.holder = c.ID, c.ValidFrom, c.ValidUntil, v.Status.Label(), v.CurrentID, c.HolderIndex
	if t, err := s.Certs.Type(r.Context(), c.Type); err == nil {
		o.TypeName = t.Name
		if source == "document" {
			// The clerk holds the document, so may read what it carries.
			var subj struct {
				Holder certificates.Holder `json:"holder"`
				Data   map[string]any      `json:"data"`
			}
			_ = json.Unmarshal(v.Subject, &subj)
			o.HolderName = subj.Holder.Name
			for _, f := range t.Fields {
				if val, ok := subj.Data[f.Name]; ok {
					o.Fields = append(o.Fields, exchange.ShownField{Name: f.Name, Label: fieldLabel(r, f), Value: val})
				}
			}
		}
	}
	if source == "identifier" {
		// A bare identifier reveals no more than the public verify API.
		o.HolderName, o.Masked = certificates.MaskName(c.Holder.Kind, c.Holder.Name), true
	}
	return o
}

// elsewhere answers for a licence another hub of the federation holds:
// that hub's verdict (or, when it cannot answer, what this hub checked and
// the copy it holds), as the verify API gives it; nil when the licence is
// this hub's.
func (s *Server) elsewhere(r *http.Request, document, id string, v *certificates.Verification, source string) (*outcome, error) {
	if s.Elsewhere == nil {
		return nil, nil
	}
	b, err := s.Elsewhere(r, document, id, v)
	if err != nil || b == nil {
		return nil, err
	}
	var a struct {
		Valid     bool     `json:"valid"`
		Reasons   []string `json:"reasons"`
		Authority *struct {
			Code string `json:"code"`
			Name string `json:"name"`
		} `json:"authority"`
		StatusLabel string `json:"status_label"`
		CurrentID   string `json:"current_id"`
		Certificate *struct {
			ID         string              `json:"id"`
			TypeName   string              `json:"type_name"`
			ValidFrom  certificates.Date   `json:"valid_from"`
			ValidUntil certificates.Date   `json:"valid_until"`
			Holder     certificates.Holder `json:"holder"`
			Subject    struct {
				Holder certificates.Holder `json:"holder"`
				Data   map[string]any      `json:"data"`
			} `json:"subject"`
			Fields []certificates.Field `json:"fields"`
		} `json:"certificate"`
		Hub struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"hub"`
		AsOf *time.Time `json:"as_of"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	// No seal picture: this hub has none of another hub's authorities.
	o := &outcome{Valid: a.Valid, Source: source, Status: a.StatusLabel, CurrentID: a.CurrentID, Hub: a.Hub.Name}
	if o.Hub == "" {
		o.Hub = a.Hub.ID
	}
	for _, reason := range a.Reasons {
		o.Reasons = append(o.Reasons, "r_"+reason)
	}
	if a.AsOf != nil {
		o.AsOf = a.AsOf.In(s.Certs.Location).Format("2006-01-02 15:04:05")
	}
	if a.Authority != nil {
		o.Authority = a.Authority.Name
	}
	if c := a.Certificate; c != nil {
		o.ID, o.TypeName, o.ValidFrom, o.ValidUntil = c.ID, c.TypeName, c.ValidFrom, c.ValidUntil
		if source == "document" {
			// The clerk holds the document, so may read what it carries,
			// labelled as that hub's type labels its fields.
			o.HolderName = c.Subject.Holder.Name
			for _, f := range c.Fields {
				if val, ok := c.Subject.Data[f.Name]; ok {
					o.Fields = append(o.Fields, exchange.ShownField{Name: f.Name, Label: fieldLabel(r, f), Value: val})
				}
			}
		} else {
			o.HolderName, o.Masked = c.Holder.Name, true
		}
	}
	return o, nil
}

// fieldLabel is a field's label in the page's language.
func fieldLabel(r *http.Request, f certificates.Field) string {
	if langOf(r) == "en" && f.LabelEN != "" {
		return f.LabelEN
	}
	return f.Label
}
