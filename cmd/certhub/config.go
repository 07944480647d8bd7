package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/s3store"
	"github.com/certhub/certhub/internal/sealimage"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/tracing"
	"github.com/certhub/certhub/signing"
)

// StoreConfig says where the hub keeps its data. With no database URL and no
// S3 endpoint it is the embedded default: <data>/certhub.db (SQLite) and
// <data>/documents (local directory).
type StoreConfig struct {
	Data        string `name:"data" env:"CERTHUB_DATA" default:"./certhub-data" help:"Data directory: SQLite file, documents, generated master key and admin token. Only serve, demo and init create it."`
	DatabaseURL string `name:"database-url" env:"CERTHUB_DATABASE_URL" help:"PostgreSQL URL (postgres://…); empty uses SQLite in the data directory."`
	ReadURL     string `name:"database-read-url" env:"CERTHUB_DATABASE_READ_URL" help:"A streaming replica (hot standby) of the PostgreSQL database: lookups, lists and reports read from it while it is at most --database-read-max-lag behind; writes and every status that decides a verification read the primary."`
	ReadMaxLag  string `name:"database-read-max-lag" env:"CERTHUB_DATABASE_READ_MAX_LAG" default:"2s" help:"How far behind the primary the read replica may be and still answer (further, or down, or promoted, and the primary answers)."`
	S3Endpoint  string `name:"s3-endpoint" env:"CERTHUB_S3_ENDPOINT" help:"S3 server host:port; empty keeps documents in the data directory."`
	S3Bucket    string `name:"s3-bucket" env:"CERTHUB_S3_BUCKET" default:"certhub" help:"S3 bucket for documents (created if missing)."`
	S3AccessKey string `name:"s3-access-key" env:"CERTHUB_S3_ACCESS_KEY" help:"S3 access key."`
	S3SecretKey string `name:"s3-secret-key" env:"CERTHUB_S3_SECRET_KEY" help:"S3 secret key."`
	S3Region    string `name:"s3-region" env:"CERTHUB_S3_REGION" help:"S3 region (empty for MinIO's default)."`
	S3UseSSL    bool   `name:"s3-use-ssl" env:"CERTHUB_S3_USE_SSL" help:"Use HTTPS to reach the S3 server."`
	MasterKey   string `name:"master-key" env:"CERTHUB_MASTER_KEY" help:"Master key (32 bytes, base64) protecting seal keys and holder ids; generated into <data>/master-key if unset. Replicas must share it."`
	TimeZone    string `name:"time-zone" env:"CERTHUB_TIME_ZONE" default:"Asia/Shanghai" help:"Zone of civil dates (validity, expiry)."`
	LogLevel    string `name:"log-level" env:"CERTHUB_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level (debug, info, warn, error)."`
	LogFormat   string `name:"log-format" env:"CERTHUB_LOG_FORMAT" default:"json" enum:"json,text" help:"Log format (json, text)."`
	LedgerName  string `name:"ledger-name" env:"CERTHUB_LEDGER_NAME" default:"certhub/ledger" help:"The audit ledger's name in its signed checkpoints (the hub's host and /ledger is a good choice)."`
	LicenceFont string `name:"licence-font" env:"CERTHUB_LICENCE_FONT" help:"CJK TrueType font (.ttf with Chinese, Latin and digits) embedded, as a subset, in licence files (OFD, PDF); empty looks for an installed one (fonts-arphic-gbsn00lp, fonts-lxgw-wenkai). Without one the hub starts, and asking for a file answers 503 saying what to install."`
	PublicURL   string `name:"public-url" env:"CERTHUB_PUBLIC_URL" help:"How people reach the hub (share links, QR codes, sign-in redirect, the status list URLs new documents carry); serve defaults to http://<addr>, other commands then issue documents without status references."`
	SealFont    string `name:"seal-font" env:"CERTHUB_SEAL_FONT" help:"CJK font (.ttf, .otf or .ttc) for drawing authorities' default seal pictures; empty looks for an installed one (fonts-noto-cjk and others), and without one seals are drawn without text (a warning is logged)."`

	// tracing is the tracer provider startTracing installed; nil (off)
	// for the commands that do not trace.
	tracing trace.TracerProvider
}

