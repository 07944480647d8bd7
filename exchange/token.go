package exchange

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
)

// Role is what a caller is allowed to do.
type Role string

// Roles. An issuer acts for one authority; a consumer is a department
// system that looks certificates up for a stated purpose and case; a clerk
// verifies at a service window.
const (
	RoleAdmin    Role = "admin"
	RoleIssuer   Role = "issuer"
	RoleConsumer Role = "consumer"
	RoleClerk    Role = "clerk"
	// RoleHolder is a citizen or company signed in through the identity
	// provider (OIDC); it is never an API token's role.
	RoleHolder Role = "holder"
)

// Roles lists every role, for authorization tables.
var Roles = []Role{RoleAdmin, RoleIssuer, RoleConsumer, RoleClerk, RoleHolder}

// Token is an API bearer token's record. Only the SHA-256 of the secret is
// stored; the secret is shown once, when the token is created.
type Token struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	Authority string `json:"authority,omitempty"`
	// Consumer is the registered consumer a consumer token belongs to.
	Consumer string `json:"consumer,omitempty"`
	// ConsumerName and Scopes are the consumer's (read with the token).
	ConsumerName string     `json:"consumer_name,omitempty"`
	Scopes       []string   `json:"scopes,omitempty"`
	Hash         string     `json:"-"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
}

// Validate checks a token request: a name, a known role, and an authority
// exactly when the role is issuer.
func (t *Token) Validate() error {
	var l errs.List
	if strings.TrimSpace(t.Name) == "" {
		l.Add("name", "is required")
	} else if utf8.RuneCountInString(t.Name) > 100 {
		l.Add("name", "is longer than 100 characters")
	} else if why := certificates.LineProblem(t.Name); why != "" {
		l.Add("name", "%s", why)
	}
	if t.Consumer != "" && t.Role != RoleConsumer {
		l.Add("consumer", "only consumer tokens name a consumer")
	}
	switch t.Role {
	case RoleConsumer:
		if t.Consumer == "" {
			l.Add("consumer", "is required: a consumer token belongs to a registered consumer (POST /api/v1/consumers)")
		}
		fallthrough
	case RoleAdmin, RoleClerk:
		if t.Authority != "" {
			l.Add("authority", "only issuer tokens name an authority")
		}
	case RoleHolder:
		l.Add("role", "holders sign in through the identity provider; there are no holder API tokens")
	case RoleIssuer:
		if t.Authority == "" {
			l.Add("authority", "is required for an issuer token")
		}
	default:
		l.Add("role", "must be admin, issuer, consumer or clerk, got %q", t.Role)
	}
	return l.Err()
}

// TokenStore keeps token records.
type TokenStore interface {
	// CreateToken stores a token; errs.Conflict if the id or hash exists.
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash finds a token by the hash of its secret, revoked or not;
	// errs.NotFound if none.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// ListTokens lists tokens, oldest first.
	ListTokens(ctx context.Context) ([]*Token, error)
	// RevokeToken marks a token revoked; errs.NotFound if unknown.
	RevokeToken(ctx context.Context, id string, at time.Time) error
}

// TokenPrefix starts every certhub API token, so secret scanners and people
// can tell one when they see it.
const TokenPrefix = "chk_"

// RandomToken returns 256 random bits, base64url-encoded (43 characters).
func RandomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewSecret makes an API token secret and its stored hash.
func NewSecret() (secret, hash string) {
	secret = TokenPrefix + RandomToken()
	return secret, HashSecret(secret)
}

// Mint gives a new token its id, secret hash and creation time, and returns
// the secret (to be shown once).
func (t *Token) Mint(now time.Time) (secret string) {
	secret, t.Hash = NewSecret()
	t.ID, t.CreatedAt = NewID("tok_"), now.UTC().Truncate(time.Microsecond)
	return secret
}

// HashSecret is how a token secret is stored and looked up. The secret has
// 256 bits of entropy, so a plain SHA-256 is enough (no password hashing).
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewID makes a short random id for a record.
func NewID(prefix string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Principal is who a request acts as.
type Principal struct {
	Role      Role
	TokenID   string
	Name      string
	Authority string // for issuers
	// Consumer is the registered consumer (consumer role), and Scopes what
	// its credential may call.
	Consumer string
	Scopes   []string
	// HolderKind and HolderID identify a signed-in holder. HolderID is
	// personal data: never log it.
	HolderKind string
	HolderID   string
}

// Access is what a department must say about each use: its purpose and the
// case it serves (like X-Road's X-Road-Issue). Sharing agreements will
// restrict purposes; the audit ledger will record both.
type Access struct {
	Purpose string
	CaseID  string
}

// Validate requires both, printable and of bounded length.
func (a Access) Validate() error {
	var l errs.List
	check := func(field, v string) {
		switch {
		case strings.TrimSpace(v) == "":
			l.Add(field, "is required for department systems")
		case utf8.RuneCountInString(v) > 200:
			l.Add(field, "is longer than 200 characters")
		default:
			if why := certificates.LineProblem(v); why != "" {
				l.Add(field, "%s", why)
			}
		}
	}
	check("X-Purpose", a.Purpose)
	check("X-Case-Id", a.CaseID)
	return l.Err()
}
