package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var t exchange.Token
	if err := s.decode(w, r, &t); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(t.Scopes) > 0 {
		s.fail(w, r, errs.Field("scopes", "a token's scopes are its consumer's; set them on the consumer"))
		return
	}
	if err := t.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	if t.Role == exchange.RoleConsumer {
		// One way to make a consumer key: the registry's.
		if !s.registry(w, r) {
			return
		}
		key, secret, err := s.Consumers.CreateKey(r.Context(), principalOf(r.Context()), t.Consumer, t.Name)
		if errs.Is(err, errs.NotFound) {
			err = errs.Field("consumer", "consumer %s does not exist", t.Consumer)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeJSON(w, http.StatusCreated, struct {
			*exchange.Token
			Secret string `json:"token"`
		}{key, secret})
		return
	}
	if t.Role == exchange.RoleIssuer {
		if _, err := s.Certs.Authority(r.Context(), t.Authority); errs.Is(err, errs.NotFound) {
			s.fail(w, r, errs.Field("authority", "authority %s does not exist", t.Authority))
			return
		} else if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	secret := t.Mint(s.Now())
	if err := s.Tokens.CreateToken(r.Context(), &t); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.record(r, "token_create", exchange.AuditEntry{Outcome: "ok: " + t.ID + " (" + string(t.Role) + ")"}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "token created", "token_id", t.ID, "role", string(t.Role))
	s.writeJSON(w, http.StatusCreated, struct {
		*exchange.Token
		Secret string `json:"token"`
	}{&t, secret})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.Tokens.ListTokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"tokens": nonNil(ts)})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	if err := s.Tokens.RevokeToken(r.Context(), id, s.Now().UTC()); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.record(r, "token_revoke", exchange.AuditEntry{Outcome: "ok: " + id}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "token revoked", "token_id", id)
	w.WriteHeader(http.StatusNoContent)
}
