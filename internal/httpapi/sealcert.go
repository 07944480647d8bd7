package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// maxSealCertBytes bounds an imported certificate with its chain.
const maxSealCertBytes = 256 << 10

// importKeyCertificate attaches an external CA's certificate to a seal key.
// The body is the certificate as PEM or DER, optionally followed (PEM) by
// its chain; or JSON {"certificate": PEM, "chain": PEM}.
func (s *Server) importKeyCertificate(w http.ResponseWriter, r *http.Request) {
	code, kid := chi.URLParam(r, "code"), chi.URLParam(r, "kid")
	k, err := s.Keys.Key(r.Context(), kid)
	if err == nil && k.Authority != code {
		err = errs.E(errs.NotFound, "authority %s has no seal key %s", code, kid)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSealCertBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.fail(w, r, errs.E(errs.TooLarge, "the certificate is over %d bytes", maxSealCertBytes))
			return
		}
		s.fail(w, r, errs.Field("certificate", "could not be read"))
		return
	}
	cert, chain := raw, []byte(nil)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var b struct {
			Certificate string `json:"certificate"`
			Chain       string `json:"chain"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			s.fail(w, r, errs.Field("certificate", "body is not JSON {\"certificate\": PEM, \"chain\": PEM}"))
			return
		}
		cert, chain = []byte(b.Certificate), []byte(b.Chain)
	} else {
		cert, chain = splitPEM(raw)
	}
	if len(cert) == 0 {
		s.fail(w, r, errs.Field("certificate", "is required (PEM or DER)"))
		return
	}
	k, err = s.Keys.ImportCertificate(r.Context(), kid, cert, chain)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.record(r, "key_certificate", exchange.AuditEntry{Outcome: "ok: " + code + " key " + kid + " certificate (" + string(k.CertificateSource) + ")"}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.InfoContext(r.Context(), "seal certificate imported", "authority", code, "kid", kid, "source", string(k.CertificateSource))
	s.writeJSON(w, http.StatusOK, k)
}

// splitPEM splits a PEM body into its first block and the rest (the
// chain); a body that is not PEM is one DER certificate.
func splitPEM(raw []byte) (first, rest []byte) {
	end := []byte("-----END CERTIFICATE-----")
	if i := bytes.Index(raw, end); i >= 0 {
		return raw[:i+len(end)], raw[i+len(end):]
	}
	return raw, nil
}

// sealCA serves every root the hub trusts for seals, as PEM.
func (s *Server) sealCA(w http.ResponseWriter, r *http.Request) {
	b, err := s.Keys.TrustedRootsPEM(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}
