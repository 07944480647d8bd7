// Package web is certhub's pages: the citizen's wallet (/wallet), the share
// page behind a QR code (/s/<token>), the window clerk's verify page
// (/verify) and the administrators' usage report (/admin/reports). Server-rendered with html/template, Chinese first with English
// available, no external requests, no inline scripts, CSRF-protected forms.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/licencefile"
	"github.com/certhub/certhub/internal/oidc"
	"github.com/certhub/certhub/signing"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DemoHolder is a holder the demo sign-in offers.
type DemoHolder struct {
	Kind certificates.HolderKind `json:"kind"`
	ID   string                  `json:"id"`
	Name string                  `json:"name"`
}

// Server holds the pages' dependencies.
type Server struct {
	// Elsewhere answers for a certificate another hub of the federation
	// holds, as POST /api/v1/verify does (httpapi.Server.VerifyElsewhere):
	// the answer's JSON when it is another hub's, nil when it is this
	// hub's. Nil: the hub is in no federation.
	Elsewhere func(r *http.Request, document, id string, v *certificates.Verification) ([]byte, error)
	Certs     *certificates.Service
	Shares    *exchange.Shares
	Tokens    exchange.TokenStore
	OIDC      *oidc.Provider // nil: no identity-provider sign-in
	Box       *signing.Box
	Log       *slog.Logger
	Now       func() time.Time
	PublicURL string
	// ShareRatePerMinute limits /s/ per client IP (0: no limit).
	ShareRatePerMinute int
	// Demo lists the holders of the demo sign-in. Only `certhub demo`
	// sets it; no flag or setting can.
	Demo []DemoHolder
	// AdminTokenHash is exchange.HashSecret of the bootstrap admin token,
	// which signs an administrator in to /admin like an admin API token.
	AdminTokenHash string
	// Registry holds consumers and agreements (/admin/agreements).
	Registry *exchange.Registry
	// Items is the service item catalog (the wallet's "what to bring"
	// check and /admin/materials).
	Items *exchange.Resolver
	// Files makes licence files (the wallet's downloads, the share page's
	// PDF) and verifies uploaded ones at /verify; the API server's Maker,
	// shared so fonts load once. Nil: those pages answer 503.
	Files *licencefile.Maker
	// Annotations makes the wallet's annotated copies (加注件); the API
	// server's, so both see the same copies. Nil: those pages answer 503.
	Annotations *exchange.Annotations
	// HubKey signs the trust list and the status lists; its public JWK is
	// given to the offline verify page, which checks both with it. Nil: the
	// page verifies nothing offline.
	HubKey *signing.HubKey

	tmpl *template.Template
}

// Route is a page and who may open it: "" anyone, "holder", "clerk",
// "admin".
type Route struct {
	Method, Pattern, Owner string
	handler                func(*Server, http.ResponseWriter, *http.Request)
}

