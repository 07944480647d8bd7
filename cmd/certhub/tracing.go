package main

import (
	"context"
	"os"
	"time"

	"github.com/certhub/certhub/internal/tracing"
)

// startTracing turns tracing on when the OTEL_* variables ask for it
// (docs/operations.md, "Tracing"; the rule is tracing.Enabled). The stores
// opened afterwards by c.open and the HTTP handler of serve use the
// provider; nil means off. stop flushes the spans not yet exported; call it
// after the hub has stopped.
func (c *StoreConfig) startTracing(ctx context.Context) (stop func(), err error) {
	tp, shutdown, err := tracing.Setup(ctx, os.Getenv, buildVersion())
	if err != nil {
		return func() {}, err
	}
	c.tracing = tp
	if tp != nil {
		c.logger().Info("tracing on: spans are exported by OTLP", "version", buildVersion())
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			c.logger().Warn("tracing: spans not exported on shutdown", "err", err)
		}
	}, nil
}