// app is the wired hub.
type app struct {
	log       *slog.Logger
	master    *signing.MasterKey
	ledger    *exchange.Ledger
	ledgerKey *signing.LedgerKey
	hubKey    *signing.HubKey
	registry  *exchange.Registry
	items     *exchange.Resolver
	store     *sqlstore.Store
	docs      certificates.DocumentStore
	keys      *signing.Manager
	vault     *signing.Vault
	certs     *certificates.Service
	// federation is this hub's part in a federation of hubs (its
	// endpoints answer 404 until certhub federation init).
	federation *federation.Service
	// copies are the copies children pushed here, served to this hub's
	// own department systems.
	copies *federation.Copies
	// tracing is the tracer provider (nil: tracing off).
	tracing trace.TracerProvider
}

func (c *StoreConfig) logger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// openMode says whether open may create a hub that is not there yet.
type openMode int

const (
	// existingHub is every console command's: the hub must be there (its
	// store and its master key); nothing is created.
	existingHub openMode = iota
	// createHub is serve's and demo's: a missing data directory, store and
	// master key are created.
	createHub
	// newHub is init's: there must be no hub yet; one is created.
	newHub
)

// hubMarks is where open looked for a hub, for its messages.
type hubMarks struct {
	exists bool   // the store holds a hub
	where  string // the SQLite file or the database, as shown to people
	dir    string // the data directory, absolute
}

// look finds out, changing nothing, whether the configured store holds a
// hub: the SQLite file in the data directory, or certhub's tables in the
// PostgreSQL database (the data directory then only holds the master key
// and, without S3, the documents).
func (c *StoreConfig) look(ctx context.Context) (hubMarks, error) {
	dir, err := filepath.Abs(c.Data)
	if err != nil {
		return hubMarks{}, fmt.Errorf("data directory %s: %w", c.Data, err)
	}
	m := hubMarks{dir: dir}
	if c.DatabaseURL == "" {
		m.where = filepath.Join(dir, "certhub.db")
		_, err := os.Stat(m.where)
		switch {
		case err == nil:
			m.exists = true
		case !errors.Is(err, fs.ErrNotExist):
			return m, fmt.Errorf("data directory %s: %w", dir, err)
		}
		return m, nil
	}
	m.where = "PostgreSQL " + redactURL(c.DatabaseURL)
	m.exists, err = postgres.Initialized(ctx, c.DatabaseURL)
	return m, err
}

// missing is the refusal of a console command that found no hub.
func (c *StoreConfig) missing(m hubMarks) error {
	const start = `start the hub with "certhub serve" or "certhub init"`
	if c.DatabaseURL != "" {
		return fmt.Errorf("no hub in the database %s (certhub's tables are not there); %s on it, or check --database-url / CERTHUB_DATABASE_URL",
			redactURL(c.DatabaseURL), start)
	}
	if _, err := os.Stat(m.dir); err != nil {
		return fmt.Errorf("no data directory at %s (no certhub.db there); %s, or pass --data / CERTHUB_DATA", m.dir, start)
	}
	return fmt.Errorf("no hub in the data directory %s (no certhub.db there); %s, or pass --data / CERTHUB_DATA", m.dir, start)
}

// redactURL hides a database URL's password.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(the configured DSN)"
}

