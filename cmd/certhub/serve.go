package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/httpapi"
	"github.com/certhub/certhub/internal/licencefile"
	"github.com/certhub/certhub/internal/oidc"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/web"
	"github.com/certhub/certhub/signing"
)

// ServeCmd runs the hub.
type ServeCmd struct {
	StoreConfig
	Addr            string   `name:"addr" env:"CERTHUB_ADDR" default:"127.0.0.1:8080" help:"Listen address (host:port; port 0 picks a free one)."`
	AdminToken      string   `name:"admin-token" env:"CERTHUB_ADMIN_TOKEN" help:"Bootstrap admin bearer token; generated into <data>/admin-token if unset."`
	StatusCache     int      `name:"status-cache" env:"CERTHUB_STATUS_CACHE" default:"50000" help:"How many certificates' registry records verification keeps in memory (about 0.9 KB each), kept fresh by change notifications (0: read every one from the database)."`
	StatusIdle      string   `name:"status-cache-idle" env:"CERTHUB_STATUS_CACHE_IDLE" default:"5m" help:"How long a record stays in the status cache without being read (0: until the cache is full), so memory follows the certificates verified lately."`
	VerifyRate      int      `name:"verify-rate" env:"CERTHUB_VERIFY_RATE" default:"1200" help:"POST /api/v1/verify requests per minute per client IP (0 disables the limit)."`
	TrustedProxies  []string `name:"trusted-proxies" env:"CERTHUB_TRUSTED_PROXIES" help:"CIDRs of reverse proxies whose X-Forwarded-For is trusted (comma-separated)."`
	MaxActive       int      `name:"max-active" env:"CERTHUB_MAX_ACTIVE" default:"${max_active}" help:"How many API requests run at once; the rest wait their turn, in order, for up to 10 s, then are answered 503 (default: 16 per core, at least 32; 0: no limit)."`
	MaxBodyBytes    int64    `name:"max-body-bytes" env:"CERTHUB_MAX_BODY_BYTES" default:"1048576" help:"Largest accepted request body."`
	ShareRate       int      `name:"share-rate" env:"CERTHUB_SHARE_RATE" default:"600" help:"GET /s/<token> requests per minute per client IP (0 disables the limit)."`
	ConnectorLease  string   `name:"connector-lease" env:"CERTHUB_CONNECTOR_LEASE" default:"2m" help:"How long a connector run holds its lease without renewing it (a crashed run's connector is free after this)."`
	CheckpointEvery string   `name:"checkpoint-every" env:"CERTHUB_CHECKPOINT_EVERY" default:"1m" help:"How often to sign a checkpoint of the audit ledger when it has grown, and once more on shutdown (0: never; certhub audit checkpoint signs one)."`
	ScheduleEvery   string   `name:"schedule-every" env:"CERTHUB_SCHEDULE_EVERY" default:"15s" help:"How often to look for connectors that are due (0 turns scheduled runs off on this replica)."`
	FederationPush  string   `name:"federation-push-every" env:"CERTHUB_FEDERATION_PUSH_EVERY" default:"1s" help:"How often to push new events of the outbox to the parent hub (aggregation); at once again while catching up (0: never)."`
	FederationEvery string   `name:"federation-every" env:"CERTHUB_FEDERATION_EVERY" default:"1m" help:"How often to fetch the parent's and children's directories and re-sign this hub's, and to move a hub key rotation on (0: never; only for tests)."`
	HubKeyAfter     string   `name:"hub-key-activate-after" env:"CERTHUB_HUB_KEY_ACTIVATE_AFTER" default:"10m" help:"The least time a hub key published by certhub hub-key rotate waits before it is activated (relying parties cache the JWKS)."`
	OrphanEvery     string   `name:"orphan-sweep-every" env:"CERTHUB_ORPHAN_SWEEP_EVERY" default:"6h" help:"How often to delete objects no row references (left by a crash between an object's write and its row's commit); replicas take turns through a lease (0: never on this replica; certhub doctor orphans sweeps on demand)."`
	Pprof           bool     `name:"pprof" env:"CERTHUB_PPROF" help:"Serve the Go runtime's profiles at /debug/pprof/ to administrators (heap, goroutines, CPU), for finding where a replica's memory or CPU goes."`
	OrphanMinAge    string   `name:"orphan-min-age" env:"CERTHUB_ORPHAN_MIN_AGE" default:"24h" help:"Only objects older than this are swept (at least 1h)."`
	WebhookConfig
	OIDCConfig
}

