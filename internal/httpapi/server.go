// Package httpapi is certhub's HTTP adapter: the JSON API under /api/v1, the
// JWKS, health, readiness and metrics. Every route is declared in one table
// (Routes) with the roles that may call it; the authorization test and the
// OpenAPI test both walk that table.
package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/licencefile"
	"github.com/certhub/certhub/internal/oidc"
	"github.com/certhub/certhub/signing"
)

// Server holds the HTTP adapter's dependencies.
type Server struct {
	Certs  *certificates.Service
	Keys   *signing.Manager
	Tokens exchange.TokenStore
	Shares *exchange.Shares
	// Connectors runs connector definitions; nil leaves /api/v1/connectors
	// answering 503.
	Connectors *connectors.Engine
	// Consumers is the registry of consumers, purposes and agreements;
	// consumers' calls are checked against their agreements.
	Consumers *exchange.Registry
	// AccessTokens issues and verifies OAuth access tokens (private_key_jwt).
	AccessTokens *exchange.AccessTokens
	// Files makes licence files (OFD, PDF); nil answers 503.
	Files *licencefile.Maker
	// Annotations keeps annotated copies (加注件); nil (or Files nil)
	// answers 503.
	Annotations *exchange.Annotations
	// Items is the service item catalog and its resolver (nil: 503).
	Items *exchange.Resolver
	// Webhooks runs subscriptions and event deliveries (nil: 503).
	Webhooks *exchange.Webhooks
	// Federation links this hub with its parent and children (nil: in no
	// federation; its endpoints answer 404).
	Federation *federation.Service
	// Copies are the copies of other hubs' certificates kept here
	// (aggregation; nil: none). Lookups, reads and matches of this hub's
	// consumers include them under this hub's agreements; they are never
	// changed here.
	Copies exchange.Copies
	// Ledger records every access and change (nil: not recorded).
	Ledger *exchange.Ledger
	// LedgerKey is the verifier key of the ledger's signed checkpoints.
	LedgerKey string
	// Holders verifies holders' identity tokens; nil when no identity
	// provider is configured (then /api/v1/me answers 401).
	Holders *oidc.Provider
	// PublicURL is how people reach the hub (share links and QR codes).
	PublicURL string
	Log       *slog.Logger
	Now       func() time.Time

	// AdminTokenHash is exchange.HashSecret of the bootstrap admin token.
	AdminTokenHash string
	// MaxBodyBytes limits request bodies (default 1 MiB).
	MaxBodyBytes int64
	// VerifyRatePerMinute limits POST /api/v1/verify per client IP; 0
	// disables the limit (benchmarks only).
	VerifyRatePerMinute int
	// MaxActive is how many API requests run at once (0: no limit); the
	// rest wait their turn, in order, for at most ActiveWait
	// (DefaultActiveWait when 0). See limitActive.
	MaxActive  int
	ActiveWait time.Duration
	// TrustedProxies are CIDR prefixes whose X-Forwarded-For is believed
	// when finding the client IP; empty means the TCP peer is the client.
	TrustedProxies []string
	// Registry receives the HTTP metrics; nil makes a new one.
	Registry *prometheus.Registry
	// Pages, if set, mounts the web pages on the same router, behind the
	// same request ids, access log, metrics and panic recovery.
	Pages interface{ Register(chi.Router) }
	// Pprof serves the Go runtime's profiles at /debug/pprof/ to
	// administrators (off by default: a CPU profile or trace costs the
	// hub while it runs).
	Pprof bool
	// Tracing, if set, makes every request a server span of this provider
	// (tracing.go); nil (tracing off) adds nothing to a request's work.
	Tracing trace.TracerProvider

	metrics        *metrics
	agreementLimit *httprate.RateLimiter
	statuses       statusCache
	// router is the handler Handler built: calls other hubs forward are
	// run through it (federated.go).
	router http.Handler
}

// Route is one API endpoint and the roles that may call it. Roles nil means
// anyone, without a token.
type Route struct {
	Method  string
	Pattern string
	Roles   []exchange.Role
	Summary string
	handler func(*Server, http.ResponseWriter, *http.Request)
}

// Public reports whether the route needs no token.
func (r Route) Public() bool { return r.Roles == nil }