// Routes lists every page.
var Routes = []Route{
	{"GET", "/s/{token}", "", (*Server).sharePage},
	{"GET", "/s/{token}/file", "", (*Server).shareFile},
	{"GET", "/wallet", "holder", (*Server).wallet},
	{"GET", "/wallet/certificates/{id}/file", "holder", (*Server).walletFile},
	{"POST", "/wallet/certificates/{id}/annotated", "holder", (*Server).createAnnotated},
	{"GET", "/wallet/annotated/{aid}/file", "holder", (*Server).annotatedFile},
	{"POST", "/wallet/annotated/{aid}/revoke", "holder", (*Server).revokeAnnotated},
	{"POST", "/wallet/shares", "holder", (*Server).createShare},
	{"POST", "/wallet/shares/{id}/revoke", "holder", (*Server).revokeShare},
	{"GET", "/wallet/shares/{id}/qr.svg", "holder", (*Server).shareQR},
	{"GET", "/wallet/login", "", (*Server).walletLogin},
	{"POST", "/wallet/demo-login", "", (*Server).demoLogin},
	{"GET", "/verify", "clerk", (*Server).verifyPage},
	{"POST", "/verify/check", "clerk", (*Server).verifyCheck},
	{"POST", "/verify/upload", "clerk", (*Server).verifyUpload},
	{"POST", "/verify/file", "clerk", (*Server).verifyFile},
	{"POST", "/verify/scan", "clerk", (*Server).verifyScan},
	{"GET", "/verify/sw.js", "", (*Server).serviceWorker},
	{"GET", "/verify/manifest.webmanifest", "", (*Server).manifest},
	{"GET", "/verify/icon.svg", "", (*Server).icon},
	{"GET", "/verify/jsqr.js", "", (*Server).jsqr},
	{"GET", "/verify/login", "", (*Server).clerkLoginPage},
	{"POST", "/verify/login", "", (*Server).clerkLogin},
	{"POST", "/verify/demo-login", "", (*Server).demoClerkLogin},
	{"GET", "/admin/reports", "admin", (*Server).reportsPage},
	{"GET", "/admin/reports.csv", "admin", (*Server).reportsCSV},
	{"GET", "/admin/agreements", "admin", (*Server).agreementsPage},
	{"POST", "/admin/agreements/{id}/{decision}", "admin", (*Server).decideAgreement},
	{"GET", "/admin/materials", "admin", (*Server).materialsPage},
	{"GET", "/admin/items", "admin", (*Server).itemsPage},
	{"POST", "/admin/items", "admin", (*Server).importItems},
	{"GET", "/admin/materials.csv", "admin", (*Server).materialsCSV},
	{"GET", "/admin/types", "admin", (*Server).typesPage},
	{"GET", "/admin/types/{code}/template", "admin", (*Server).templatePage},
	{"GET", "/admin/types/{code}/template/background.png", "admin", (*Server).templateBackground},
	{"GET", "/admin/login", "", (*Server).adminLoginPage},
	{"POST", "/admin/login", "", (*Server).adminLogin},
	{"GET", "/auth/login", "", (*Server).oidcLogin},
	{"GET", "/auth/callback", "", (*Server).oidcCallback},
	{"POST", "/logout", "", (*Server).logout},
}

// Register mounts the pages and their static files on r.
func (s *Server) Register(r chi.Router) {
	if s.Now == nil {
		s.Now = time.Now
	}
	s.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"date": func(t time.Time) string { return t.In(s.Certs.Location).Format("2006-01-02 15:04") },
		"join": strings.Join,
		"has":  func(list []string, s string) bool { return slices.Contains(list, s) },
		"list": func(v ...string) []string { return v },
		"add":  func(d, v float64) float64 { return v + d },
		"pct":  func(v float64) float64 { return 100 * v },
		// sealStamp is what the seal_stamp template needs: the issuer's
		// seal picture, served by the hub itself (CSP img-src 'self').
		"sealStamp": func(code, name, label string) sealStamp { return sealStamp{Code: code, Name: name, Label: label} },
	}).ParseFS(templateFS, "templates/*.html"))
	static, _ := fs.Sub(staticFS, "static")
	r.With(s.headers).Handle("/static/*", http.StripPrefix("/static/", http.FileServer(http.FS(static))))
	r.With(s.headers).Get("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/wallet", http.StatusSeeOther) })
	limit := func(h http.Handler) http.Handler { return h }
	if s.ShareRatePerMinute > 0 {
		limit = httprate.LimitBy(s.ShareRatePerMinute, time.Minute,
			func(r *http.Request) (string, error) { return middleware.GetClientIP(r.Context()), nil },
			httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
				s.errorPage(w, r, http.StatusTooManyRequests, "error", "")
			}))
	}
	for _, rt := range Routes {
		h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.handler(s, w, r) }))
		if rt.Owner != "" {
			h = s.require(rt.Owner, h)
		}
		if rt.Method == "POST" {
			h = s.csrf(h)
		}
		if strings.HasPrefix(rt.Pattern, "/s/") {
			h = limit(h)
		}
		r.With(s.headers).Method(rt.Method, rt.Pattern, h)
	}
}

