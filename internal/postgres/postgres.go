// Package postgres is the production metadata store: PostgreSQL through pgx
// (pgxpool, pgx's own statement cache and types). Several hub replicas share
// one database; migrations take a session advisory lock so replicas starting
// together do not race.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"runtime"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database at url (a postgres:// URL or DSN), applies
// migrations, and returns the store.
func Open(ctx context.Context, url string, opts ...Option) (*sqlstore.Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	for _, o := range opts {
		o(cfg)
	}
	poolDefaults(cfg, url)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return sqlstore.New(&db{pool: pool}), nil
}

// poolDefaults are the hub's settings for a pool, where url does not say
// otherwise.
//   - pool_max_conns: pgx's default (the number of CPUs, at least 4)
//     starves a hub whose requests wait on the database far more than they
//     compute.
//   - jit=off: the hub's statements are short, and PostgreSQL compiles any
//     whose estimated cost passes jit_above_cost. A claim of webhook
//     deliveries that runs in 2 ms was estimated above it and spent 12 ms
//     compiling. "?jit=on" in the URL turns it back on.
func poolDefaults(cfg *pgxpool.Config, url string) {
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(16, 4*runtime.NumCPU()))
	}
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
}

// Migrate applies the embedded migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	sqldb := stdlib.OpenDBFromPool(pool)
	defer sqldb.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqldb, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres migrations: %w", err)
	}
	return nil
}

// translate maps pgx errors to errs codes.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &errs.Error{Code: errs.NotFound, Message: "not found", Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return &errs.Error{Code: errs.Conflict, Message: "already exists", Err: err}
		case "23503": // foreign_key_violation
			return &errs.Error{Code: errs.Conflict, Message: "refers to something that does not exist", Err: err}
		case "22012": // division_by_zero: how a statement refuses a stale precondition
			return &errs.Error{Code: errs.Conflict, Message: "a precondition no longer holds", Err: err}
		case "40001", "40P01": // serialization failure, deadlock
			return &errs.Error{Code: errs.Unavailable, Message: "concurrent update; retry", Err: err}
		case "57P01", "57P02", "57P03", "53300": // shutting down, crashed, starting up, too many connections
			return &errs.Error{Code: errs.Unavailable, Message: "PostgreSQL is not accepting work: " + pe.Message, Err: err}
		}
		if strings.HasPrefix(pe.Code, "08") { // connection exception
			return &errs.Error{Code: errs.Unavailable, Message: "PostgreSQL connection failed: " + pe.Message, Err: err}
		}
		return errs.Wrap(err, "postgres")
	}
	if unreachable(err) {
		return &errs.Error{Code: errs.Unavailable, Message: "PostgreSQL is unreachable", Err: err}
	}
	return errs.Wrap(err, "postgres")
}

// unreachable reports whether err is a failure to reach the server rather
// than a refusal by it: a failed connect, a connection that broke or was
// closed, a network error or a timeout. Those are the dependency's outage,
// answered 503 with Retry-After, never our 500.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded)
}

type pgq interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

type q struct{ c pgq }

func (q q) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, sql, args...)
	if err != nil {
		return 0, translate(err)
	}
	return tag.RowsAffected(), nil
}

func (q q) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return row{q.c.QueryRow(ctx, sql, args...)}
}

func (q q) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	if len(args) > 0 && args[0] == sqlstore.FreshPlan {
		// Plan this execution with its parameters: see sqlstore.FreshPlan.
		args[0] = pgx.QueryExecModeExec
	}
	r, err := q.c.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	return rows{r}, nil
}

// ArrayParams implements sqlstore.ArrayParams: pgx sends a []string as text[].
func (q) ArrayParams() {}

// ArrayParams implements sqlstore.ArrayParams.
func (*db) ArrayParams() {}

// LateralJoins implements sqlstore.LateralJoins.
func (q) LateralJoins() {}

// LateralJoins implements sqlstore.LateralJoins.
func (*db) LateralJoins() {}

// HashedTextIndexes implements sqlstore.HashedTextIndexes.
func (q) HashedTextIndexes() {}

// HashedTextIndexes implements sqlstore.HashedTextIndexes.
func (*db) HashedTextIndexes() {}

// CopyInto implements sqlstore.Copier with COPY … FROM STDIN.
func (q q) CopyInto(ctx context.Context, table string, columns []string, rows [][]any) error {
	c, ok := q.c.(interface {
		CopyFrom(context.Context, pgx.Identifier, []string, pgx.CopyFromSource) (int64, error)
	})
	if !ok {
		return fmt.Errorf("COPY is not available here")
	}
	_, err := c.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return translate(err)
}

// ExecBatch implements sqlstore.Batcher with pgx's pipeline.
func (q q) ExecBatch(ctx context.Context, stmts []sqlstore.Stmt) error {
	var b pgx.Batch
	for _, st := range stmts {
		b.Queue(st.SQL, st.Args...)
	}
	br := q.c.(interface {
		SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
	}).SendBatch(ctx, &b)
	for range stmts {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return translate(err)
		}
	}
	return translate(br.Close())
}

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error { return translate(r.r.Scan(dest...)) }

type rows struct{ r pgx.Rows }

func (r rows) Next() bool             { return r.r.Next() }
func (r rows) Scan(dest ...any) error { return translate(r.r.Scan(dest...)) }
func (r rows) Err() error             { return translate(r.r.Err()) }
func (r rows) Close()                 { r.r.Close() }

// db implements sqlstore.DB.
type db struct{ pool *pgxpool.Pool }

func (d *db) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	return q{d.pool}.Exec(ctx, sql, args...)
}

func (d *db) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return q{d.pool}.QueryRow(ctx, sql, args...)
}

func (d *db) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return q{d.pool}.Query(ctx, sql, args...)
}

// ExecBatch implements sqlstore.Batcher outside a transaction: the server
// runs the pipeline as one implicit transaction.
func (d *db) ExecBatch(ctx context.Context, stmts []sqlstore.Stmt) error {
	return q{d.pool}.ExecBatch(ctx, stmts)
}

func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback(ctx)
	if err := fn(q{tx}); err != nil {
		return err
	}
	return translate(tx.Commit(ctx))
}

func (d *db) Ping(ctx context.Context) error { return translate(d.pool.Ping(ctx)) }

func (d *db) Close() { d.pool.Close() }

// Pool returns the pgx pool of a store opened by Open, for bulk loaders.
func Pool(s *sqlstore.Store) *pgxpool.Pool { return s.DB().(*db).pool }