var (
	all      = []exchange.Role{exchange.RoleAdmin, exchange.RoleIssuer, exchange.RoleConsumer, exchange.RoleClerk}
	admin    = []exchange.Role{exchange.RoleAdmin}
	consumer = []exchange.Role{exchange.RoleConsumer}
	deciders = []exchange.Role{exchange.RoleAdmin, exchange.RoleIssuer}
	parties  = []exchange.Role{exchange.RoleAdmin, exchange.RoleIssuer, exchange.RoleConsumer}
	askers   = []exchange.Role{exchange.RoleAdmin, exchange.RoleConsumer}
	issuers  = []exchange.Role{exchange.RoleAdmin, exchange.RoleIssuer}
	readers  = []exchange.Role{exchange.RoleAdmin, exchange.RoleIssuer, exchange.RoleConsumer}
	readKeys = []exchange.Role{exchange.RoleAdmin, exchange.RoleIssuer}
	holder   = []exchange.Role{exchange.RoleHolder}
)

// Routes is the API: every endpoint, its owner roles and its handler.
var Routes = []Route{
	{"GET", "/healthz", nil, "Process is up", (*Server).healthz},
	{"GET", "/readyz", nil, "Database and object store are reachable", (*Server).readyz},
	{"GET", "/.well-known/jwks.json", nil, "Public keys: every seal key that signed a stored document, and the hub key (access tokens, webhooks)", (*Server).jwks},
	{"POST", "/api/v1/verify", nil, "Verify a document or an identifier", (*Server).verify},
	{"GET", "/.well-known/certhub-seal-ca.pem", nil, "Every root the hub trusts for seal certificates, as PEM", (*Server).sealCA},
	{"GET", "/.well-known/certhub-trust-list", nil, "The seal keys and their validity, signed by the hub key", (*Server).trustList},
	{"GET", "/.well-known/certhub-licence-types", nil, "The licence type catalogue for offline verifiers: type names, and each shareable field's number, name and labels", (*Server).licenceTypes},
	{"GET", "/status/tsl/{list}", nil, "Public (no token): IETF Token Status List {list} (statuslist+jwt, 2 bits an entry) signed by the hub key; reveals only the bits, not whose they are", (*Server).tokenStatusList},
	{"GET", "/status/bsl/{list}", nil, "Public (no token): W3C BitstringStatusListCredential {list} = <n>-revocation or <n>-suspension (vc+jwt) signed by the hub key", (*Server).bitstringStatusList},
	{"GET", "/.well-known/certhub-directory", nil, "The federation directory: every hub this hub knows, each entry signed by its parent, the whole signed by this hub with iat/exp", (*Server).federationDirectory},
	{"GET", "/.well-known/certhub-federation-trust-list", nil, "The other hubs of the federation for offline verifiers: each hub's keys and its trust list as it signed it, the whole signed by this hub's key", (*Server).federationTrustList},
	{"GET", "/status/federation/{hub}/tsl/{list}", nil, "Public (no token): another hub's IETF Token Status List {list} as that hub signed it, passed on for offline pages that reach only this hub", (*Server).relayedStatusList},
	{"GET", "/.well-known/certhub-hub", nil, "This hub's description of itself (id, URL, keys, authorities and types it holds), signed by its hub key", (*Server).federationHub},
	{"GET", "/.well-known/ledger-key", nil, "The key that signs the audit ledger's checkpoints", (*Server).ledgerKey},

	{"POST", "/api/v1/authorities", admin, "Create an issuing authority and its first seal key", (*Server).createAuthority},
	{"GET", "/api/v1/authorities", all, "List issuing authorities", (*Server).listAuthorities},
	{"GET", "/api/v1/authorities/{code}", all, "Read an issuing authority", (*Server).getAuthority},
	{"PATCH", "/api/v1/authorities/{code}", admin, "Choose which active seal key signs the authority's JWS documents", (*Server).updateAuthority},
	{"GET", "/api/v1/authorities/{code}/keys", readKeys, "List an authority's seal keys", (*Server).listKeys},
	{"POST", "/api/v1/authorities/{code}/keys", admin, "Add a seal key of another algorithm beside the active ones", (*Server).addKey},
	{"POST", "/api/v1/authorities/{code}/keys/rotate", admin, "Make a new seal key current", (*Server).rotateKey},
	{"PUT", "/api/v1/authorities/{code}/seal", admin, "Upload the authority's seal picture (印章图片, PNG up to 1 MiB), replacing the current one", (*Server).putSeal},
	{"GET", "/api/v1/authorities/{code}/seal", nil, "The authority's seal picture (PNG; the default round red seal unless one was uploaded). Public: it is printed on the authority's public licence files and share pages, and reveals nothing else", (*Server).getSeal},
	{"POST", "/api/v1/authorities/{code}/keys/{kid}/compromise", admin, "Mark a seal key compromised from an instant", (*Server).compromiseKey},
	{"POST", "/api/v1/authorities/{code}/keys/{kid}/certificate", admin, "Attach a certificate from an external CA to a seal key", (*Server).importKeyCertificate},

	{"POST", "/api/v1/types", admin, "Create a certificate type", (*Server).createType},
	{"GET", "/api/v1/types", all, "List certificate types", (*Server).listTypes},
	{"GET", "/api/v1/types/{code}", all, "Read a certificate type", (*Server).getType},
	{"PUT", "/api/v1/types/{code}/template", admin, "Set the type's licence template (电子化模板; JSON, or YAML by Content-Type), replacing the current one", (*Server).putTemplate},
	{"GET", "/api/v1/types/{code}/template", all, "The type's licence template, or the default layout (default: true)", (*Server).getTemplate},

	{"POST", "/api/v1/certificates", issuers, "Issue a certificate", (*Server).issue},
	{"GET", "/api/v1/certificates", readers, "Look certificates up", (*Server).findCertificates},
	{"GET", "/api/v1/certificates/{id}", readers, "Read a certificate version", (*Server).getCertificate},
	{"GET", "/api/v1/certificates/{id}/document", readers, "Download the signed document", (*Server).getDocument},
	{"GET", "/api/v1/certificates/{id}/file", readers, "The licence as a file: OFD sealed with the authority's SM2 e-seal, or signed PDF (?format=ofd|pdf)", (*Server).certificateFile},
	{"GET", "/api/v1/certificates/{id}/qr", readers, "A compact signed QR of the licence (?form=compact; PNG, or ?format=text|svg; ?fields=a,b of the shareable fields)", (*Server).certificateQR},
	{"POST", "/api/v1/certificates/{id}/annotated", askers, "An annotated copy (加注件) for one purpose and case, under an agreement granting the document", (*Server).certificateAnnotate},
	{"GET", "/api/v1/annotated/{aid}/file", askers, "An annotated copy's file, for the department that asked for it (?format=ofd|pdf; 410 once expired or revoked)", (*Server).consumerAnnotatedFile},
	{"POST", "/api/v1/certificates/{id}/revisions", issuers, "Issue the next version", (*Server).revise},
	{"POST", "/api/v1/certificates/{id}/suspend", issuers, "Suspend", lifecycle(certificates.Suspend)},
	{"POST", "/api/v1/certificates/{id}/reinstate", issuers, "Reinstate a suspended certificate", lifecycle(certificates.Reinstate)},
	{"POST", "/api/v1/certificates/{id}/revoke", issuers, "Revoke", lifecycle(certificates.Revoke)},

	{"GET", "/api/v1/me/certificates", holder, "The signed-in holder's certificates", (*Server).myCertificates},
	{"GET", "/api/v1/me/certificates/{id}/file", holder, "One of my licences as a file (?format=ofd|pdf)", (*Server).myCertificateFile},
	{"GET", "/api/v1/me/certificates/{id}/qr", holder, "A compact signed QR of my licence with the fields I pick (?form=compact&fields=a,b; PNG, or ?format=text|svg)", (*Server).myCertificateQR},
	{"POST", "/api/v1/me/certificates/{id}/annotated", holder, "An annotated copy (加注件) of my licence for one purpose, until a date", (*Server).myAnnotate},
	{"GET", "/api/v1/me/annotated", holder, "The annotated copies of my certificates, whoever asked for them", (*Server).myAnnotated},
	{"GET", "/api/v1/me/annotated/{aid}/file", holder, "An annotated copy of my licence as a file (?format=ofd|pdf; 410 once expired or revoked)", (*Server).myAnnotatedFile},
	{"DELETE", "/api/v1/me/annotated/{aid}", holder, "Revoke an annotated copy at once", (*Server).revokeAnnotated},
	{"POST", "/api/v1/me/shares", holder, "Share a certificate by link and QR code", (*Server).createShare},
	{"GET", "/api/v1/me/shares", holder, "The holder's shares and who viewed them", (*Server).listShares},
	{"GET", "/api/v1/me/accesses", holder, "Who used my certificates, when, for what purpose and case", (*Server).myAccesses},
	{"DELETE", "/api/v1/me/shares/{id}", holder, "Revoke a share at once", (*Server).revokeShare},
	{"GET", "/api/v1/me/shares/{id}/qr.png", holder, "A share's QR code as PNG", shareQR("png")},
	{"GET", "/api/v1/me/shares/{id}/qr.svg", holder, "A share's QR code as SVG", shareQR("svg")},

	{"POST", "/api/v1/connectors", admin, "Create or update a connector (YAML or JSON definition)", (*Server).applyConnector},
	{"GET", "/api/v1/connectors", admin, "List connectors", (*Server).listConnectors},
	{"GET", "/api/v1/connectors/{name}", admin, "A connector's definition and state", (*Server).getConnector},
	{"POST", "/api/v1/connectors/{name}/run", admin, "Run a connector now", (*Server).runConnector},
	{"POST", "/api/v1/connectors/{name}/pause", admin, "Pause scheduled runs", pauseConnector(true)},
	{"POST", "/api/v1/connectors/{name}/resume", admin, "Resume scheduled runs", pauseConnector(false)},
	{"GET", "/api/v1/connectors/{name}/runs", admin, "A connector's run history", (*Server).connectorRuns},
	{"GET", "/api/v1/connectors/{name}/quarantine", admin, "Records the connector could not accept", (*Server).listQuarantine},
	{"GET", "/api/v1/connectors/{name}/quarantine/{id}", admin, "One quarantined record, with its raw content", (*Server).getQuarantined},
	{"POST", "/api/v1/connectors/{name}/quarantine/retry", admin, "Run quarantined records through the current mapping", (*Server).retryQuarantine},
	{"POST", "/api/v1/connectors/{name}/reconcile", admin, "Report records the source no longer has", (*Server).reconcileConnector},
	{"POST", "/api/v1/connectors/{name}/records", issuers, "Push records in (same mapping as a pull)", (*Server).pushRecords},

	{"POST", "/api/v1/oauth/token", nil, "OAuth 2.0 client credentials with private_key_jwt (RFC 7523): an access token", (*Server).oauthToken},
	{"POST", "/api/v1/consumers", admin, "Register a department system (consumer)", (*Server).createConsumer},
	{"GET", "/api/v1/consumers", admin, "List consumers", (*Server).listConsumers},
	{"GET", "/api/v1/consumers/{id}", admin, "Read a consumer", (*Server).getConsumer},
	{"PUT", "/api/v1/consumers/{id}/jwks", admin, "Register the consumer's public keys for private_key_jwt", (*Server).setConsumerJWKS},
	{"POST", "/api/v1/consumers/{id}/keys", admin, "Create an API key for the consumer (shown once)", (*Server).createConsumerKey},
	{"POST", "/api/v1/consumers/{id}/revoke", admin, "Revoke a consumer and all its keys at once", (*Server).revokeConsumer},
	{"GET", "/api/v1/purposes", all, "The purpose catalog: codes a department may name in X-Purpose", (*Server).listPurposes},
	{"POST", "/api/v1/purposes", admin, "Add a purpose code (legal basis or service item)", (*Server).createPurpose},
	{"POST", "/api/v1/agreements", askers, "Request a sharing agreement", (*Server).requestAgreement},
	{"GET", "/api/v1/agreements", parties, "List sharing agreements", (*Server).listAgreements},
	{"GET", "/api/v1/agreements/{id}", parties, "Read a sharing agreement", (*Server).getAgreement},
	{"POST", "/api/v1/agreements/{id}/approve", deciders, "Approve a requested agreement", decide(exchange.DecideApprove)},
	{"POST", "/api/v1/agreements/{id}/reject", deciders, "Reject a requested agreement", decide(exchange.DecideReject)},
	{"POST", "/api/v1/agreements/{id}/withdraw", parties, "Withdraw an agreement at once", decide(exchange.DecideWithdraw)},
	{"POST", "/api/v1/agreements/{id}/suspend", deciders, "Suspend an approved agreement at once (under investigation)", decide(exchange.DecideSuspend)},
	{"POST", "/api/v1/agreements/{id}/resume", deciders, "Resume a suspended agreement", decide(exchange.DecideResume)},
	{"POST", "/api/v1/subscriptions", askers, "Subscribe to certificate events by webhook", (*Server).createSubscription},
	{"GET", "/api/v1/subscriptions", askers, "List subscriptions", (*Server).listSubscriptions},
	{"GET", "/api/v1/subscriptions/{id}", askers, "Read a subscription", (*Server).getSubscription},
	{"DELETE", "/api/v1/subscriptions/{id}", askers, "End a subscription", (*Server).deleteSubscription},
	{"GET", "/api/v1/subscriptions/{id}/deliveries", askers, "The delivery log: deliveries and their attempts", (*Server).listDeliveries},
	{"POST", "/api/v1/deliveries/{id}/redeliver", askers, "Deliver again (a dead delivery, or a replay)", (*Server).redeliver},
	{"POST", "/api/v1/match", consumer, "Verify-by-match: compare claimed values with a certificate, disclosing nothing", (*Server).match},

	{"POST", "/api/v1/service-items", admin, "Import service items and their materials (JSON, YAML, CSV or .xlsx; all or nothing)", (*Server).importItems},
	{"GET", "/api/v1/service-items", all, "List service items", (*Server).listItems},
	{"GET", "/api/v1/service-items/{code}", all, "Read a service item and its materials", (*Server).getItem},
	{"POST", "/api/v1/service-items/{code}/resolve", consumer, "Which materials e-certificates satisfy for an applicant (once-only)", (*Server).resolveItem},
	{"GET", "/api/v1/reports/materials", admin, "Materials avoided per item and department (材料减少), JSON or CSV", (*Server).materialsReport},

	{"GET", "/api/v1/reports/usage", admin, "Usage statistics by period (月报/季报/年报), JSON or CSV", (*Server).usageReport},

	{"GET", "/api/v1/federation", admin, "This hub's federation identity, its children, the hubs it knows and the last problems reaching them", (*Server).federationStatus},
	{"POST", "/api/v1/federation/children", admin, "Admit a child hub from its signed description", (*Server).admitChild},
	{"POST", "/api/v1/federation/backfill", admin, "Start the backfill of the push to the parent over, at the next push (a parent restored from an old backup)", (*Server).restartBackfill},
	{"POST", "/api/v1/federation/aggregate", nil, "A child hub pushes its outbox (aggregation, 归集); authenticated by the child's hub signature over the body, not a bearer token", (*Server).federationPush},
	{"POST", "/api/v1/federation/requests", nil, "Another hub forwards one of its consumers' calls (lookup, match), signed by that hub; run here under this hub's agreements, answered signed with the request's hash", (*Server).federationRequests},
	{"GET", "/api/v1/federation/certificates", admin, "The certificate versions of one child hub (?home_hub=) pushed here (aggregation), by id", (*Server).federatedCertificates},
	{"GET", "/api/v1/federation/certificates/{id}", admin, "A certificate version a child hub pushed here (aggregation): its home hub and state", (*Server).federatedCertificate},

	{"GET", "/debug/pprof/*", admin, "The Go runtime's profiles (pprof: heap, goroutine, profile?seconds=, trace …) when serve runs with --pprof; 404 otherwise", (*Server).pprof},
	{"POST", "/api/v1/tokens", admin, "Create an API token", (*Server).createToken},
	{"GET", "/api/v1/tokens", admin, "List API tokens", (*Server).listTokens},
	{"DELETE", "/api/v1/tokens/{id}", admin, "Revoke an API token", (*Server).revokeToken},
}

