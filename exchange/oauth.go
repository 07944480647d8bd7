package exchange

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// AssertionType is the client_assertion_type of RFC 7523 client
// authentication.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Access token and assertion lifetimes.
const (
	AccessTokenLifetime = 5 * time.Minute
	// MaxAssertionLifetime bounds how far in the future a client
	// assertion may expire, which bounds the replay table too.
	MaxAssertionLifetime = 10 * time.Minute
	clockSkew            = 30 * time.Second
)

// AccessTokens runs the OAuth 2.0 client-credentials grant with
// private_key_jwt client authentication (RFC 7523, RFC 7521 §4.2) and
// verifies the access tokens it issues (JWTs signed with the hub key, in
// the RFC 9068 profile).
type AccessTokens struct {
	Registry *Registry
	Key      *signing.HubKey
	// Issuer is the hub's public URL; TokenURL its token endpoint. A client
	// assertion's audience must be one of the two.
	Issuer   string
	TokenURL string
	Now      func() time.Time
}

// OAuthError is an RFC 6749 §5.2 error answer.
type OAuthError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(status int, code, format string, args ...any) *OAuthError {
	return &OAuthError{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// GrantResponse is an issued access token (RFC 6749 §5.1).
type GrantResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	Consumer    string `json:"-"`
}

// Exchange checks a token request and issues an access token. Nothing is
// stored unless every check passes (then the assertion's jti, so it cannot
// be replayed).
func (a *AccessTokens) Exchange(ctx context.Context, form url.Values) (*GrantResponse, error) {
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		return nil, oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials, got %q", gt)
	}
	if at := form.Get("client_assertion_type"); at != AssertionType {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "client_assertion_type must be %s", AssertionType)
	}
	raw := form.Get("client_assertion")
	if raw == "" {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "client_assertion is required")
	}
	// The issuer names the consumer whose keys verify the assertion; it is
	// read before verification only to find those keys.
	unverified, err := jwt.ParseInsecure([]byte(raw))
	if err != nil {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "client_assertion is not a JWT: %v", err)
	}
	id, _ := unverified.Issuer()
	if cid := form.Get("client_id"); cid != "" && cid != id {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client_id %q does not match the assertion's issuer %q", cid, id)
	}
	c, err := a.Registry.Store.Consumer(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "unknown client %q", id)
	} else if err != nil {
		return nil, err
	}
	if c.Status != ConsumerActive {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client %s is revoked", id)
	}
	if len(c.JWKS) == 0 {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client %s has no registered keys; it authenticates with API keys", id)
	}
	set, err := jwk.Parse(c.JWKS)
	if err != nil {
		return nil, errs.Wrap(err, "parse the registered JWKS of %s", id)
	}
	now := a.Now()
	tok, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })), jwt.WithAcceptableSkew(clockSkew),
		jwt.WithIssuer(id), jwt.WithSubject(id), jwt.WithRequiredClaim(jwt.ExpirationKey), jwt.WithRequiredClaim(jwt.JwtIDKey))
	if err != nil {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client assertion refused: %v", err)
	}
	aud, _ := tok.Audience()
	if !slices.Contains(aud, a.TokenURL) && !slices.Contains(aud, a.Issuer) {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client assertion's audience %q is not this hub (%s)", aud, a.TokenURL)
	}
	exp, _ := tok.Expiration()
	if exp.Sub(now) > MaxAssertionLifetime {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client assertion expires too late (%s); at most %s ahead", exp.UTC().Format(time.RFC3339), MaxAssertionLifetime)
	}
	jti, _ := tok.JwtID()
	scopes := c.Scopes
	if s := strings.Fields(form.Get("scope")); len(s) > 0 {
		for _, sc := range s {
			if !slices.Contains(c.Scopes, sc) {
				return nil, oauthErr(http.StatusBadRequest, "invalid_scope", "scope %q is not granted to client %s (it has %s)", sc, id, strings.Join(c.Scopes, " "))
			}
		}
		scopes = s
	}
	if err := a.Registry.Store.UseAssertion(ctx, id, jti, exp.Add(clockSkew)); errs.Is(err, errs.Conflict) {
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client assertion jti %q was already used (replay)", jti)
	} else if err != nil {
		return nil, err
	}
	at, err := jwt.NewBuilder().Issuer(a.Issuer).Subject(id).Audience([]string{a.Issuer}).IssuedAt(now).
		Expiration(now.Add(AccessTokenLifetime)).JwtID(NewID("at_")).
		Claim("client_id", id).Claim("scope", strings.Join(scopes, " ")).Build()
	if err != nil {
		return nil, err
	}
	signed, err := a.Key.SignJWT(at, "at+jwt")
	if err != nil {
		return nil, err
	}
	return &GrantResponse{AccessToken: signed, TokenType: "Bearer", ExpiresIn: int(AccessTokenLifetime / time.Second), Scope: strings.Join(scopes, " "), Consumer: id}, nil
}

// Verify checks an access token the hub issued and that its consumer is
// still active: revoking a consumer ends its tokens at once.
func (a *AccessTokens) Verify(ctx context.Context, token string) (*Principal, error) {
	now := a.Now()
	tok, err := a.Key.ParseJWT(token, jwt.WithIssuer(a.Issuer), jwt.WithAudience(a.Issuer),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })), jwt.WithAcceptableSkew(clockSkew))
	if err != nil {
		msg := "the access token is not valid"
		if errors.Is(err, jwt.TokenExpiredError()) {
			msg = "the access token has expired; request a new one"
		}
		return nil, errs.E(errs.Unauthorized, "%s", msg)
	}
	id, _ := tok.Subject()
	jti, _ := tok.JwtID()
	var scope string
	_ = tok.Get("scope", &scope)
	c, err := a.Registry.Store.Consumer(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return nil, errs.E(errs.Unauthorized, "the access token's consumer does not exist")
	} else if err != nil {
		return nil, err
	}
	if c.Status != ConsumerActive {
		return nil, errs.E(errs.Unauthorized, "consumer %s was revoked", id)
	}
	return &Principal{Role: RoleConsumer, TokenID: jti, Name: c.Name, Consumer: id, Scopes: strings.Fields(scope)}, nil
}
