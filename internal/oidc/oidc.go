// Package oidc connects certhub to an external OpenID Connect provider (the
// province's unified identity platform): it verifies the provider's tokens
// with jwx (signature against the provider's keys, issuer, audience,
// expiry) and runs the authorization-code flow with PKCE for the web pages.
package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Config describes the provider.
type Config struct {
	// Issuer is the provider's issuer URL: its keys and endpoints are found
	// through OIDC discovery, and tokens must carry it as iss.
	Issuer string
	// JWKS is a JWKS URL or file path, for providers without discovery.
	JWKS string
	// Audience tokens must be issued for (also the client id of the web
	// flow unless ClientID is set).
	Audience string
	// IDClaim carries the holder's citizen ID number or USCC.
	IDClaim string
	// RoleClaim carries roles (a string or a list); ClerkRole in it makes
	// the signed-in person a window clerk.
	RoleClaim string
	ClerkRole string
	// ClientID, ClientSecret and RedirectURL configure the web sign-in
	// (authorization code + PKCE). Without AuthURL/TokenURL from discovery
	// the web sign-in is off.
	ClientID     string
	ClientSecret string
	RedirectURL  string
	AuthURL      string
	TokenURL     string
	HTTPClient   *http.Client
}

// Provider verifies tokens and runs the sign-in flow.
type Provider struct {
	cfg     Config
	cache   *jwk.Cache
	jwksURL string
	static  jwk.Set
}

// Identity is who a verified token names.
type Identity struct {
	Subject    string
	HolderKind certificates.HolderKind
	HolderID   string // personal data: never log it
	Name       string
	Roles      []string
	Nonce      string
}

// IsClerk reports whether the identity holds the clerk role.
func (p *Provider) IsClerk(id *Identity) bool {
	for _, r := range id.Roles {
		if r == p.cfg.ClerkRole {
			return true
		}
	}
	return false
}

// New connects to the provider: discovery when an issuer is configured and
// no JWKS, else the JWKS URL (fetched and refreshed in the background) or
// file.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.IDClaim == "" {
		cfg.IDClaim = "id_number"
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "roles"
	}
	if cfg.ClerkRole == "" {
		cfg.ClerkRole = "clerk"
	}
	if cfg.ClientID == "" {
		cfg.ClientID = cfg.Audience
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Audience == "" {
		return nil, fmt.Errorf("OIDC: an audience is required")
	}
	p := &Provider{cfg: cfg}
	jwksURL := cfg.JWKS
	if jwksURL == "" {
		if cfg.Issuer == "" {
			return nil, fmt.Errorf("OIDC: set an issuer (for discovery) or a JWKS URL or file")
		}
		d, err := discover(ctx, cfg.HTTPClient, cfg.Issuer)
		if err != nil {
			return nil, err
		}
		jwksURL = d.JWKSURI
		if p.cfg.AuthURL == "" {
			p.cfg.AuthURL = d.AuthorizationEndpoint
		}
		if p.cfg.TokenURL == "" {
			p.cfg.TokenURL = d.TokenEndpoint
		}
	}
	if strings.HasPrefix(jwksURL, "http://") || strings.HasPrefix(jwksURL, "https://") {
		c, err := jwk.NewCache(ctx, httprc.NewClient(httprc.WithHTTPClient(cfg.HTTPClient)))
		if err != nil {
			return nil, err
		}
		if err := c.Register(ctx, jwksURL, jwk.WithMinInterval(time.Minute)); err != nil {
			return nil, fmt.Errorf("OIDC keys at %s: %w", jwksURL, err)
		}
		p.cache, p.jwksURL = c, jwksURL
	} else {
		raw, err := os.ReadFile(jwksURL)
		if err != nil {
			return nil, fmt.Errorf("OIDC keys: %w", err)
		}
		if p.static, err = jwk.Parse(raw); err != nil {
			return nil, fmt.Errorf("OIDC keys in %s: %w", jwksURL, err)
		}
	}
	return p, nil
}

type discovery struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
}

func discover(ctx context.Context, hc *http.Client, issuer string) (*discovery, error) {
	u := strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("OIDC discovery at %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("OIDC discovery at %s: HTTP %d", u, resp.StatusCode)
	}
	var d discovery
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil {
		return nil, fmt.Errorf("OIDC discovery at %s: %w", u, err)
	}
	if d.Issuer != issuer {
		return nil, fmt.Errorf("OIDC discovery at %s names issuer %q, not %q", u, d.Issuer, issuer)
	}
	if d.JWKSURI == "" {
		return nil, fmt.Errorf("OIDC discovery at %s has no jwks_uri", u)
	}
	return &d, nil
}

func (p *Provider) keys(ctx context.Context, refresh bool) (jwk.Set, error) {
	if p.static != nil {
		return p.static, nil
	}
	if refresh {
		return p.cache.Refresh(ctx, p.jwksURL)
	}
	return p.cache.Lookup(ctx, p.jwksURL)
}

