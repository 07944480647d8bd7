package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certhub/certhub/internal/sqlstore"
)

// StatusChannel is the channel the outbox's state changes are notified on
// (migration 0027): the payload is the certificate's lineage.
const StatusChannel = "certhub_status"

// ListenStatus receives the notifications of state changes on a connection
// of its own and calls changed with each lineage, until ctx ends. On every
// connection (the first, and each after a loss) it calls reset before
// listening: a notification sent while nobody listened is lost, so
// whatever was kept meanwhile is dropped.
func ListenStatus(ctx context.Context, s *sqlstore.Store, changed func(lineage string), reset func(), log *slog.Logger) {
	cfg := Pool(s).Config().ConnConfig.Copy()
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenOnce(ctx, cfg, changed, reset)
		if ctx.Err() != nil {
			return
		}
		reset()
		if log != nil {
			log.Warn("status notifications: listening again", "error", err.Error(), "in", wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func listenOnce(ctx context.Context, cfg *pgx.ConnConfig, changed func(string), reset func()) error {
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "LISTEN "+StatusChannel); err != nil {
		return err
	}
	reset()
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		changed(n.Payload)
	}
}
