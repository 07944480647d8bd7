package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/qr"
)

func me(r *http.Request) exchange.Holder {
	p := principalOf(r.Context())
	return exchange.Holder{Kind: certificates.HolderKind(p.HolderKind), ID: p.HolderID}
}

func (s *Server) myCertificates(w http.ResponseWriter, r *http.Request) {
	cs, err := s.Shares.MyCertificates(r.Context(), me(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]certificateView, 0, len(cs))
	for _, c := range cs {
		out = append(out, s.view(c, nil))
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"certificates": out})
}

// shareView is a share as its holder sees it.
type shareView struct {
	ID            string     `json:"id"`
	CertificateID string     `json:"certificate_id"`
	URL           string     `json:"url"`
	QRPNG         string     `json:"qr_png"`
	QRSVG         string     `json:"qr_svg"`
	Fields        []string   `json:"fields"`
	Purpose       string     `json:"purpose,omitempty"`
	ShowName      bool       `json:"show_name"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	MaxViews      *int       `json:"max_views,omitempty"`
	Views         int        `json:"views"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	Live          bool       `json:"live"`
}

// ShareURL is the public link of a share token.
func ShareURL(public, token string) string { return strings.TrimRight(public, "/") + "/s/" + token }

func (s *Server) shareView(sh *exchange.Share) shareView {
	base := "/api/v1/me/shares/" + sh.ID
	return shareView{ID: sh.ID, CertificateID: sh.CertificateID, URL: ShareURL(s.PublicURL, s.Certs.Vault.ShareToken(sh.ID)),
		QRPNG: base + "/qr.png", QRSVG: base + "/qr.svg", Fields: sh.Fields, Purpose: sh.Purpose, ShowName: sh.ShowName,
		CreatedAt: sh.CreatedAt, ExpiresAt: sh.ExpiresAt, MaxViews: sh.MaxViews, Views: sh.Views, RevokedAt: sh.RevokedAt,
		Live: sh.Live(s.Now())}
}

func (s *Server) createShare(w http.ResponseWriter, r *http.Request) {
	var req exchange.ShareRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	sh, _, err := s.Shares.Create(r.Context(), me(r), &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.record(r, "share_create", exchange.AuditEntry{Certificates: []string{sh.CertificateID}, Holder: sh.HolderIndex,
		Fields: sh.Fields, Outcome: "ok: " + sh.ID}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "share created", "share_id", sh.ID, "certificate", sh.CertificateID)
	v := s.shareView(sh)
	s.writeJSON(w, http.StatusCreated, struct {
		ID        string    `json:"id"`
		URL       string    `json:"url"`
		ExpiresAt time.Time `json:"expires_at"`
		QRPNG     string    `json:"qr_png"`
		QRSVG     string    `json:"qr_svg"`
		Share     shareView `json:"share"`
	}{v.ID, v.URL, v.ExpiresAt, v.QRPNG, v.QRSVG, v})
}

func (s *Server) listShares(w http.ResponseWriter, r *http.Request) {
	list, err := s.Shares.List(r.Context(), me(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	views, err := s.Shares.Views(r.Context(), me(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]shareView, 0, len(list))
	for _, sh := range list {
		out = append(out, s.shareView(sh))
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"shares": out, "views": nonNil(views)})
}

func (s *Server) revokeShare(w http.ResponseWriter, r *http.Request) {
	if err := s.Shares.Revoke(r.Context(), me(r), chi.URLParam(r, "id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func shareQR(format string) func(*Server, http.ResponseWriter, *http.Request) {
	return func(s *Server, w http.ResponseWriter, r *http.Request) {
		_, token, err := s.Shares.Token(r.Context(), me(r), chi.URLParam(r, "id"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		url := ShareURL(s.PublicURL, token)
		var img []byte
		if format == "png" {
			img, err = qr.PNG(url, 8)
			w.Header().Set("Content-Type", "image/png")
		} else {
			img, err = qr.SVG(url)
			w.Header().Set("Content-Type", "image/svg+xml")
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "private, no-store")
		_, _ = w.Write(img)
	}
}

// myAccesses shows a holder the ledger's entries about them: who used
// their certificates, when, for what purpose and which case. The entries
// are found by the holder index inside each hashed entry (the store's
// column is derived from it), so hiding one from its holder breaks the
// ledger's verification. Entries of months archived to the object store
// (certhub audit archive) are not listed; archived_before (YYYY-MM) says
// the list covers the entries from that month on.
func (s *Server) myAccesses(w http.ResponseWriter, r *http.Request) {
	if s.Ledger == nil {
		s.writeJSON(w, http.StatusOK, map[string]any{"accesses": []any{}})
		return
	}
	h := me(r)
	list, err := s.Ledger.Store.HolderAudit(r.Context(), s.Certs.Vault.Index(string(h.Kind), h.ID), 500)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := map[string]any{"accesses": nonNil(list)}
	// Entries of archived months are in the object store, not here: say
	// from when the list is complete (docs/operations.md).
	before, err := s.Ledger.ArchivedBefore(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if before != "" {
		out["archived_before"] = before
	}
	s.writeJSON(w, http.StatusOK, out)
}