// open wires stores, keys and services from the configuration. Console
// commands call it as open(ctx): they work on a hub that exists and never
// create one, so a command started in the wrong directory says so instead
// of making an empty hub with a new master key. serve and demo pass
// createHub, init passes newHub.
func (c *StoreConfig) open(ctx context.Context, mode ...openMode) (*app, error) {
	m := existingHub
	if len(mode) > 0 {
		m = mode[0]
	}
	log := c.logger()
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", c.TimeZone, err)
	}
	marks, err := c.look(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case m == existingHub && !marks.exists:
		return nil, c.missing(marks)
	case m == newHub && marks.exists:
		return nil, fmt.Errorf("a hub already exists in %s; init makes a new hub only where there is none (to use this one: certhub serve)", marks.where)
	}
	// The data directory is needed unless PostgreSQL, S3 and a configured
	// master key take all it would hold (the admin token makes it itself).
	if m != existingHub && (c.DatabaseURL == "" || c.S3Endpoint == "" || c.MasterKey == "") {
		if err := os.MkdirAll(c.Data, 0o700); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", marks.dir, err)
		}
	}
	master, err := c.masterKey(log, m != existingHub, marks)
	if err != nil {
		return nil, err
	}
	if m == existingHub && c.DatabaseURL != "" && c.S3Endpoint == "" {
		// The documents live in the data directory: it must be the hub's.
		docs := filepath.Join(marks.dir, "documents")
		if _, err := os.Stat(docs); err != nil {
			return nil, fmt.Errorf("no documents directory at %s, where this hub (without S3) keeps its documents; "+
				"pass --data / CERTHUB_DATA with the hub's data directory, or the S3 settings", docs)
		}
	}
	var store *sqlstore.Store
	if c.ReadURL != "" && c.DatabaseURL == "" {
		return nil, fmt.Errorf("--database-read-url is a replica of --database-url, which is not set")
	}
	if c.DatabaseURL != "" {
		store, err = postgres.Open(ctx, c.DatabaseURL, postgres.Traced(c.tracing))
		log.Info("metadata store", "kind", "postgresql")
		if err == nil && c.ReadURL != "" {
			var lag time.Duration
			if lag, err = time.ParseDuration(c.ReadMaxLag); err != nil || lag <= 0 {
				err = fmt.Errorf("--database-read-max-lag: %q is not a positive duration", c.ReadMaxLag)
			} else if err = postgres.UseReplica(ctx, store, c.ReadURL, lag, log); err == nil {
				log.Info("read replica", "url", redactURL(c.ReadURL), "max_lag", lag)
			}
			if err != nil {
				store.Close()
			}
		}
	} else {
		path := filepath.Join(c.Data, "certhub.db")
		store, err = sqlite.Open(ctx, path, sqlite.Traced(c.tracing))
		log.Info("metadata store", "kind", "sqlite", "path", path)
	}
	if err != nil {
		return nil, err
	}
	var docs certificates.DocumentStore
	if c.S3Endpoint != "" {
		docs, err = s3store.Open(ctx, s3store.Config{Endpoint: c.S3Endpoint, Bucket: c.S3Bucket, AccessKey: c.S3AccessKey,
			SecretKey: c.S3SecretKey, Region: c.S3Region, UseSSL: c.S3UseSSL})
		docs = tracing.Documents(docs, c.tracing, "s3", c.S3Bucket)
		log.Info("document store", "kind", "s3", "endpoint", c.S3Endpoint, "bucket", c.S3Bucket)
	} else {
		dir := filepath.Join(c.Data, "documents")
		docs, err = filestore.Open(dir)
		docs = tracing.Documents(docs, c.tracing, "directory", "")
		log.Info("document store", "kind", "directory", "path", dir)
	}
	if err != nil {
		store.Close()
		return nil, err
	}
	keys, err := signing.NewManager(store, map[string]signing.Backend{"local": signing.NewLocalBackend(master)}, "local", time.Now)
	if err != nil {
		store.Close()
		return nil, err
	}
	vault := signing.NewVault(master)
	seals, err := sealimage.Open(c.SealFont, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	svc := &certificates.Service{Store: store, Documents: docs, Keys: keys, Vault: vault, Now: time.Now, Location: loc, Log: log, Seals: seals,
		PublicURL: strings.TrimRight(c.PublicURL, "/")}
	lk, err := signing.NewLedgerKey(master, c.LedgerName)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("ledger key: %w", err)
	}
	hk, err := signing.NewHubKey(master)
	if err == nil {
		err = hk.Load(ctx, store, time.Now())
	}
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("hub key: %w", err)
	}
	ledger := &exchange.Ledger{Store: store, Key: exchange.Keys{Signer: lk.Signer, Verifier: lk.Verifier}, Origin: c.LedgerName, Now: time.Now, Location: loc,
		Objects: docs, VerifierKey: lk.VerifierKey}
	// API tokens are kept a second in memory (exchange.TokenCache): a call
	// does not begin with a round trip for its credential.
	reg := &exchange.Registry{Store: store, Tokens: &exchange.TokenCache{TokenStore: store}, Certs: svc, Ledger: ledger, Now: time.Now}
	items := &exchange.Resolver{Store: store, Registry: reg, Certs: svc, Ledger: ledger, Now: time.Now}
	fed := &federation.Service{Store: store, Catalog: store, Key: hk, HubKeys: store, Ledger: ledger, Log: log, Now: time.Now,
		Vault: vault, Documents: docs, Inbox: store}
	if c.tracing != nil {
		// A call forwarded to another hub carries the trace on, so one
		// trace shows both hubs' parts of a federated lookup.
		fed.Client = federation.NewClient()
		fed.Client.Transport = tracing.Transport(fed.Client.Transport, c.tracing)
	}
	// Documents sealed in other hubs verify with the keys of their trust
	// lists (docs/federation.md, Verifying across hubs).
	keys.SetForeign(fed.ForeignKey)
	// Service items may name types other hubs hold; their certificates
	// are looked up there when the item is resolved.
	items.Remote = fed
	// The copies children pushed here are served to this hub's own
	// department systems under its agreements (docs/federation.md,
	// Serving the copies).
	copies := &federation.Copies{Store: store, Documents: docs, Service: fed}
	reg.Copies, items.Copies = copies, copies
	return &app{log: log, master: master, ledger: ledger, ledgerKey: lk, hubKey: hk, registry: reg, items: items, store: store, docs: docs,
		keys: keys, vault: vault, certs: svc, federation: fed, copies: copies, tracing: c.tracing}, nil
}

