package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

type loginData struct {
	OIDC bool
	Demo []DemoHolder
	For  string
}

func (s *Server) walletLogin(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", "login_title", loginData{OIDC: s.OIDC != nil && s.OIDC.WebEnabled(), Demo: s.Demo, For: "holder"})
}

// demoLogin signs in as a demo holder; it exists only in demo mode.
func (s *Server) demoLogin(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PostFormValue("holder"))
	if len(s.Demo) == 0 || err != nil || i < 0 || i >= len(s.Demo) {
		s.errorPage(w, r, http.StatusNotFound, "not_found", "")
		return
	}
	h := s.Demo[i]
	s.startSession(w, session{Kind: "holder", HolderKind: string(h.Kind), HolderID: h.ID, Name: h.Name})
	http.Redirect(w, r, "/wallet", http.StatusSeeOther)
}

func (s *Server) clerkLoginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "clerk_login", "clerk_login", loginData{OIDC: s.OIDC != nil && s.OIDC.WebEnabled(), Demo: s.Demo, For: "clerk"})
}

// clerkLogin signs a clerk in with their API token (role clerk).
func (s *Server) clerkLogin(w http.ResponseWriter, r *http.Request) {
	s.tokenLogin(w, r, exchange.RoleClerk, "/verify", "clerk_login",
		loginData{OIDC: s.OIDC != nil && s.OIDC.WebEnabled(), Demo: s.Demo, For: "clerk"})
}

// tokenLogin signs a clerk or an administrator in with an API token of
// that role, or (administrators) the bootstrap admin token. A failed
// attempt shows the sign-in page again with failed as its data.
func (s *Server) tokenLogin(w http.ResponseWriter, r *http.Request, role exchange.Role, home, page string, failed any) {
	hash := exchange.HashSecret(strings.TrimSpace(r.PostFormValue("token")))
	if role == exchange.RoleAdmin && s.isBootstrapAdmin(hash) {
		s.startSession(w, session{Kind: string(role), Name: "bootstrap admin", TokenHash: hash, Actor: "admin:bootstrap"})
		http.Redirect(w, r, home, http.StatusSeeOther)
		return
	}
	t, err := s.Tokens.TokenByHash(r.Context(), hash)
	if err != nil || t.RevokedAt != nil || t.Role != role {
		if err != nil && !errs.Is(err, errs.NotFound) {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, http.StatusUnauthorized, page, page, failed)
		return
	}
	s.startSession(w, session{Kind: string(role), Name: t.Name, TokenHash: hash, Actor: string(role) + ":" + t.ID})
	http.Redirect(w, r, home, http.StatusSeeOther)
}

// demoClerkLogin signs in as the demo's window clerk; demo mode only.
func (s *Server) demoClerkLogin(w http.ResponseWriter, r *http.Request) {
	if len(s.Demo) == 0 {
		s.errorPage(w, r, http.StatusNotFound, "not_found", "")
		return
	}
	s.startSession(w, session{Kind: "clerk", Name: "演示窗口 (demo clerk)", Actor: "clerk:demo"})
	http.Redirect(w, r, "/verify", http.StatusSeeOther)
}

// flow is the state of one sign-in with the identity provider.
type flow struct {
	State, Nonce, Verifier, For string
	Exp                         int64
}

func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request) {
	if s.OIDC == nil || !s.OIDC.WebEnabled() {
		s.errorPage(w, r, http.StatusNotFound, "not_found", "")
		return
	}
	f := flow{State: exchange.RandomToken(), Nonce: exchange.RandomToken(), Verifier: exchange.RandomToken(),
		For: "holder", Exp: s.Now().Add(10 * time.Minute).Unix()}
	if r.URL.Query().Get("for") == "clerk" {
		f.For = "clerk"
	}
	s.setSealed(w, flowCookie, f, 10*time.Minute)
	http.Redirect(w, r, s.OIDC.AuthCodeURL(f.State, f.Nonce, f.Verifier), http.StatusSeeOther)
}

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	var f flow
	if s.OIDC == nil || !s.readSealed(r, flowCookie, &f) || s.Now().Unix() > f.Exp || r.URL.Query().Get("state") != f.State {
		s.errorPage(w, r, http.StatusBadRequest, "csrf", "")
		return
	}
	clearCookie(w, flowCookie)
	id, err := s.OIDC.Exchange(r.Context(), r.URL.Query().Get("code"), f.Verifier, f.Nonce)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f.For == "clerk" {
		if !s.OIDC.IsClerk(id) {
			s.errorPage(w, r, http.StatusForbidden, "forbidden", "")
			return
		}
		s.startSession(w, session{Kind: "clerk", Name: id.Name, Actor: "clerk:" + s.Certs.Vault.Index(string(id.HolderKind), id.HolderID)[:16]})
		http.Redirect(w, r, "/verify", http.StatusSeeOther)
		return
	}
	s.startSession(w, session{Kind: "holder", HolderKind: string(id.HolderKind), HolderID: id.HolderID, Name: id.Name})
	http.Redirect(w, r, "/wallet", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	login := "/wallet/login"
	if sess := s.currentSession(r); sess != nil && sess.Kind != "holder" {
		login = map[string]string{"clerk": "/verify/login", "admin": "/admin/login"}[sess.Kind]
	}
	clearCookie(w, sessionCookie)
	http.Redirect(w, r, login, http.StatusSeeOther)
}
