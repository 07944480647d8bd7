// Package hubtest builds a whole hub for tests: the embedded-default stores
// in a temporary directory, seal keys, the API and the pages on one router,
// a test identity provider, a movable clock, served over real HTTP on a
// random loopback port.
package hubtest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/filesource"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/httpapi"
	"github.com/certhub/certhub/internal/httpsource"
	"github.com/certhub/certhub/internal/licencefile"
	"github.com/certhub/certhub/internal/oidc"
	"github.com/certhub/certhub/internal/oidc/oidctest"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/s3store"
	"github.com/certhub/certhub/internal/sealimage"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/sqlsource"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/internal/tracing"
	"github.com/certhub/certhub/internal/web"
	"github.com/certhub/certhub/signing"
)

// Hub is a running hub.
type Hub struct {
	Srv     *httptest.Server
	Store   *sqlstore.Store
	DocsDir string
	Certs   *certificates.Service
	Shares  *exchange.Shares
	Pages   *web.Server
	API     *httpapi.Server
	Admin   string // bootstrap admin token
	Logs    *LogBuffer
	Clock   *Clock
	IDP     *oidctest.Provider
	Ledger  *exchange.Ledger
	// Registry holds consumers, purposes and agreements.
	Registry *exchange.Registry
	// Webhooks is not running; tests call Dispatch and Deliver, or Run.
	Webhooks *exchange.Webhooks
}

// Option changes how New builds a hub.
type Option func(*options)

type options struct {
	postgres, s3, pprof bool
	unlimited           bool
	writeTimeout        time.Duration
	maxActive           int
	activeWait          time.Duration
	tracing             trace.TracerProvider
}

// OnPostgres keeps the hub's metadata in a fresh schema of the test
// PostgreSQL server instead of SQLite (skipping, or failing in CI, like
// testenv when there is none).
func OnPostgres() Option { return func(o *options) { o.postgres = true } }

// OnS3 keeps the hub's documents in a fresh bucket of the test S3 server
// instead of a directory (skipping, or failing in CI, like testenv when
// there is none). DocsDir is then empty.
func OnS3() Option { return func(o *options) { o.s3 = true } }

// Traced makes the hub's requests, statements and document operations
// spans of tp, as certhub serve does when tracing is on.
func Traced(tp trace.TracerProvider) Option { return func(o *options) { o.tracing = tp } }

// Profiled serves the runtime's profiles to administrators, as certhub
// serve --pprof does.
func Profiled() Option { return func(o *options) { o.pprof = true } }

// Unlimited turns the per-address verification rate limit off, as
// certhub serve --verify-rate 0 does: benchmarks send every request from
// one address.
func Unlimited() Option { return func(o *options) { o.unlimited = true } }

// MaxActive lets at most n API requests run at once, the rest waiting
// their turn for at most wait, as certhub serve --max-active does.
func MaxActive(n int, wait time.Duration) Option {
	return func(o *options) { o.maxActive, o.activeWait = n, wait }
}

// WriteTimeout gives the hub's HTTP server a write timeout, as certhub
// serve has one (60 s).
func WriteTimeout(d time.Duration) Option { return func(o *options) { o.writeTimeout = d } }

