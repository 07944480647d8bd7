package web

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/certhub/certhub/exchange"
)

const (
	sessionCookie = "certhub_session"
	csrfCookie    = "certhub_csrf"
	flowCookie    = "certhub_oidc"
	sessionTTL    = 8 * time.Hour
)

// session is who is signed in, sealed into a cookie with a master-derived
// key so that any replica can read it and nobody can forge or read it.
type session struct {
	Kind       string `json:"k"` // "holder", "clerk" or "admin"
	HolderKind string `json:"hk,omitempty"`
	HolderID   string `json:"hid,omitempty"`
	Name       string `json:"n,omitempty"`
	// Actor names a clerk in the audit ledger: clerk:<token id>, or
	// clerk:<keyed hash of their ID number> when signed in with OIDC.
	Actor string `json:"a,omitempty"`
	// TokenHash names the API token a clerk or administrator signed in
	// with; it is checked
	// on every request, so revoking the token ends the session.
	TokenHash string `json:"th,omitempty"`
	Exp       int64  `json:"exp"`
}

func (s *Server) secure() bool { return len(s.PublicURL) > 5 && s.PublicURL[:5] == "https" }

func (s *Server) setSealed(w http.ResponseWriter, name string, v any, ttl time.Duration) {
	raw, _ := json.Marshal(v)
	http.SetCookie(w, &http.Cookie{Name: name, Value: base64.RawURLEncoding.EncodeToString(s.Box.Seal(raw, []byte(name))),
		Path: "/", HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode, MaxAge: int(ttl.Seconds())})
}

func (s *Server) readSealed(r *http.Request, name string, v any) bool {
	c, err := r.Cookie(name)
	if err != nil {
		return false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return false
	}
	raw, err := s.Box.Open(sealed, []byte(name))
	if err != nil {
		return false
	}
	return json.Unmarshal(raw, v) == nil
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
}

func (s *Server) startSession(w http.ResponseWriter, sess session) {
	sess.Exp = s.Now().Add(sessionTTL).Unix()
	s.setSealed(w, sessionCookie, sess, sessionTTL)
}

// currentSession returns the signed-in session, or nil.
func (s *Server) currentSession(r *http.Request) *session {
	var sess session
	if !s.readSealed(r, sessionCookie, &sess) || s.Now().Unix() > sess.Exp {
		return nil
	}
	if (sess.Kind == "clerk" && sess.TokenHash != "" || sess.Kind == "admin") && !s.tokenStillValid(r, &sess) {
		return nil
	}
	return &sess
}

// csrfToken returns the double-submit token, setting its cookie if needed.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := exchange.RandomToken()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteStrictMode})
	return tok
}

// checkCSRF compares the form field (or X-CSRF-Token header) with the cookie.
func checkCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) == 1
}
