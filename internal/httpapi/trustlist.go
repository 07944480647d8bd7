package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// trustListWindow is how long one trust list is served: its iat is the
// request time rounded down to the window, and Ed25519 signatures are
// deterministic, so every request within the window (on every replica)
// gets the same bytes, and the ETag lets a client revalidate cheaply.
const trustListWindow = 5 * time.Minute

// trustList serves the signed trust list (docs/trust-list.md).
func (s *Server) trustList(w http.ResponseWriter, r *http.Request) {
	if s.AccessTokens == nil {
		s.fail(w, r, errs.E(errs.NotFound, "this hub has no hub key, so it publishes no trust list"))
		return
	}
	as, err := s.Certs.Store.ListAuthorities(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := make(map[string]string, len(as))
	for _, a := range as {
		names[a.Code] = a.Name
	}
	b, err := s.Keys.TrustList(r.Context(), s.AccessTokens.Key, strings.TrimRight(s.PublicURL, "/"), names, s.Now().Truncate(trustListWindow))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sum := sha256.Sum256(b)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	serveSigned(w, r, b, etag, "application/jwt", "public, max-age=300")
}
