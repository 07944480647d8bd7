package web

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// viewOf describes a viewer coarsely: browser family and network, never
// the full address.
func viewOf(r *http.Request) exchange.ShareView {
	return exchange.ShareView{Client: clientFamily(r.UserAgent()), Network: network(middleware.GetClientIPAddr(r.Context()))}
}

func clientFamily(ua string) string {
	browser := "other"
	for _, b := range []struct{ needle, name string }{
		{"MicroMessenger", "WeChat"}, {"AlipayClient", "Alipay"}, {"Edg/", "Edge"}, {"HeadlessChrome", "Headless Chrome"},
		{"Chrome/", "Chrome"}, {"Firefox/", "Firefox"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.needle) {
			browser = b.name
			break
		}
	}
	os := ""
	for _, o := range []struct{ needle, name string }{{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iOS"}, {"Windows", "Windows"}, {"Mac OS", "macOS"}, {"Linux", "Linux"}} {
		if strings.Contains(ua, o.needle) {
			os = " / " + o.name
			break
		}
	}
	return browser + os
}

func network(ip netip.Addr) string {
	if !ip.IsValid() {
		return "unknown"
	}
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}

// shareAnswer is the share page as JSON.
type shareAnswer struct {
	Valid         bool                  `json:"valid"`
	Status        certificates.Status   `json:"status"`
	StatusCode    string                `json:"status_code"`
	StatusLabel   string                `json:"status_label"`
	SealValid     bool                  `json:"seal_valid"`
	Authority     map[string]string     `json:"authority"`
	Type          map[string]string     `json:"type"`
	CertificateID string                `json:"certificate_id"`
	HolderName    string                `json:"holder_name"`
	ValidFrom     certificates.Date     `json:"valid_from"`
	ValidUntil    certificates.Date     `json:"valid_until"`
	Fields        []exchange.ShownField `json:"fields"`
	Purpose       string                `json:"purpose,omitempty"`
	ExpiresAt     time.Time             `json:"expires_at"`
	Views         int                   `json:"views"`
	MaxViews      *int                  `json:"max_views,omitempty"`
	// CompactQR is the compact signed QR text of exactly the shared
	// fields, for a valid licence while the share is live.
	CompactQR string `json:"compact_qr,omitempty"`
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func (s *Server) sharePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Robots-Tag", "noindex, nofollow")
	shown, err := s.Shares.Open(r.Context(), chi.URLParam(r, "token"), viewOf(r))
	if errs.Is(err, errs.NotFound) {
		// Unknown, expired, revoked and used-up tokens: one answer.
		if wantsJSON(r) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"valid":false,"error":{"code":"not_found","message":"this share link is not valid: it is unknown, expired, revoked or used up"}}` + "\n"))
			return
		}
		s.render(w, r, http.StatusNotFound, "share_invalid", "share_invalid", nil)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c := shown.Certificate
	a := shareAnswer{Valid: shown.Status == certificates.StatusValid && shown.SealValid, Status: shown.Status,
		StatusCode: shown.Status.Code(), StatusLabel: shown.Status.Label(), SealValid: shown.SealValid,
		Authority: map[string]string{"code": shown.Authority.Code, "name": shown.Authority.Name},
		Type:      map[string]string{"code": shown.Type.Code, "name": shown.Type.Name}, CertificateID: c.ID,
		HolderName: shown.HolderName, ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil, Fields: shown.Fields,
		Purpose: shown.Share.Purpose, ExpiresAt: shown.Share.ExpiresAt, Views: shown.Share.Views, MaxViews: shown.Share.MaxViews}
	if a.Fields == nil {
		a.Fields = []exchange.ShownField{}
	}
	// The offline form of exactly what is shared, under the share page's
	// holder name; the page is only reached while the share is live.
	var compact *compactView
	if a.Valid {
		req := exchange.CompactRequest{Fields: append([]string{}, shown.Share.Fields...), HolderName: shown.HolderName}
		if compact, err = s.compactQR(r.Context(), c, shown.Type, req, !wantsJSON(r)); err != nil {
			s.fail(w, r, err)
			return
		}
		a.CompactQR = compact.Text
	}
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(a)
		return
	}
	s.render(w, r, http.StatusOK, "share", "shared_certificate", struct {
		A         shareAnswer
		Reasons   []string
		ViewsLeft int
		Token     string // for the PDF link
		Compact   *compactView
	}{A: a, Reasons: reasonsOf(shown.Status, shown.SealValid), ViewsLeft: viewsLeft(shown.Share), Token: chi.URLParam(r, "token"), Compact: compact})
}

func viewsLeft(sh *exchange.Share) int {
	if sh.MaxViews == nil {
		return -1
	}
	return *sh.MaxViews - sh.Views
}

// reasonsOf turns a status and seal check into the reason keys of the page.
func reasonsOf(st certificates.Status, sealOK bool) []string {
	var out []string
	if !sealOK {
		out = append(out, "r_seal_bad")
	}
	if st != certificates.StatusValid {
		out = append(out, "r_"+string(st))
	}
	return out
}