// New starts a hub; everything is cleaned up when the test ends.
func New(t testing.TB, opts ...Option) *Hub {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dir := t.TempDir()
	var store *sqlstore.Store
	var err error
	if o.postgres {
		store, err = postgres.Open(context.Background(), testenv.PostgresURL(t), postgres.Traced(o.tracing))
	} else {
		store, err = sqlite.Open(context.Background(), filepath.Join(dir, "certhub.db"), sqlite.Traced(o.tracing))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	var docs certificates.DocumentStore
	var docsDir string
	if o.s3 {
		srv := testenv.S3Server(t)
		bucket := testenv.RandomName("hub-")
		docs, err = s3store.Open(context.Background(), s3store.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey,
			SecretKey: srv.SecretKey, Bucket: bucket})
		docs = tracing.Documents(docs, o.tracing, "s3", bucket)
	} else {
		docsDir = filepath.Join(dir, "documents")
		docs, err = filestore.Open(docsDir)
		docs = tracing.Documents(docs, o.tracing, "directory", "")
	}
	if err != nil {
		t.Fatal(err)
	}
	master, _ := signing.GenerateMasterKey()
	clk := &Clock{}
	keys, err := signing.NewManager(store, map[string]signing.Backend{"local": signing.NewLocalBackend(master)}, "local", clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	logs := &LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	seals, err := sealimage.Open(os.Getenv("CERTHUB_SEAL_FONT"), log)
	if err != nil {
		t.Fatal(err)
	}
	certs := &certificates.Service{Store: store, Documents: docs, Keys: keys, Vault: signing.NewVault(master), Now: clk.Now, Location: loc, Log: log, Seals: seals}
	admin, adminHash := exchange.NewSecret()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.WriteTimeout = o.writeTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	certs.PublicURL = srv.URL
	idp := oidctest.New(t)
	holders, err := oidc.New(context.Background(), idp.Config(srv.URL+"/auth/callback"))
	if err != nil {
		t.Fatal(err)
	}
	lk, err := signing.NewLedgerKey(master, "certhub.test/ledger")
	if err != nil {
		t.Fatal(err)
	}
	ledger := &exchange.Ledger{Store: store, Key: exchange.Keys{Signer: lk.Signer, Verifier: lk.Verifier}, Origin: "certhub.test/ledger", Now: clk.Now, Location: loc,
		Objects: docs, VerifierKey: lk.VerifierKey}
	shares := &exchange.Shares{Store: store, Certs: certs, Now: clk.Now, Ledger: ledger}
	hk, err := signing.NewHubKey(master)
	if err != nil {
		t.Fatal(err)
	}

	// The copies a child would push here (aggregation): tests apply pushes
	// to the store directly.
	copies := &federation.Copies{Store: store, Documents: docs}
	reg := &exchange.Registry{Store: store, Tokens: &exchange.TokenCache{TokenStore: store}, Certs: certs, Ledger: ledger, Now: clk.Now, Copies: copies}
	// Test receivers listen on loopback: allowed here explicitly, as an
	// operator would allow a co-located receiver.
	hooks := &exchange.Webhooks{Store: store, Registry: reg, Key: hk, Certs: certs, Log: log, Now: clk.Now, Owner: "hubtest",
		Guard:   &exchange.WebhookGuard{HubURL: srv.URL, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Backoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxAttempts: 5, Timeout: 2 * time.Second}
	items := &exchange.Resolver{Store: store, Registry: reg, Certs: certs, Ledger: ledger, Now: clk.Now, Copies: copies}
	annotations := &exchange.Annotations{Store: store, Certs: certs, Now: clk.Now}
	files := &licencefile.Maker{Certs: certs, PublicURL: srv.URL, Annotations: annotations}
	pages := &web.Server{Certs: certs, Shares: shares, Tokens: store, OIDC: holders, Box: signing.NewBox(master, "web session v1"),
		Log: log, Now: clk.Now, PublicURL: srv.URL, AdminTokenHash: adminHash, Registry: reg, Items: items, Files: files, Annotations: annotations,
		HubKey: hk}
	verifyRate := 10000
	if o.unlimited {
		verifyRate = 0
	}
	api := &httpapi.Server{Certs: certs, Keys: keys, Tokens: reg.Tokens, Shares: shares, Holders: holders, PublicURL: srv.URL, Log: log,
		Now: clk.Now, AdminTokenHash: adminHash, VerifyRatePerMinute: verifyRate, Pages: pages, Ledger: ledger, LedgerKey: lk.VerifierKey,
		Consumers: reg, Webhooks: hooks, Items: items, Files: files, Copies: copies, Tracing: o.tracing, Pprof: o.pprof,
		MaxActive: o.maxActive, ActiveWait: o.activeWait,
		Annotations:  annotations,
		AccessTokens: &exchange.AccessTokens{Registry: reg, Key: hk, Issuer: srv.URL, TokenURL: srv.URL + "/api/v1/oauth/token", Now: clk.Now}}
	api.Connectors = &connectors.Engine{Store: store, Certs: certs, Kinds: connectors.Kinds{"file": filesource.Kind{}, "http": httpsource.Kind{}, "sql": sqlsource.Kind{}},
		Now: clk.Now, Log: log, Owner: "hubtest", Ledger: ledger}
	srv.Config.Handler = api.Handler()
	return &Hub{Srv: srv, Store: store, DocsDir: docsDir, Certs: certs, Shares: shares, Pages: pages, API: api, Admin: admin,
		Logs: logs, Clock: clk, IDP: idp, Ledger: ledger, Registry: reg, Webhooks: hooks}
}

// Clock is the hub's time, which tests may move forward.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the real time plus the offset.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.offset) }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.offset += d }

// LogBuffer collects the hub's log lines; the server writes from many
// goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