// headers are the pages' security headers: same-origin everything, no
// framing, no referrer (share tokens must not leak through it).
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
		if strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "public, max-age=3600")
		} else {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// csrf limits the body, then checks the double-submit token. A body over
// the limit is refused with 413 before it is read when its length is
// declared, and as soon as the limit is passed when it is not.
func (s *Server) csrf(next http.Handler) http.Handler {
	const limit = maxUpload + 1<<20
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			s.errorPage(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		var err error
		switch ct := r.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "multipart/form-data"):
			err = r.ParseMultipartForm(1 << 20)
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			err = r.ParseForm()
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.errorPage(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
			return
		}
		if !checkCSRF(r) {
			s.errorPage(w, r, http.StatusForbidden, "csrf", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

type ctxKey int

const sessionKey ctxKey = 0

func sessionOf(r *http.Request) *session {
	sess, _ := r.Context().Value(sessionKey).(*session)
	return sess
}

// require lets only a signed-in holder, clerk or administrator through: pages send
// others to sign in, other requests get 401 or 403.
func (s *Server) require(owner string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := s.currentSession(r)
		switch {
		case sess == nil && r.Method == http.MethodGet:
			login := map[string]string{"holder": "/wallet/login", "clerk": "/verify/login", "admin": "/admin/login"}[owner]
			http.Redirect(w, r, login, http.StatusSeeOther)
			return
		case sess == nil:
			s.errorPage(w, r, http.StatusUnauthorized, "forbidden", "")
			return
		case sess.Kind != owner:
			s.errorPage(w, r, http.StatusForbidden, "forbidden", "")
			return
		}
		next.ServeHTTP(w, r.WithContext(contextWith(r, sess)))
	})
}

// page is what every template gets.
type page struct {
	Lang    string
	CSRF    string
	Session *session
	Title   string
	Data    any
	Path    string
	// App is set on the offline clerk page: it links the web app manifest
	// and carries Offline, offline.js's configuration (JSON).
	App     bool
	Offline string
	Decoder bool // the vendored QR decoder is there
}

func (p page) T(key string) string { return T(p.Lang, key) }

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	lang := langOf(r)
	if q := r.URL.Query().Get("lang"); q != "" {
		http.SetCookie(w, &http.Cookie{Name: "lang", Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
	}
	p := page{Lang: lang, CSRF: s.csrfToken(w, r), Session: sessionOf(r), Title: T(lang, title), Data: data, Path: r.URL.Path}
	if isApp(name) {
		p.App, p.Offline, p.Decoder = true, s.offlineConfig(lang), jsQR != nil
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", T(lang, "lang"))
	w.WriteHeader(status)
	if err := s.tmpl.ExecuteTemplate(w, name, p); err != nil {
		s.Log.ErrorContext(r.Context(), "render page", "template", name, "err", err)
	}
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, key, detail string) {
	s.render(w, r, status, "error", "error", map[string]string{"Key": key, "Detail": detail})
}

// fail shows an error on a page: 4xx with its reason, 5xx logged.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := errs.CodeOf(err)
	var e *errs.Error
	errors.As(err, &e)
	switch code {
	case errs.Invalid, errs.Conflict:
		s.errorPage(w, r, http.StatusBadRequest, "bad_request", e.Message)
	case errs.Forbidden, errs.Unauthorized:
		s.errorPage(w, r, http.StatusForbidden, "forbidden", "")
	case errs.NotFound:
		s.errorPage(w, r, http.StatusNotFound, "not_found", "")
	case errs.TooLarge:
		s.errorPage(w, r, http.StatusRequestEntityTooLarge, "too_large", "")
	case errs.Unavailable:
		s.Log.ErrorContext(r.Context(), "page failed: dependency unavailable", "err", err.Error(), "request_id", middleware.GetReqID(r.Context()))
		w.Header().Set("Retry-After", errs.RetryAfterSeconds)
		s.errorPage(w, r, http.StatusServiceUnavailable, "unavailable", "")
	default:
		s.Log.ErrorContext(r.Context(), "page failed", "err", err.Error(), "request_id", middleware.GetReqID(r.Context()))
		s.errorPage(w, r, http.StatusInternalServerError, "error", "")
	}
}

func contextWith(r *http.Request, sess *session) context.Context {
	return context.WithValue(r.Context(), sessionKey, sess)
}

// sealStamp is an issuer's seal picture stamped over its name.
type sealStamp struct{ Code, Name, Label string }
