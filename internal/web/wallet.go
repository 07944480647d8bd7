package web

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/qr"
)

func holderOf(r *http.Request) exchange.Holder {
	sess := sessionOf(r)
	return exchange.Holder{Kind: certificates.HolderKind(sess.HolderKind), ID: sess.HolderID}
}

type walletCert struct {
	C         *certificates.Certificate
	TypeName  string
	AuthName  string
	Status    certificates.Status
	Shareable []certificates.Field
}

type walletShare struct {
	S        *exchange.Share
	URL      string
	Live     bool
	TypeName string
	Labels   []string // the shared fields' labels
}

type walletData struct {
	Certificates []walletCert
	Shares       []walletShare
	Views        []exchange.ShareView
	Accesses     []exchange.AuditEntry // who used my certificates
	// ArchivedBefore is the month (YYYY-MM) before which the ledger's
	// entries are archived and not listed in Accesses ("" if none are).
	ArchivedBefore string
	Created        string // id of the share just made
	// Items are the service items a holder can check before applying;
	// Check is the answer for the one asked about.
	Items []*exchange.ServiceItem
	Item  string
	Check *exchange.ResolveAnswer
	// PurposeNames names the catalog codes departments gave as purpose.
	PurposeNames map[string]string
	// Annotations are the annotated copies (加注件) of the holder's
	// certificates, newest first; Annotated is the one just made.
	Annotations []walletAnnotation
	Annotated   string
	// Annotate is the 加注件 form refused with problems, shown open again.
	Annotate *annotateForm
	// Today, DefaultExpiry and LastExpiry bound the 加注件 form's date.
	Today, DefaultExpiry, LastExpiry certificates.Date
	// AnnotationsOn is whether the hub makes annotated copies.
	AnnotationsOn bool
	// Compact is the compact signed QR the holder asked to see
	// (?compact=<certificate id>&fields=…), shown in that certificate's card.
	Compact *compactView
}

func (s *Server) wallet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.showWallet(w, r, http.StatusOK, walletData{Created: q.Get("created"), Annotated: q.Get("annotated")})
}