// Handler builds the router.
func (s *Server) Handler() http.Handler {
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Registry == nil {
		s.Registry = prometheus.NewRegistry()
	}
	m := newMetrics(s.Registry)
	s.metrics = m
	s.agreementLimit = newAgreementLimiter()

	r := chi.NewRouter()
	r.Use(s.checkHeaders, middleware.RequestID, s.requestIDHeader, s.recoverer, s.checkTextHeaders)
	if len(s.TrustedProxies) > 0 {
		r.Use(middleware.ClientIPFromXFF(s.TrustedProxies...))
	} else {
		r.Use(middleware.ClientIPFromRemoteAddr)
	}
	r.Use(s.accessLog(m), s.securityHeaders)
	if s.Tracing != nil {
		r.Use(routeSpan)
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errs.E(errs.NotFound, "no such endpoint %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeJSON(w, http.StatusMethodNotAllowed, errorBody(r, &errs.Error{Code: "method_not_allowed",
			Message: fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)}))
	})
	r.Handle("/metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry}))
	if s.Pages != nil {
		s.Pages.Register(r)
	}

	verifyLimit := func(h http.Handler) http.Handler { return h }
	if s.VerifyRatePerMinute > 0 {
		verifyLimit = httprate.LimitBy(s.VerifyRatePerMinute, time.Minute,
			func(r *http.Request) (string, error) { return middleware.GetClientIP(r.Context()), nil },
			httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
				s.fail(w, r, errs.E(errs.RateLimited, "too many verifications from this address; retry later"))
			}))
	}
	active := func(h http.Handler) http.Handler { return h }
	if s.MaxActive > 0 {
		wait := s.ActiveWait
		if wait <= 0 {
			wait = DefaultActiveWait
		}
		active = s.limitActive(s.MaxActive, wait, m.waiting)
	}
	for _, rt := range Routes {
		h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.handler(s, w, r) }))
		if !rt.Public() {
			h = s.authorize(rt.Roles, h)
		}
		if rt.Pattern == "/api/v1/verify" {
			h = verifyLimit(h)
		}
		if !unlimitedRoutes[rt.Pattern] {
			h = active(h)
		}
		r.Method(rt.Method, rt.Pattern, h)
	}
	s.router = r
	if s.Tracing != nil {
		return s.traced(r)
	}
	return r
}