// WebhookConfig tunes event delivery.
type WebhookConfig struct {
	WebhookEvery       string   `name:"webhook-every" env:"CERTHUB_WEBHOOK_EVERY" default:"2s" help:"How often to fan new events out and deliver due webhooks (0 turns delivery off on this replica)."`
	WebhookAllow       []string `name:"webhook-allow" env:"CERTHUB_WEBHOOK_ALLOW" help:"CIDRs webhooks may target although loopback or link-local (comma-separated; e.g. 127.0.0.0/8 for a receiver on this host)."`
	WebhookMaxAttempts int      `name:"webhook-max-attempts" env:"CERTHUB_WEBHOOK_MAX_ATTEMPTS" default:"12" help:"Attempts before a delivery is dead (kept in the delivery log, redeliverable)."`
	WebhookBackoff     string   `name:"webhook-backoff" env:"CERTHUB_WEBHOOK_BACKOFF" default:"5s" help:"First retry delay; doubled per attempt, at most an hour."`
	WebhookTimeout     string   `name:"webhook-timeout" env:"CERTHUB_WEBHOOK_TIMEOUT" default:"10s" help:"How long a receiver has to answer."`
	EventRetention     string   `name:"event-retention" env:"CERTHUB_EVENT_RETENTION" default:"720h" help:"How long events of the outbox and finished deliveries are kept; an event is kept longer while a webhook delivery or the push to the parent still needs it. Pruned at start and every 10 minutes."`
}

// webhooks builds the deliverer from the configuration.
func (c *WebhookConfig) webhooks(a *app, public string) (*exchange.Webhooks, time.Duration, error) {
	var allow []netip.Prefix
	for _, s := range c.WebhookAllow {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, 0, fmt.Errorf("--webhook-allow %q: %w", s, err)
		}
		allow = append(allow, p)
	}
	var d [4]time.Duration
	for i, v := range []struct{ name, val string }{{"webhook-every", c.WebhookEvery}, {"webhook-backoff", c.WebhookBackoff},
		{"webhook-timeout", c.WebhookTimeout}, {"event-retention", c.EventRetention}} {
		var err error
		if d[i], err = time.ParseDuration(v.val); err != nil {
			return nil, 0, fmt.Errorf("--%s: %w", v.name, err)
		}
	}
	host, _ := os.Hostname()
	return &exchange.Webhooks{Store: a.store, Registry: a.registry, Key: a.hubKey, Certs: a.certs, Log: a.log, Now: time.Now,
		Owner: fmt.Sprintf("%s-%d", host, os.Getpid()), Guard: &exchange.WebhookGuard{HubURL: public, Allow: allow},
		MaxAttempts: c.WebhookMaxAttempts, Backoff: d[1], Timeout: d[2], Retention: d[3]}, d[0], nil
}

// OIDCConfig connects holder (and clerk) sign-in to the identity provider.
type OIDCConfig struct {
	HolderOIDCIssuer       string `name:"holder-oidc-issuer" env:"CERTHUB_HOLDER_OIDC_ISSUER" help:"Identity provider's issuer URL (keys and endpoints by OIDC discovery)."`
	HolderOIDCJWKS         string `name:"holder-oidc-jwks" env:"CERTHUB_HOLDER_OIDC_JWKS" help:"JWKS URL or file of a provider without discovery."`
	HolderOIDCAudience     string `name:"holder-oidc-audience" env:"CERTHUB_HOLDER_OIDC_AUDIENCE" help:"Audience the provider's tokens must name (also the client id of the web sign-in)."`
	HolderOIDCIDClaim      string `name:"holder-oidc-id-claim" env:"CERTHUB_HOLDER_OIDC_ID_CLAIM" default:"id_number" help:"Claim carrying the holder's citizen ID number or USCC."`
	HolderOIDCClientID     string `name:"holder-oidc-client-id" env:"CERTHUB_HOLDER_OIDC_CLIENT_ID" help:"Client id of the web sign-in (default: the audience)."`
	HolderOIDCClientSecret string `name:"holder-oidc-client-secret" env:"CERTHUB_HOLDER_OIDC_CLIENT_SECRET" help:"Client secret of the web sign-in, if the provider wants one (PKCE is always used)."`
	HolderOIDCRoleClaim    string `name:"holder-oidc-role-claim" env:"CERTHUB_HOLDER_OIDC_ROLE_CLAIM" default:"roles" help:"Claim carrying roles."`
	HolderOIDCClerkRole    string `name:"holder-oidc-clerk-role" env:"CERTHUB_HOLDER_OIDC_CLERK_ROLE" default:"clerk" help:"Role that makes a signed-in person a window clerk."`
}