func (a *app) Close() { a.store.Close() }

// masterKey reads the configured key, or the one in the data directory.
// It generates one there only when it may create (serve, demo, init) and
// the store holds no hub yet: a new key for an existing hub could open
// none of its seal keys and find none of its holders, so that is refused,
// for serve too.
func (c *StoreConfig) masterKey(log *slog.Logger, mayCreate bool, marks hubMarks) (*signing.MasterKey, error) {
	if c.MasterKey != "" {
		return signing.ParseMasterKey(c.MasterKey)
	}
	path := filepath.Join(marks.dir, "master-key")
	b, err := os.ReadFile(path)
	if err == nil {
		return signing.ParseMasterKey(string(b))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("master key: %w", err)
	}
	switch {
	case !mayCreate:
		return nil, fmt.Errorf("no master key for the hub in %s: CERTHUB_MASTER_KEY is not set and %s does not exist; "+
			"give the hub's key with --master-key / CERTHUB_MASTER_KEY, or pass --data / CERTHUB_DATA with the directory that holds it", marks.where, path)
	case marks.exists:
		return nil, fmt.Errorf("the hub in %s has no master key here: CERTHUB_MASTER_KEY is not set and %s does not exist. "+
			"Restore the key from your backup, or give the one the other replicas use (CERTHUB_MASTER_KEY); "+
			"a new key would open none of the hub's seal keys", marks.where, path)
	}
	m, err := signing.GenerateMasterKey()
	if err != nil {
		return nil, err
	}
	if err := writeSecret(path, m.String()); err != nil {
		return nil, fmt.Errorf("write master key: %w", err)
	}
	log.Warn("generated a new master key; back it up, and give every replica the same one (CERTHUB_MASTER_KEY)", "path", path)
	return m, nil
}

// adminTokenHash returns the hash of the bootstrap admin token: the
// configured one, or the one in <data>/admin-token, generated on first start.
func adminTokenHash(data, configured string, log *slog.Logger) (string, error) {
	if configured != "" {
		return exchange.HashSecret(configured), nil
	}
	path := filepath.Join(data, "admin-token")
	b, err := os.ReadFile(path)
	if err == nil {
		return exchange.HashSecret(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("admin token: %w", err)
	}
	secret, hash := exchange.NewSecret()
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", fmt.Errorf("data directory %s: %w", data, err)
	}
	if err := writeSecret(path, secret); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	log.Warn("generated the bootstrap admin token", "path", path)
	fmt.Fprintf(os.Stderr, "certhub: admin token written to %s (mode 0600)\n", path)
	return hash, nil
}

// writeSecret creates a file readable only by its owner; it never
// overwrites one.
func writeSecret(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