type ctxKey int

const (
	principalKey ctxKey = iota
	// fedCallKey marks a call another hub forwarded (federated.go).
	fedCallKey
)

func principalOf(ctx context.Context) *exchange.Principal {
	p, _ := ctx.Value(principalKey).(*exchange.Principal)
	return p
}

// authorize authenticates the bearer token and checks its role.
func (s *Server) authorize(roles []exchange.Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *exchange.Principal
		var err error
		if fc := fedCallOf(r.Context()); fc != nil {
			// A call another hub forwarded, checked by its signature: its
			// consumer as this hub registered it (federated.go).
			p = fc.principal
		} else {
			p, err = s.authenticate(r)
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="certhub"`)
			s.fail(w, r, err)
			return
		}
		ok := false
		for _, role := range roles {
			ok = ok || p.Role == role
		}
		route := chi.RouteContext(r.Context()).RoutePattern()
		if !ok {
			s.fail(w, r, errs.E(errs.Forbidden, "role %s may not call %s %s", p.Role, r.Method, route))
			return
		}
		if need := consumerScopes[r.Method+" "+route]; p.Role == exchange.RoleConsumer && need != "" && !slices.Contains(p.Scopes, need) {
			s.fail(w, r, errs.E(errs.Forbidden, "this credential lacks scope %s, which %s %s needs", need, r.Method, route))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

// consumerScopes names the scope a consumer credential needs per route.
var consumerScopes = map[string]string{
	"GET /api/v1/certificates":                  exchange.ScopeRead,
	"GET /api/v1/certificates/{id}":             exchange.ScopeRead,
	"GET /api/v1/certificates/{id}/document":    exchange.ScopeRead,
	"GET /api/v1/certificates/{id}/file":        exchange.ScopeRead,
	"POST /api/v1/certificates/{id}/annotated":  exchange.ScopeRead,
	"GET /api/v1/annotated/{aid}/file":          exchange.ScopeRead,
	"POST /api/v1/match":                        exchange.ScopeMatch,
	"POST /api/v1/subscriptions":                exchange.ScopeEvents,
	"GET /api/v1/subscriptions":                 exchange.ScopeEvents,
	"GET /api/v1/subscriptions/{id}":            exchange.ScopeEvents,
	"DELETE /api/v1/subscriptions/{id}":         exchange.ScopeEvents,
	"GET /api/v1/subscriptions/{id}/deliveries": exchange.ScopeEvents,
	"POST /api/v1/deliveries/{id}/redeliver":    exchange.ScopeEvents,
}

func (s *Server) authenticate(r *http.Request) (*exchange.Principal, error) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return nil, errs.E(errs.Unauthorized, "a bearer token is required (Authorization: Bearer …)")
	}
	secret = strings.TrimSpace(secret)
	hash := exchange.HashSecret(secret)
	if s.AdminTokenHash != "" && subtle.ConstantTimeCompare([]byte(hash), []byte(s.AdminTokenHash)) == 1 {
		return &exchange.Principal{Role: exchange.RoleAdmin, TokenID: "bootstrap", Name: "bootstrap admin"}, nil
	}
	if !strings.HasPrefix(secret, exchange.TokenPrefix) && s.AccessTokens != nil && s.AccessTokens.Key.Signs(secret) {
		return s.AccessTokens.Verify(r.Context(), secret)
	}
	if !strings.HasPrefix(secret, exchange.TokenPrefix) && s.Holders != nil {
		id, err := s.Holders.Verify(r.Context(), secret)
		if err != nil {
			return nil, err
		}
		return &exchange.Principal{Role: exchange.RoleHolder, Name: id.Name, HolderKind: string(id.HolderKind), HolderID: id.HolderID}, nil
	}
	t, err := s.Tokens.TokenByHash(r.Context(), hash)
	if errs.Is(err, errs.NotFound) {
		return nil, errs.E(errs.Unauthorized, "the bearer token is not valid")
	}
	if err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return nil, errs.E(errs.Unauthorized, "the bearer token was revoked")
	}
	p := &exchange.Principal{Role: t.Role, TokenID: t.ID, Name: t.Name, Authority: t.Authority, Consumer: t.Consumer, Scopes: t.Scopes}
	if t.Consumer != "" {
		p.Name = t.ConsumerName // the department, not the key's label
	}
	return p, nil
}

// scope restricts an issuer to its authority.
func scope(p *exchange.Principal) certificates.Scope {
	if p.Role == exchange.RoleIssuer {
		return certificates.Scope{Authority: p.Authority}
	}
	return certificates.Scope{}
}

// access reads the purpose and case a department must name. It applies to
// consumers; other roles may send them and then they are logged too.
func (s *Server) access(r *http.Request) (exchange.Access, error) {
	a := exchange.Access{Purpose: r.Header.Get("X-Purpose"), CaseID: r.Header.Get("X-Case-Id")}
	if p := principalOf(r.Context()); p != nil && p.Role == exchange.RoleConsumer {
		if err := a.Validate(); err != nil {
			return a, err
		}
		s.Log.InfoContext(r.Context(), "department access", "consumer", p.Consumer, "credential", p.TokenID, "route", chi.RouteContext(r.Context()).RoutePattern(),
			"purpose", a.Purpose, "case_id", a.CaseID, "request_id", middleware.GetReqID(r.Context()))
	}
	return a, nil
}

// statusOf maps error codes to HTTP status: the one place this happens.
// Codes not listed (internal) are 500.
var statusOf = map[errs.Code]int{
	errs.Invalid:      http.StatusBadRequest,
	errs.Unauthorized: http.StatusUnauthorized,
	errs.Forbidden:    http.StatusForbidden,
	errs.NotFound:     http.StatusNotFound,
	errs.Conflict:     http.StatusConflict,
	errs.Gone:         http.StatusGone,
	errs.TooLarge:     http.StatusRequestEntityTooLarge,
	errs.RateLimited:  http.StatusTooManyRequests,
	errs.Unavailable:  http.StatusServiceUnavailable,
}

func status(code errs.Code) int {
	if st, ok := statusOf[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

type errorJSON struct {
	Error struct {
		Code    errs.Code         `json:"code"`
		Message string            `json:"message"`
		Field   string            `json:"field,omitempty"`
		Fields  []errs.FieldError `json:"fields,omitempty"`
	} `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

func errorBody(r *http.Request, e *errs.Error) errorJSON {
	var b errorJSON
	b.Error.Code, b.Error.Message, b.Error.Field, b.Error.Fields = e.Code, e.Message, e.Field, e.Fields
	b.RequestID = middleware.GetReqID(r.Context())
	return b
}

// fail writes an error. 4xx answers carry the field and reason and are
// logged at warn; 5xx answers carry a generic message, the detail goes to
// the log only.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away before the answer: nothing failed here, and
		// no one reads what is written. 499, as proxies log it.
		s.Log.InfoContext(r.Context(), "client gave up before the answer", "request_id", middleware.GetReqID(r.Context()))
		w.WriteHeader(statusClientClosed)
		return
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		e = &errs.Error{Code: errs.Internal, Err: err}
	}
	st := status(e.Code)
	if st >= 500 {
		s.Log.ErrorContext(r.Context(), "request failed", "err", err.Error(), "request_id", middleware.GetReqID(r.Context()))
		msg := "internal error; the request id identifies it in the hub's log"
		if e.Code == errs.Unavailable {
			msg = "a dependency of the hub is unavailable; retry later (see /readyz)"
			w.Header().Set("Retry-After", errs.RetryAfterSeconds)
		}
		e = &errs.Error{Code: e.Code, Message: msg}
	} else {
		s.Log.WarnContext(r.Context(), "request refused", "code", string(e.Code), "field", e.Field, "reason", e.Message,
			"request_id", middleware.GetReqID(r.Context()))
	}
	s.writeJSON(w, st, errorBody(r, e))
}

