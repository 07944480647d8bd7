package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/certhub/certhub/internal/httpapi"
)

// ServeCmd runs the hub.
type ServeCmd struct {
	StoreConfig
	Addr           string   `name:"addr" env:"CERTHUB_ADDR" default:"127.0.0.1:8080" help:"Listen address (host:port; port 0 picks a free one)."`
	AdminToken     string   `name:"admin-token" env:"CERTHUB_ADMIN_TOKEN" help:"Bootstrap admin bearer token; generated into <data>/admin-token if unset."`
	VerifyRate     int      `name:"verify-rate" env:"CERTHUB_VERIFY_RATE" default:"1200" help:"POST /api/v1/verify requests per minute per client IP (0 disables the limit)."`
	TrustedProxies []string `name:"trusted-proxies" env:"CERTHUB_TRUSTED_PROXIES" help:"CIDRs of reverse proxies whose X-Forwarded-For is trusted (comma-separated)."`
	MaxBodyBytes   int64    `name:"max-body-bytes" env:"CERTHUB_MAX_BODY_BYTES" default:"1048576" help:"Largest accepted request body."`
}

// Run starts the server and serves until SIGINT or SIGTERM.
func (c *ServeCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	return c.serve(ctx, a)
}

func (c *ServeCmd) serve(ctx context.Context, a *app) error {
	adminHash, err := adminTokenHash(c.Data, c.AdminToken, a.log)
	if err != nil {
		return err
	}
	api := &httpapi.Server{Certs: a.certs, Keys: a.keys, Tokens: a.store, Log: a.log, Now: time.Now,
		AdminTokenHash: adminHash, MaxBodyBytes: c.MaxBodyBytes, VerifyRatePerMinute: c.VerifyRate, TrustedProxies: c.TrustedProxies}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	a.log.Info("listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String())
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
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
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