func (c *OIDCConfig) provider(ctx context.Context, publicURL string) (*oidc.Provider, error) {
	if c.HolderOIDCIssuer == "" && c.HolderOIDCJWKS == "" {
		return nil, nil
	}
	return oidc.New(ctx, oidc.Config{Issuer: c.HolderOIDCIssuer, JWKS: c.HolderOIDCJWKS, Audience: c.HolderOIDCAudience,
		IDClaim: c.HolderOIDCIDClaim, RoleClaim: c.HolderOIDCRoleClaim, ClerkRole: c.HolderOIDCClerkRole,
		ClientID: c.HolderOIDCClientID, ClientSecret: c.HolderOIDCClientSecret, RedirectURL: strings.TrimRight(publicURL, "/") + "/auth/callback"})
}

// Run starts the server and serves until SIGINT or SIGTERM.
func (c *ServeCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopTracing, err := c.startTracing(ctx)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: the spans of the shutdown too.
	defer stopTracing()
	a, err := c.open(ctx, createHub)
	if err != nil {
		return err
	}
	defer a.Close()
	return c.serve(ctx, a, nil)
}

func (c *ServeCmd) serve(ctx context.Context, a *app, demoHolders []web.DemoHolder) error {
	adminHash, err := adminTokenHash(c.Data, c.AdminToken, a.log)
	if err != nil {
		return err
	}
	// The seal CA: made at the first start, then every key without a seal
	// certificate (keys from before the CA) gets one. Idempotent, and safe
	// when replicas start together.
	createdCA, certified, err := a.keys.EnsureCA(ctx)
	if err != nil {
		return fmt.Errorf("seal CA: %w", err)
	}
	if createdCA {
		a.log.Info("created the seal CA (SM2 and P-256 roots); its keys are sealed under the master key")
	}
	if certified > 0 {
		a.log.Info("issued seal certificates to keys that had none", "keys", certified)
	}
	if c.DatabaseURL != "" {
		// What lookups read against shared_buffers: checked now, then
		// every 10 minutes, as a store grows without restarts.
		buffers := &postgres.BufferWatch{}
		check := func() { buffers.Check(ctx, a.store, a.log) }
		check()
		go everyUntil(ctx, 10*time.Minute, check)
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	public := c.PublicURL
	if public == "" {
		public = "http://" + ln.Addr().String()
	}
	// New documents reference the status lists under the public URL.
	a.certs.PublicURL = strings.TrimRight(public, "/")
	if c.StatusCache < 0 {
		ln.Close()
		return fmt.Errorf("--status-cache: %d is not a number of certificates", c.StatusCache)
	}
	if c.MaxActive < 0 {
		ln.Close()
		return fmt.Errorf("--max-active: %d is not a number of requests (0: no limit)", c.MaxActive)
	}
	idle, err := time.ParseDuration(c.StatusIdle)
	if err != nil || idle < 0 {
		ln.Close()
		return fmt.Errorf("--status-cache-idle: %q is not a duration such as 5m", c.StatusIdle)
	}
	if c.StatusCache > 0 {
		// Verification reads statuses from memory, dropped as soon as a
		// change is noted: this process's own at once, other replicas'
		// by PostgreSQL notifications, and any missed ones by reading the
		// outbox every quarter second (docs/operations.md).
		a.certs.Cache = certificates.NewStatusCache(c.StatusCache)
		a.certs.Cache.Idle = idle
		go a.certs.Cache.CatchUp(ctx, a.store, a.log)
		if c.DatabaseURL != "" {
			go postgres.ListenStatus(ctx, a.store, func(lin string) { a.certs.Cache.Changed(lin) }, a.certs.Cache.Reset, a.log)
		}
	}
	holders, err := c.provider(ctx, public)
	if err != nil {
		ln.Close()
		return err
	}
	shares := &exchange.Shares{Store: a.store, Certs: a.certs, Now: time.Now, Ledger: a.ledger}
	// One Maker for the API and the pages: its fonts load once.
	annotations := &exchange.Annotations{Store: a.store, Certs: a.certs, Now: time.Now}
	files := &licencefile.Maker{Certs: a.certs, PublicURL: public, Font: c.LicenceFont, Annotations: annotations}
	pages := &web.Server{Certs: a.certs, Shares: shares, Tokens: a.store, OIDC: holders, Box: signing.NewBox(a.master, "web session v1"),
		Log: a.log, Now: time.Now, PublicURL: public, ShareRatePerMinute: c.ShareRate, Demo: demoHolders,
		AdminTokenHash: adminHash, Registry: a.registry, Items: a.items, Files: files, Annotations: annotations, HubKey: a.hubKey}
	reg := prometheus.NewRegistry()
	// The runtime and process collectors (goroutines, heap, GC, RSS, file
	// descriptors) are what tells a leak or a stuck hub from a busy one.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cache := a.certs.Cache; cache != nil {
		const help = "Verification reads of registry records: answered from the status cache (hit) or the database (miss)."
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "certhub_status_cache_reads_total", Help: help, ConstLabels: prometheus.Labels{"result": "hit"}},
				func() float64 { h, _ := cache.Reads(); return float64(h) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "certhub_status_cache_reads_total", Help: help, ConstLabels: prometheus.Labels{"result": "miss"}},
				func() float64 { _, m := cache.Reads(); return float64(m) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "certhub_status_cache_records", Help: "Registry records the status cache keeps."},
				func() float64 { return float64(cache.Len()) }))
	}
	observeBatches(reg, a.store)
	orphanEvery, err := time.ParseDuration(c.OrphanEvery)
	if err != nil || orphanEvery < 0 {
		ln.Close()
		return fmt.Errorf("--orphan-sweep-every: %q is not a duration (0 turns the sweep off)", c.OrphanEvery)
	}
	orphanMinAge, err := parseOrphanAge("orphan-min-age", c.OrphanMinAge)
	if err != nil {
		ln.Close()
		return err
	}
	if orphanEvery > 0 {
		go runOrphanSweeps(ctx, a, orphanEvery, orphanMinAge, newOrphanMetrics(reg))
	}
	engine := a.engine()
	engine.OnRun = connectors.NewMetrics(reg).Observe
	if engine.LeaseFor, err = time.ParseDuration(c.ConnectorLease); err != nil {
		ln.Close()
		return fmt.Errorf("--connector-lease: %w", err)
	}
	hooks, hookEvery, err := c.webhooks(a, public)
	if err != nil {
		ln.Close()
		return err
	}
	hooks.OnAttempt = exchange.NewWebhookMetrics(reg).Observe
	api := &httpapi.Server{Certs: a.certs, Keys: a.keys, Tokens: a.registry.Tokens, Shares: shares, Holders: holders, PublicURL: public,
		Log: a.log, Now: time.Now, AdminTokenHash: adminHash, MaxBodyBytes: c.MaxBodyBytes, VerifyRatePerMinute: c.VerifyRate, MaxActive: c.MaxActive,
		TrustedProxies: c.TrustedProxies, Pages: pages, Connectors: engine, Registry: reg, Ledger: a.ledger,
		LedgerKey: a.ledgerKey.VerifierKey, Consumers: a.registry, Webhooks: hooks, Items: a.items,
		Files:        files,
		Annotations:  annotations,
		Federation:   a.federation,
		Copies:       a.copies,
		Tracing:      a.tracing,
		Pprof:        c.Pprof,
		AccessTokens: &exchange.AccessTokens{Registry: a.registry, Key: a.hubKey, Issuer: public, TokenURL: public + "/api/v1/oauth/token", Now: time.Now}}
	// The clerk page answers for licences of other hubs as the API does.
	pages.Elsewhere = api.VerifyElsewhere
	// The ledger's month partitions (PostgreSQL): this month's and the
	// next, made ahead of time, then checked hourly so that the next one
	// exists before its month begins. Until it does, entries go to the
	// default partition, never refused.
	ensurePartitions := func() {
		if err := a.ledger.EnsurePartitions(ctx); err != nil {
			a.log.Error("ledger partitions", "err", err)
		}
	}
	go func() { ensurePartitions(); everyUntil(ctx, time.Hour, ensurePartitions) }()
	ce, err := time.ParseDuration(c.CheckpointEvery)
	if err != nil {
		ln.Close()
		return fmt.Errorf("--checkpoint-every: %w", err)
	}
	if ce > 0 {
		go everyUntil(ctx, ce, func() {
			if _, err := a.ledger.Checkpoint(ctx); err != nil {
				a.log.Error("ledger checkpoint", "err", err)
			}
		})
	}
	every, err := time.ParseDuration(c.ScheduleEvery)
	if err != nil {
		ln.Close()
		return fmt.Errorf("--schedule-every: %w", err)
	}
	if every > 0 {
		go engine.Schedule(ctx, every)
	}
	if hookEvery > 0 {
		go hooks.Run(ctx, hookEvery)
	}
	fedEvery, err := time.ParseDuration(c.FederationEvery)
	if err != nil {
		ln.Close()
		return fmt.Errorf("--federation-every: %w", err)
	}
	if a.federation.ActivateAfter, err = time.ParseDuration(c.HubKeyAfter); err != nil || a.federation.ActivateAfter <= 0 {
		ln.Close()
		return fmt.Errorf("--hub-key-activate-after: %q is not a positive duration", c.HubKeyAfter)
	}
	if fedEvery > 0 {
		go a.federation.Run(ctx, fedEvery)
	}
	pushEvery, err := time.ParseDuration(c.FederationPush)
	if err != nil {
		ln.Close()
		return fmt.Errorf("--federation-push-every: %w", err)
	}
	if pushEvery > 0 {
		host, _ := os.Hostname()
		agg := &federation.Aggregator{Service: a.federation, Store: a.store, Certs: a.certs, Documents: a.docs,
			Owner: fmt.Sprintf("%s-%d", host, os.Getpid())}
		go agg.Run(ctx, pushEvery)
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	a.log.Info("listening", "addr", ln.Addr().String(), "url", public)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if ce > 0 {
		// The requests have answered, so their entries are durable: sign
		// the end of this run now rather than leave it to a timer that
		// will not fire again.
		if cp, cerr := a.ledger.Checkpoint(sctx); cerr != nil {
			a.log.Error("ledger checkpoint on shutdown", "err", cerr)
		} else {
			a.log.Info("ledger checkpoint on shutdown", "size", cp.Size)
		}
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// MigrateCmd applies migrations.
type MigrateCmd struct {
	StoreConfig
}

// Run opens the store, which applies pending migrations, and exits.
func (c *MigrateCmd) Run() error {
	a, err := c.open(context.Background())
	if err != nil {
		return err
	}
	a.Close()
	fmt.Println("migrations applied")
	return nil
}

// everyUntil calls fn every interval until ctx ends (not at once: a caller
// that wants a first call now makes it).
func everyUntil(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// observeBatches exports the store's group-committed write batches (the
// ledger, share views, resolution records): how long each took to become
// durable, and how many requests it carried. An audited request waits for
// one or two ledger batches before it answers.
func observeBatches(reg prometheus.Registerer, store *sqlstore.Store) {
	took := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "certhub_store_batch_seconds",
		Help:    "Group-committed write batches of the store, by queue: seconds from being taken off the queue to durable.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"queue"})
	size := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "certhub_store_batch_requests",
		Help:    "Group-committed write batches of the store, by queue: requests carried (ledger entries, share views, resolution records).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}}, []string{"queue"})
	reg.MustRegister(took, size)
	store.ObserveBatches(func(queue string, requests int, d time.Duration) {
		took.WithLabelValues(queue).Observe(d.Seconds())
		size.WithLabelValues(queue).Observe(float64(requests))
	})
}