// statusClientClosed is nginx's 499: the client closed the connection
// before the answer (it shows as such in the HTTP metrics).
const statusClientClosed = 499

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.Log.Error("encode response", "err", err)
		http.Error(w, `{"error":{"code":"internal","message":"encode response"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads a JSON body into v: size-limited, unknown fields refused,
// numbers kept exact, exactly one JSON value followed by nothing but
// whitespace (read to the end, so trailing whitespace counts against the
// limit too), and every string in it checked by the hub's one text rule
// (certificates.TextProblem) before any handler sees it. The Content-Type is
// not enforced: the API authenticates with bearer tokens only (no cookies),
// so a form post from another site carries no credentials, and curl's
// default type works.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSON(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes), s.MaxBodyBytes, v)
}

// decodeJSON is decode's reader-level half; body must already be limited.
//
// It decodes with the JSON v2 design (github.com/go-json-experiment/json,
// which Go ships as encoding/json/v2): one pass over the body where
// encoding/json makes two, which is a fifth of what POST /api/v1/verify
// costs (docs/benchmarks.md). Names match as encoding/json matched them
// (case-insensitively); a name given twice is refused, where encoding/json
// kept the last (two readers of one body must not see two values); bytes
// that are not UTF-8 become U+FFFD and are then refused by the text rule
// below, naming the field; numbers in free-form data stay exact
// (encoding/json.Number, see anyValue).
func decodeJSON(body io.Reader, limit int64, v any) error {
	raw, err := io.ReadAll(body)
	if err != nil {
		return jsonError(err, limit)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return errs.Field("body", "is empty; a JSON object is required")
	}
	if err := jsonv2.Unmarshal(raw, v, bodyOptions); err != nil {
		return jsonError(err, limit)
	}
	var l errs.List
	certificates.CheckStrings("", v, &l)
	if len(l) > 0 && !utf8.Valid(raw) {
		// The decoder replaced the bytes that are not UTF-8 by U+FFFD; say
		// what the client actually sent.
		for i := range l {
			if strings.Contains(l[i].Reason, "U+FFFD") {
				l[i].Reason = "is not valid UTF-8; send UTF-8 text"
			}
		}
	}
	return l.Err()
}

// bodyOptions are decodeJSON's: unknown names refused, names matched
// case-insensitively, invalid UTF-8 left to the text rule, free-form
// values decoded by anyValue.
var bodyOptions = jsonv2.JoinOptions(
	jsonv2.RejectUnknownMembers(true),
	jsonv2.MatchCaseInsensitiveNames(true),
	jsontext.AllowInvalidUTF8(true),
	jsonv2.WithUnmarshalers(jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, v *any) error {
		x, err := anyValue(dec)
		if err == nil {
			*v = x
		}
		return err
	})),
)

// anyValue reads one JSON value into the types encoding/json gives an any
// with UseNumber: map[string]any, []any, string, json.Number, bool, nil.
// Numbers stay as written, so a licence field's 12345678901234567890 is
// never rounded through a float64.
func anyValue(dec *jsontext.Decoder) (any, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		m := map[string]any{}
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			name := tok.String() // before the next read voids tok
			val, err := anyValue(dec)
			if err != nil {
				return nil, err
			}
			m[name] = val
		}
		_, err := dec.ReadToken()
		return m, err
	case '[':
		a := []any{}
		for dec.PeekKind() != ']' {
			val, err := anyValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, val)
		}
		_, err := dec.ReadToken()
		return a, err
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case 't', 'f':
		return tok.Bool(), nil
	default: // 'n'
		return nil, nil
	}
}

// jsonError turns a decoding failure into an error naming the field.
func jsonError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	var se *jsonv2.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &mbe):
		return &errs.Error{Code: errs.TooLarge, Field: "body", Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.Field("body", "malformed JSON: the body ends in the middle of a value")
	case errors.As(err, &se) && se.Err == jsonv2.ErrUnknownName:
		return errs.Field(fieldPath(se.JSONPointer), "is not a known field")
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return errs.Field(fieldPath(syn.JSONPointer), "is given twice; send each field once")
	case errors.As(err, &syn):
		if syn.JSONPointer == "" && strings.Contains(syn.Err.Error(), "after top-level value") {
			return errs.Field("body", "must hold one JSON value; found more after it at byte %d", syn.ByteOffset)
		}
		return errs.Field("body", "malformed JSON at byte %d: %v", syn.ByteOffset, syn.Err)
	// A kind that does not fit the field: the decoder's own (no Err), or
	// encoding/json's inside a field's UnmarshalJSON (a date sent as a
	// number).
	case errors.As(err, &se) && se.GoType != nil && se.JSONKind != 0 && (se.Err == nil || strings.Contains(se.Err.Error(), "cannot unmarshal")):
		return errs.Field(fieldPath(se.JSONPointer), "must be %s, got JSON %s", jsonKind(se.GoType.String()), kindName(se.JSONKind))
	case errors.As(err, &se) && se.Err != nil:
		// Errors from a field's own UnmarshalJSON (dates) carry their
		// reason.
		return errs.Field(fieldPath(se.JSONPointer), "%v", se.Err)
	}
	return errs.Field("body", "%v", err)
}

// fieldPath names the value at a JSON pointer as the hub's errors name
// fields: /fields/1/name is fields[1].name; the root is the body.
func fieldPath(p jsontext.Pointer) string {
	var sb strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && sb.Len() > 0 {
			sb.WriteString("[" + tok + "]")
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(tok)
	}
	if sb.Len() == 0 {
		return "body"
	}
	return sb.String()
}

// kindName says what JSON a client sent, as encoding/json's errors did.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "map"), strings.HasPrefix(goType, "struct"), strings.Contains(goType, "."):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	}
	return "a " + goType
}
