package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// certificateView is a certificate version as the API shows it.
type certificateView struct {
	ID             string              `json:"id"`
	Type           string              `json:"type"`
	Authority      string              `json:"authority"`
	Serial         string              `json:"serial"`
	Version        int                 `json:"version"`
	Holder         certificates.Holder `json:"holder"`
	Data           map[string]any      `json:"data"`
	ValidFrom      certificates.Date   `json:"valid_from"`
	ValidUntil     certificates.Date   `json:"valid_until"`
	Status         certificates.Status `json:"status"`
	StatusCode     string              `json:"status_code"`
	StatusLabel    string              `json:"status_label"`
	StatusReason   string              `json:"status_reason,omitempty"`
	Current        bool                `json:"current"`
	SupersededBy   string              `json:"superseded_by,omitempty"`
	DocumentSHA256 string              `json:"document_sha256"`
	KID            string              `json:"kid"`
	IssuedAt       time.Time           `json:"issued_at"`
	UpdatedAt      time.Time           `json:"updated_at"`
	Document       string              `json:"document,omitempty"`
	// Agreement names the sharing agreement that authorised a consumer's
	// read; Data then holds only the fields it grants.
	Agreement string `json:"agreement,omitempty"`
	// Hub and Source mark a read-only copy of another hub's certificate
	// kept here (aggregation): the hub that holds it, and "aggregated".
	Hub    *verifyHub `json:"hub,omitempty"`
	Source string     `json:"source,omitempty"`
}

func (s *Server) view(c *certificates.Certificate, doc []byte) certificateView {
	st := c.StatusOn(s.Certs.Today())
	return certificateView{
		ID: c.ID, Type: c.Type, Authority: c.Authority, Serial: c.Serial, Version: c.Version, Holder: c.Holder, Data: c.Data,
		ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil, Status: st, StatusCode: st.Code(), StatusLabel: st.Label(),
		StatusReason: c.StateReason, Current: c.State != certificates.StateSuperseded, SupersededBy: c.SupersededBy,
		DocumentSHA256: c.DocumentSHA256, KID: c.KID, IssuedAt: c.IssuedAt, UpdatedAt: c.UpdatedAt, Document: string(doc),
	}
}

type issueBody struct {
	Type       string              `json:"type"`
	Authority  string              `json:"authority"`
	Holder     certificates.Holder `json:"holder"`
	Data       map[string]any      `json:"data"`
	ValidFrom  string              `json:"valid_from"`
	ValidUntil *string             `json:"valid_until"`
}

// date parses an optional date field, recording a problem under its name.
func date(l *errs.List, field string, s *string) certificates.Date {
	if s == nil || *s == "" {
		return certificates.Date{}
	}
	d, err := certificates.ParseDate(*s)
	if err != nil {
		l.Add(field, "%v", err)
	}
	return d
}

func (s *Server) issue(w http.ResponseWriter, r *http.Request) {
	var b issueBody
	if err := s.decode(w, r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	var l errs.List
	req := &certificates.IssueRequest{Type: b.Type, Authority: b.Authority, Holder: b.Holder, Data: b.Data,
		ValidFrom: date(&l, "valid_from", &b.ValidFrom), ValidUntil: date(&l, "valid_until", b.ValidUntil)}
	var idem *certificates.IdempotencyKey
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if len(key) > 200 || strings.IndexFunc(key, func(c rune) bool { return c > unicode.MaxASCII || !unicode.IsPrint(c) }) >= 0 {
			l.Add("Idempotency-Key", "must be at most 200 printable ASCII characters")
		}
		idem = &certificates.IdempotencyKey{Principal: principalOf(r.Context()).TokenID, Key: key}
	}
	if err := l.Err(); err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := s.Certs.Issue(r.Context(), scope(principalOf(r.Context())), req, idem)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e := about(out.Certificate)
	if out.Replayed {
		e.Outcome = "replayed"
	}
	if err := s.record(r, "issue", e); err != nil {
		s.fail(w, r, err)
		return
	}
	st := http.StatusCreated
	if out.Replayed {
		st = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		s.Log.InfoContext(r.Context(), "certificate issued", "id", out.Certificate.ID, "kid", out.Certificate.KID)
	}
	w.Header().Set("Location", "/api/v1/certificates/"+out.Certificate.ID)
	s.writeJSON(w, st, s.view(out.Certificate, out.Document))
}

type reviseBody struct {
	Data       map[string]any `json:"data"`
	ValidFrom  *string        `json:"valid_from"`
	ValidUntil *string        `json:"valid_until"`
	HolderName string         `json:"holder_name"`
	Reason     string         `json:"reason"`
}