// showWallet fills d with the holder's certificates, shares, copies and
// history and renders the wallet with status.
func (s *Server) showWallet(w http.ResponseWriter, r *http.Request, status int, d walletData) {
	ctx := r.Context()
	h := holderOf(r)
	certs, err := s.Shares.MyCertificates(ctx, h)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	today := s.Certs.Today()
	d.Today, d.DefaultExpiry, d.LastExpiry = today, today.AddDays(annotationDefaultDays), today.AddDays(exchange.MaxAnnotationDays)
	d.AnnotationsOn = s.Annotations != nil && s.Files != nil
	typeOf := map[string]*certificates.Type{}
	for _, c := range certs {
		t, err := s.Certs.Type(ctx, c.Type)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		a, err := s.Certs.Authority(ctx, c.Authority)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		typeOf[c.ID] = t
		wc := walletCert{C: c, TypeName: t.Name, AuthName: a.Name, Status: c.StatusOn(today)}
		if q := r.URL.Query(); q.Get("compact") == c.ID {
			// The fields the holder ticked; none ticked is none.
			req := exchange.CompactRequest{Fields: append([]string{}, q["fields"]...)}
			if d.Compact, err = s.compactQR(ctx, c, t, req, true); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		for _, f := range t.Fields {
			if f.Shareable {
				wc.Shareable = append(wc.Shareable, f)
			}
		}
		d.Certificates = append(d.Certificates, wc)
	}
	shares, err := s.Shares.List(ctx, h)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, sh := range shares {
		ws := walletShare{S: sh, URL: shareURL(s.PublicURL, s.Certs.Vault.ShareToken(sh.ID)), Live: sh.Live(s.Now()), Labels: sh.Fields}
		if t := typeOf[sh.CertificateID]; t != nil {
			ws.TypeName, ws.Labels = t.Name, nil
			for _, name := range sh.Fields {
				if f, ok := t.Field(name); ok {
					ws.Labels = append(ws.Labels, f.Label)
				}
			}
		}
		d.Shares = append(d.Shares, ws)
	}
	if d.AnnotationsOn {
		list, err := s.Annotations.List(ctx, h)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, a := range list {
			wa := walletAnnotation{A: a, Status: annotationStatus(a, today)}
			if t := typeOf[a.CertificateID]; t != nil {
				wa.TypeName = t.Name
			}
			d.Annotations = append(d.Annotations, wa)
		}
	}
	if d.Views, err = s.Shares.Views(ctx, h); err != nil {
		s.fail(w, r, err)
		return
	}
	if l := s.Shares.Ledger; l != nil {
		if d.Accesses, err = l.Store.HolderAudit(ctx, s.Certs.Vault.Index(string(h.Kind), h.ID), 100); err != nil {
			s.fail(w, r, err)
			return
		}
		if d.ArchivedBefore, err = l.ArchivedBefore(ctx); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if s.Registry != nil {
		ps, err := s.Registry.Store.ListPurposes(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.PurposeNames = map[string]string{}
		for _, p := range ps {
			d.PurposeNames[p.Code] = p.Name
		}
	}
	if s.Items != nil {
		if d.Items, err = s.Items.Store.ListItems(ctx); err != nil {
			s.fail(w, r, err)
			return
		}
		if d.Item = r.URL.Query().Get("item"); d.Item != "" {
			// The holder asks for themselves: every type is looked at, and
			// nothing is counted or disclosed to anyone else.
			req := &exchange.ResolveRequest{}
			req.Applicant.Kind, req.Applicant.ID = string(h.Kind), h.ID
			me := &exchange.Principal{Role: exchange.RoleHolder, HolderKind: string(h.Kind), HolderID: h.ID}
			if d.Check, err = s.Items.Resolve(ctx, me, d.Item, req); err != nil {
				s.fail(w, r, err)
				return
			}
		}
	}
	s.render(w, r, status, "wallet", "wallet", d)
}

func (s *Server) createShare(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "bad_request", "")
		return
	}
	req := &exchange.ShareRequest{CertificateID: r.PostFormValue("certificate_id"), Fields: r.PostForm["fields"],
		Purpose: r.PostFormValue("purpose"), ShowName: r.PostFormValue("show_name") == "1"}
	if v, err := strconv.Atoi(r.PostFormValue("expires_in_seconds")); err == nil {
		req.ExpiresInSeconds = &v
	}
	if v := r.PostFormValue("max_views"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -1 // reported by validation as out of range
		}
		req.MaxViews = &n
	}
	sh, _, err := s.Shares.Create(r.Context(), holderOf(r), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/wallet?created="+sh.ID+"#share-"+sh.ID, http.StatusSeeOther)
}

func (s *Server) revokeShare(w http.ResponseWriter, r *http.Request) {
	if err := s.Shares.Revoke(r.Context(), holderOf(r), chi.URLParam(r, "id")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/wallet#shares", http.StatusSeeOther)
}

func (s *Server) shareQR(w http.ResponseWriter, r *http.Request) {
	_, token, err := s.Shares.Token(r.Context(), holderOf(r), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	img, err := qr.SVG(shareURL(s.PublicURL, token))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "private, no-store")
	_, _ = w.Write(img)
}

func shareURL(public, token string) string {
	for len(public) > 0 && public[len(public)-1] == '/' {
		public = public[:len(public)-1]
	}
	return public + "/s/" + token
}

// expiryChoices are the share durations the wallet offers.
var expiryChoices = []struct {
	Seconds int
	Key     string
}{{600, "m10"}, {3600, "h1"}, {86400, "d1"}, {7 * 86400, "d7"}, {30 * 86400, "d30"}}

func (walletData) Expiries() []struct {
	Seconds int
	Key     string
} {
	return expiryChoices
}