func unauthorized(format string, args ...any) error {
	return &errs.Error{Code: errs.Unauthorized, Message: fmt.Sprintf(format, args...)}
}

// Verify checks a token of the provider and returns the identity it names.
func (p *Provider) Verify(ctx context.Context, raw string) (*Identity, error) {
	return p.verify(ctx, raw, p.cfg.Audience)
}

func (p *Provider) verify(ctx context.Context, raw, audience string) (*Identity, error) {
	opts := func(set jwk.Set) []jwt.ParseOption {
		o := []jwt.ParseOption{jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithAudience(audience),
			jwt.WithAcceptableSkew(30 * time.Second), jwt.WithRequiredClaim("exp")}
		if p.cfg.Issuer != "" {
			o = append(o, jwt.WithIssuer(p.cfg.Issuer))
		}
		return o
	}
	set, err := p.keys(ctx, false)
	if err != nil {
		return nil, &errs.Error{Code: errs.Unavailable, Message: "identity provider keys unavailable", Err: err}
	}
	tok, err := jwt.ParseString(raw, opts(set)...)
	if err != nil && !isValidationError(err) && p.static == nil {
		// Perhaps the provider rotated its keys: fetch them once more.
		if set, rerr := p.keys(ctx, true); rerr == nil {
			tok, err = jwt.ParseString(raw, opts(set)...)
		}
	}
	if err != nil {
		return nil, unauthorized("identity token refused: %s", reasonOf(err))
	}
	id := &Identity{}
	id.Subject, _ = tok.Subject()
	var holderID string
	if err := tok.Get(p.cfg.IDClaim, &holderID); err != nil || holderID == "" {
		return nil, unauthorized("identity token has no %s claim", p.cfg.IDClaim)
	}
	id.HolderKind = certificates.HolderKindOf(holderID)
	if err := certificates.ValidateHolderID(id.HolderKind, holderID); err != nil {
		return nil, unauthorized("identity token's %s claim is not a valid citizen ID number or USCC", p.cfg.IDClaim)
	}
	id.HolderID = holderID
	_ = tok.Get("name", &id.Name)
	_ = tok.Get("nonce", &id.Nonce)
	var roles any
	if tok.Get(p.cfg.RoleClaim, &roles) == nil {
		switch r := roles.(type) {
		case string:
			id.Roles = strings.Fields(r)
		case []any:
			for _, v := range r {
				if s, ok := v.(string); ok {
					id.Roles = append(id.Roles, s)
				}
			}
		}
	}
	return id, nil
}

func isValidationError(err error) bool { return errors.Is(err, jwt.ValidateError()) }

// reasonOf says briefly why jwx refused a token, without echoing it.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return "expired"
	case errors.Is(err, jwt.InvalidIssuerError()):
		return "wrong issuer"
	case errors.Is(err, jwt.InvalidAudienceError()):
		return "wrong audience"
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return "not yet valid"
	case isValidationError(err):
		return "claims do not validate"
	}
	return "signature does not verify with the provider's keys, or the token is malformed"
}

// WebEnabled reports whether the authorization-code flow is configured.
func (p *Provider) WebEnabled() bool {
	return p.cfg.AuthURL != "" && p.cfg.TokenURL != "" && p.cfg.ClientID != "" && p.cfg.RedirectURL != ""
}

// PKCE returns a code verifier and its S256 challenge.
func PKCE(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthCodeURL is where to send the browser to sign in.
func (p *Provider) AuthCodeURL(state, nonce, verifier string) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {p.cfg.ClientID},
		"redirect_uri":          {p.cfg.RedirectURL},
		"scope":                 {"openid profile"},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {PKCE(verifier)},
		"code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(p.cfg.AuthURL, "?") {
		sep = "&"
	}
	return p.cfg.AuthURL + sep + q.Encode()
}

// Exchange trades an authorization code for the ID token, verifies it and
// checks its nonce.
func (p *Provider) Exchange(ctx context.Context, code, verifier, nonce string) (*Identity, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {p.cfg.RedirectURL},
		"client_id": {p.cfg.ClientID}, "code_verifier": {verifier}}
	if p.cfg.ClientSecret != "" {
		form.Set("client_secret", p.cfg.ClientSecret)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, &errs.Error{Code: errs.Unavailable, Message: "identity provider unreachable", Err: err}
	}
	defer resp.Body.Close()
	var body struct {
		IDToken string `json:"id_token"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.IDToken == "" {
		return nil, unauthorized("the identity provider refused the sign-in (%d %s)", resp.StatusCode, body.Error)
	}
	id, err := p.verify(ctx, body.IDToken, p.cfg.ClientID)
	if err != nil {
		return nil, err
	}
	if id.Nonce != nonce {
		return nil, unauthorized("identity token's nonce does not match this sign-in")
	}
	return id, nil
}
