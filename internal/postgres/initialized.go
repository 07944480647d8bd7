package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Initialized reports whether the database at url already holds a hub
// (certhub's tables are there, in the URL's search_path), without changing
// anything: console commands refuse to run against a database no hub was
// started on, rather than create one.
func Initialized(ctx context.Context, url string) (bool, error) {
	cfg, err := pgxpool.ParseConfig(url) // accepts the pool_* settings Open does
	if err != nil {
		return false, fmt.Errorf("database URL: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return false, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	err = conn.QueryRow(ctx, `SELECT to_regclass('certificates') IS NOT NULL AND to_regclass('seal_keys') IS NOT NULL`).Scan(&ok)
	if err != nil {
		return false, translate(err)
	}
	return ok, nil
}