func (s *Server) revise(w http.ResponseWriter, r *http.Request) {
	var b reviseBody
	if err := s.decode(w, r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	var l errs.List
	req := &certificates.ReviseRequest{Data: b.Data, HolderName: b.HolderName, Reason: b.Reason}
	if b.ValidFrom != nil {
		d := date(&l, "valid_from", b.ValidFrom)
		req.ValidFrom = &d
	}
	if b.ValidUntil != nil {
		d := date(&l, "valid_until", b.ValidUntil)
		req.ValidUntil = &d
	}
	if err := l.Err(); err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := s.Certs.Revise(r.Context(), scope(principalOf(r.Context())), chi.URLParam(r, "id"), req)
	if err != nil {
		err = s.notACopy(r, err, "its revisions are issued there")
		s.fail(w, r, err)
		return
	}
	if err := s.record(r, "revise", about(out.Certificate)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "certificate revised", "id", out.Certificate.ID)
	w.Header().Set("Location", "/api/v1/certificates/"+out.Certificate.ID)
	s.writeJSON(w, http.StatusCreated, s.view(out.Certificate, out.Document))
}

func lifecycle(act certificates.Action) func(*Server, http.ResponseWriter, *http.Request) {
	return func(s *Server, w http.ResponseWriter, r *http.Request) {
		var b struct {
			Reason string `json:"reason"`
		}
		if err := s.decode(w, r, &b); err != nil {
			s.fail(w, r, err)
			return
		}
		c, err := s.Certs.Lifecycle(r.Context(), scope(principalOf(r.Context())), chi.URLParam(r, "id"), act, b.Reason)
		if err != nil {
			err = s.notACopy(r, err, "it is "+string(act)+"d there")
			s.fail(w, r, err)
			return
		}
		e := about(c)
		e.Outcome = "ok: " + b.Reason
		if err := s.record(r, string(act), e); err != nil {
			s.fail(w, r, err)
			return
		}
		s.Log.InfoContext(r.Context(), "certificate "+string(act), "id", c.ID)
		s.writeJSON(w, http.StatusOK, s.view(c, nil))
	}
}

// readable loads a certificate for a reader: issuers see only their own
// authority's; consumers must name purpose and case, and an active
// agreement must cover the certificate's type for that purpose.
func (s *Server) readable(w http.ResponseWriter, r *http.Request, document bool) (*certificates.Certificate, *permit, bool) {
	return s.readableAs(w, r, document, false)
}

// readableAs is readable; with copies, a copy of another hub's
// certificate kept here is read too (under the same checks); without, a
// copy's id is refused as one that only its home hub makes things of.
func (s *Server) readableAs(w http.ResponseWriter, r *http.Request, document, copies bool) (*certificates.Certificate, *permit, bool) {
	cov, err := s.coverage(r)
	if err != nil {
		s.fail(w, r, err)
		return nil, nil, false
	}
	id := chi.URLParam(r, "id")
	c, err := s.Certs.Get(r.Context(), id)
	if errs.Is(err, errs.NotFound) {
		if cp := s.copyOf(r, id); cp != nil {
			c, err = cp, nil
			if !copies {
				err = s.readOnlyCopy(r, cp, "its files, QR codes and annotated copies are made there")
			}
		}
	}
	if err == nil {
		err = scopeCheck(principalOf(r.Context()), c)
	}
	var pm *permit
	if err == nil {
		pm, err = s.permitFor(w, r, cov, c.Type, document)
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, nil, false
	}
	return c, pm, true
}

func scopeCheck(p *exchange.Principal, c *certificates.Certificate) error {
	if sc := scope(p); sc.Authority != "" && sc.Authority != c.Authority {
		return errs.E(errs.Forbidden, "this token may read only certificates of authority %s", sc.Authority)
	}
	return nil
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request) {
	c, pm, ok := s.readableAs(w, r, false, true)
	if !ok {
		return
	}
	v := s.viewOf(r, c)
	pm.minimise(&v)
	e := about(c)
	e.Fields, e.Agreement = disclosed(&v), v.Agreement
	if err := s.record(r, "read", e); err != nil {
		s.fail(w, r, err)
		return
	}
	s.follow(r, c)
	agreementHeader(w, []string{v.Agreement})
	s.writeJSON(w, http.StatusOK, v)
}

func (s *Server) getDocument(w http.ResponseWriter, r *http.Request) {
	c, pm, ok := s.readableAs(w, r, true, true)
	if !ok {
		return
	}
	var doc []byte
	var err error
	if c.HomeHub != "" {
		doc, err = s.Copies.CopyDocument(r.Context(), c)
	} else {
		_, doc, err = s.Certs.Document(r.Context(), c.ID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e := about(c)
	e.Fields = fieldsOf(c)
	if pm != nil {
		e.Agreement = pm.agreement.ID
		agreementHeader(w, []string{pm.agreement.ID})
	}
	if err := s.record(r, "document", e); err != nil {
		s.fail(w, r, err)
		return
	}
	s.follow(r, c)
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Content-Disposition", `attachment; filename="`+c.ID+`.jws"`)
	_, _ = w.Write(doc)
}

func (s *Server) findCertificates(w http.ResponseWriter, r *http.Request) {
	if fed, err := scopeOf(r.URL.Query()); err != nil {
		s.fail(w, r, err)
		return
	} else if fed && s.forward(w, r, r.URL.Query().Get("type"), nil) {
		return
	}
	cov, err := s.coverage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	req := certificates.FindRequest{HolderID: q.Get("holder_id"), HolderKind: certificates.HolderKind(q.Get("holder_kind")),
		Type: q.Get("type"), Status: q.Get("status")}
	var l errs.List
	if p := principalOf(r.Context()); p.Role == exchange.RoleConsumer && req.HolderID == "" {
		l.Add("holder_id", "is required for department systems (look up one holder at a time)")
	}
	if k := req.HolderKind; k != "" && k != certificates.Person && k != certificates.Organisation {
		l.Add("holder_kind", "must be person or organisation")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			l.Add("limit", "must be a whole number")
		}
		req.Limit = n
	}
	if v := q.Get("page_token"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || err2 != nil || n < 0 {
			l.Add("page_token", "is not a page token this API returned")
		}
		req.Cursor = n
	}
	if err := l.Err(); err != nil {
		s.fail(w, r, err)
		return
	}
	if cov != nil && req.Type != "" {
		if _, _, err := cov.For(req.Type); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	// A lookup may be a moment behind (a read replica may answer it); the
	// certificate's status that decides a verification never is.
	found, next, err := s.Certs.Find(certificates.WithStaleReads(r.Context()), scope(principalOf(r.Context())), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var holder string
	if req.HolderID != "" {
		kind := req.HolderKind
		if kind == "" {
			kind = certificates.HolderKindOf(req.HolderID)
		}
		holder = s.Certs.Vault.Index(string(kind), req.HolderID)
	}
	// The copies of other hubs' certificates kept here come with the
	// first page of a holder's lookup.
	if holder != "" && req.Cursor == 0 {
		copies, err := s.holderCopies(r, holder, req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		found = append(found, copies...)
	}
	// A department sees only the types its agreements cover for the
	// purpose, and of those only the granted fields; the rate limit is
	// spent once per agreement used.
	cs := found[:0]
	views := make([]certificateView, 0, len(found))
	permits := map[string]*permit{}
	var fields, agreements []string
	for _, c := range found {
		var pm *permit
		if cov != nil {
			if _, ok := cov.ByType[c.Type]; !ok {
				continue
			}
			if pm = permits[c.Type]; pm == nil {
				if pm, err = s.permitFor(w, r, cov, c.Type, false); err != nil {
					s.fail(w, r, err)
					return
				}
				permits[c.Type] = pm
				agreements = append(agreements, pm.agreement.ID)
			}
		}
		v := s.viewOf(r, c)
		pm.minimise(&v)
		fields = append(fields, disclosed(&v)...)
		cs, views = append(cs, c), append(views, v)
	}
	e := about(cs...)
	slices.Sort(fields)
	e.Fields = slices.Compact(fields)
	agreementHeader(w, agreements)
	e.Agreement = w.Header().Get("X-Agreement-Id")
	if holder != "" {
		e.Holder = holder
	}
	if err := s.record(r, "lookup", e); err != nil {
		s.fail(w, r, err)
		return
	}
	s.follow(r, cs...)
	out := struct {
		Certificates  []certificateView `json:"certificates"`
		NextPageToken string            `json:"next_page_token,omitempty"`
	}{Certificates: views}
	if next != 0 {
		out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(next, 10)))
	}
	s.writeJSON(w, http.StatusOK, out)
}

// verifyBody is the input of POST /api/v1/verify: exactly one of the two.
type verifyBody struct {
	Document string `json:"document"`
	ID       string `json:"id"`
}

type verifyAuthority struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

type verifyCertificate struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	TypeName   string            `json:"type_name,omitempty"`
	Version    int               `json:"version"`
	ValidFrom  certificates.Date `json:"valid_from"`
	ValidUntil certificates.Date `json:"valid_until"`
	// Holder is the masked holder name (identifier answers).
	Holder *certificates.Holder `json:"holder,omitempty"`
	// Subject is what the document carries: holder and data.
	Subject json.RawMessage `json:"subject,omitempty"`
	// Fields are the type's fields (name, label, label_en, type), in its
	// order (document answers).
	Fields []certificates.Field `json:"fields,omitempty"`
}

type verifyAnswer struct {
	Valid       bool               `json:"valid"`
	Reasons     []string           `json:"reasons"`
	Authority   *verifyAuthority   `json:"authority,omitempty"`
	KID         string             `json:"kid,omitempty"`
	Status      string             `json:"status,omitempty"`
	StatusCode  string             `json:"status_code,omitempty"`
	StatusLabel string             `json:"status_label,omitempty"`
	Current     *bool              `json:"current,omitempty"`
	CurrentID   string             `json:"current_id,omitempty"`
	Certificate *verifyCertificate `json:"certificate,omitempty"`
	// Form and FileProblems answer an uploaded licence file.
	Form         string   `json:"form,omitempty"`
	FileProblems []string `json:"file_problems,omitempty"`
	// Hub is the hub of the federation that holds the certificate, when it
	// is another one: the answer is that hub's, or says why it is missing.
	Hub *verifyHub `json:"hub,omitempty"`
	// Source is "aggregated" when the home hub could not be asked and the
	// status is that of the copy it pushed here, as of AsOf (its last
	// change here); Unanswered then says why the home hub was not.
	Source     string     `json:"source,omitempty"`
	AsOf       *time.Time `json:"as_of,omitempty"`
	Unanswered string     `json:"unanswered,omitempty"`
}

type verifyHub struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		s.verifyFile(w, r)
		return
	}
	var b verifyBody
	if err := s.decode(w, r, &b); err != nil {
		s.fail(w, r, err)
		return
	}
	var v *certificates.Verification
	var err error
	switch {
	case (b.Document == "") == (b.ID == ""):
		s.fail(w, r, errs.Field("document", "send exactly one of document (a JWS) or id (a certificate identifier)"))
		return
	case b.Document != "":
		v, err = s.Certs.VerifyDocument(r.Context(), []byte(strings.TrimSpace(b.Document)))
	default:
		v, err = s.Certs.VerifyID(r.Context(), strings.TrimSpace(b.ID))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a := s.verifyAnswer(r, v, b.Document != "")
	if s.Federation != nil {
		if a, err = s.verifyElsewhere(r, b, v, a); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	input := "id"
	if b.Document != "" {
		input = "document"
	}
	s.countVerification(input, a.Valid)
	s.writeJSON(w, http.StatusOK, a)
}

func (s *Server) verifyAnswer(r *http.Request, v *certificates.Verification, document bool) verifyAnswer {
	a := verifyAnswer{Valid: v.Valid, Reasons: nonNil(v.Reasons), KID: v.KID}
	if v.Authority != nil {
		a.Authority = &verifyAuthority{Code: v.Authority.Code, Name: v.Authority.Name}
	}
	c := v.Certificate
	if c == nil {
		return a
	}
	a.Status, a.StatusCode, a.StatusLabel = string(v.Status), v.Status.Code(), v.Status.Label()
	a.Current, a.CurrentID = &v.Current, v.CurrentID
	vc := &verifyCertificate{ID: c.ID, Type: c.Type, Version: c.Version, ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil}
	t, err := s.Certs.Type(r.Context(), c.Type)
	if err == nil {
		vc.TypeName = t.Name
	}
	if document {
		vc.Subject = v.Subject
		if t != nil {
			// What the document's fields are called, for a verifier that
			// does not hold the type (another hub's clerk page).
			vc.Fields = make([]certificates.Field, 0, len(t.Fields))
			for _, f := range t.Fields {
				vc.Fields = append(vc.Fields, certificates.Field{Name: f.Name, Label: f.Label, LabelEN: f.LabelEN, Type: f.Type})
			}
		}
	} else {
		vc.Holder = &certificates.Holder{Kind: c.Holder.Kind, Name: certificates.MaskName(c.Holder.Kind, c.Holder.Name)}
	}
	a.Certificate = vc
	return a
}
