package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/s3store"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/signing"
)

// StoreConfig says where the hub keeps its data. With no database URL and no
// S3 endpoint it is the embedded default: <data>/certhub.db (SQLite) and
// <data>/documents (local directory).
type StoreConfig struct {
	Data        string `name:"data" env:"CERTHUB_DATA" default:"./certhub-data" help:"Data directory: SQLite file, documents, generated master key and admin token."`
	DatabaseURL string `name:"database-url" env:"CERTHUB_DATABASE_URL" help:"PostgreSQL URL (postgres://…); empty uses SQLite in the data directory."`
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

// open wires stores, keys and services from the configuration.
func (c *StoreConfig) open(ctx context.Context) (*app, error) {
	log := c.logger()
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", c.Data, err)
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", c.TimeZone, err)
	}
	master, err := c.masterKey(log)
	if err != nil {
		return nil, err
	}
	var store *sqlstore.Store
	if c.DatabaseURL != "" {
		store, err = postgres.Open(ctx, c.DatabaseURL)
		log.Info("metadata store", "kind", "postgresql")
	} else {
		path := filepath.Join(c.Data, "certhub.db")
		store, err = sqlite.Open(ctx, path)
		log.Info("metadata store", "kind", "sqlite", "path", path)
	}
	if err != nil {
		return nil, err
	}
	var docs certificates.DocumentStore
	if c.S3Endpoint != "" {
		docs, err = s3store.Open(ctx, s3store.Config{Endpoint: c.S3Endpoint, Bucket: c.S3Bucket, AccessKey: c.S3AccessKey,
			SecretKey: c.S3SecretKey, Region: c.S3Region, UseSSL: c.S3UseSSL})
		log.Info("document store", "kind", "s3", "endpoint", c.S3Endpoint, "bucket", c.S3Bucket)
	} else {
		dir := filepath.Join(c.Data, "documents")
		docs, err = filestore.Open(dir)
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
	svc := &certificates.Service{Store: store, Documents: docs, Keys: keys, Vault: vault, Now: time.Now, Location: loc, Log: log}
	lk, err := signing.NewLedgerKey(master, c.LedgerName)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("ledger key: %w", err)
	}
	hk, err := signing.NewHubKey(master)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("hub key: %w", err)
	}
	ledger := &exchange.Ledger{Store: store, Key: exchange.Keys{Signer: lk.Signer, Verifier: lk.Verifier}, Origin: c.LedgerName, Now: time.Now, Location: loc}
	reg := &exchange.Registry{Store: store, Tokens: store, Certs: svc, Ledger: ledger, Now: time.Now}
	items := &exchange.Resolver{Store: store, Registry: reg, Certs: svc, Ledger: ledger, Now: time.Now}
	return &app{log: log, master: master, ledger: ledger, ledgerKey: lk, hubKey: hk, registry: reg, items: items, store: store, docs: docs,
		keys: keys, vault: vault, certs: svc}, nil
}

func (a *app) Close() { a.store.Close() }

// masterKey reads the configured key, or the one in the data directory,
// generating it there on first start.
func (c *StoreConfig) masterKey(log *slog.Logger) (*signing.MasterKey, error) {
	if c.MasterKey != "" {
		return signing.ParseMasterKey(c.MasterKey)
	}
	path := filepath.Join(c.Data, "master-key")
	b, err := os.ReadFile(path)
	if err == nil {
		return signing.ParseMasterKey(string(b))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("master key: %w", err)
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
