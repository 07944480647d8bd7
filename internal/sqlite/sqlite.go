// Package sqlite is the embedded default's metadata store: a SQLite file
// (modernc.org/sqlite, pure Go, no cgo) in WAL mode with full fsync, so a
// committed issuance survives a crash or power loss.
//
// SQLite has one writer at a time. Writes go through a pool of one
// connection whose transactions start IMMEDIATE (they take the write lock at
// BEGIN, so two writers never deadlock on upgrade); reads go through their
// own pool and run concurrently with the writer, as WAL allows.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"go.opentelemetry.io/otel/trace"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/tracing"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens (creating if needed) the database file at path, applies
// migrations, and returns the store.
func Open(ctx context.Context, path string, opts ...Option) (*sqlstore.Store, error) {
	db, err := open(path)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(db)
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return sqlstore.New(db), nil
}

// Option changes how Open opens the database.
type Option func(*db)

// Traced makes every statement a span of tp (nil: tracing off). Statements
// are traced here, where both pools and transactions meet, since
// database/sql has no tracer hook of its own.
func Traced(tp trace.TracerProvider) Option {
	return func(d *db) {
		if tp != nil {
			d.t = tp.Tracer(tracing.ScopeName)
		}
	}
}

func dsn(path string, writer bool) string {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	if writer {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// db implements sqlstore.DB.
type db struct {
	w, r *sql.DB
	// t traces statements; nil when tracing is off (see Traced).
	t trace.Tracer
}

func open(path string) (*db, error) {
	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, err
	}
	n := 2 * runtime.GOMAXPROCS(0)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &db{w: w, r: r}, nil
}

func (d *db) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, d.w, sub)
	if err != nil {
		return fmt.Errorf("sqlite migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite migrations: %w", err)
	}
	return nil
}

// rebind turns $N placeholders into SQLite's ?N.
func rebind(q string) string { return strings.ReplaceAll(q, "$", "?") }

// args converts values SQLite has no type for: timestamps become sortable
// fixed-width UTC text.
func args(in []any) []any {
	if len(in) > 0 && in[0] == sqlstore.FreshPlan {
		in = in[1:] // SQLite plans every statement anyway
	}
	for i, a := range in {
		switch v := a.(type) {
		case time.Time:
			in[i] = v.UTC().Format(sqlstore.TimeLayout)
		case *time.Time:
			if v == nil {
				in[i] = nil
			} else {
				in[i] = v.UTC().Format(sqlstore.TimeLayout)
			}
		case certificates.Date:
			if v.IsZero() {
				in[i] = nil
			} else {
				in[i] = v.String()
			}
		}
	}
	return in
}

// translate maps driver errors to errs codes.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &errs.Error{Code: errs.NotFound, Message: "not found", Err: err}
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &errs.Error{Code: errs.Conflict, Message: "already exists", Err: err}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &errs.Error{Code: errs.Conflict, Message: "refers to something that does not exist", Err: err}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &errs.Error{Code: errs.Unavailable, Message: "database is busy", Err: err}
		}
	}
	return errs.Wrap(err, "sqlite")
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type q struct {
	d querier
	t trace.Tracer
}

func (q q) Exec(ctx context.Context, query string, a ...any) (int64, error) {
	if q.t != nil {
		var span trace.Span
		ctx, span = tracing.StartQuery(ctx, q.t, tracing.SQLite, query)
		n, err := q.exec(ctx, query, a)
		tracing.End(span, err)
		return n, err
	}
	return q.exec(ctx, query, a)
}

func (q q) exec(ctx context.Context, query string, a []any) (int64, error) {
	res, err := q.d.ExecContext(ctx, rebind(query), args(a)...)
	if err != nil {
		return 0, translate(err)
	}
	return res.RowsAffected()
}

// QueryRow's span ends when the row is scanned: database/sql reports the
// statement's error only then.
func (q q) QueryRow(ctx context.Context, query string, a ...any) sqlstore.Row {
	if q.t != nil {
		ctx, span := tracing.StartQuery(ctx, q.t, tracing.SQLite, query)
		return tracedRow{row{q.d.QueryRowContext(ctx, rebind(query), args(a)...)}, span}
	}
	return row{q.d.QueryRowContext(ctx, rebind(query), args(a)...)}
}

// Query's span covers running the statement, not reading its rows.
func (q q) Query(ctx context.Context, query string, a ...any) (sqlstore.Rows, error) {
	var span trace.Span
	if q.t != nil {
		ctx, span = tracing.StartQuery(ctx, q.t, tracing.SQLite, query)
	}
	r, err := q.d.QueryContext(ctx, rebind(query), args(a)...)
	if err != nil {
		err = translate(err)
	}
	if span != nil {
		tracing.End(span, err)
	}
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

// row is one pointer, so returning it as a sqlstore.Row allocates
// nothing; tracedRow, which does, is used only when tracing is on.
type row struct{ r *sql.Row }

func (r row) Scan(dest ...any) error { return translate(r.r.Scan(dest...)) }

type tracedRow struct {
	row
	span trace.Span
}

func (r tracedRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	tracing.End(r.span, err)
	return err
}

type rows struct{ r *sql.Rows }

func (r rows) Next() bool             { return r.r.Next() }
func (r rows) Scan(dest ...any) error { return translate(r.r.Scan(dest...)) }
func (r rows) Err() error             { return translate(r.r.Err()) }
func (r rows) Close()                 { r.r.Close() }

// Exec writes through the writer. A statement that writes (INSERT …
// RETURNING) goes through QueryRow, which therefore also uses the writer
// when the statement is not a SELECT.
func (d *db) Exec(ctx context.Context, query string, a ...any) (int64, error) {
	return q{d.w, d.t}.Exec(ctx, query, a...)
}

func (d *db) pick(query string) *sql.DB {
	if strings.HasPrefix(strings.TrimSpace(query), "SELECT") {
		return d.r
	}
	return d.w
}

func (d *db) QueryRow(ctx context.Context, query string, a ...any) sqlstore.Row {
	return q{d.pick(query), d.t}.QueryRow(ctx, query, a...)
}

func (d *db) Query(ctx context.Context, query string, a ...any) (sqlstore.Rows, error) {
	return q{d.pick(query), d.t}.Query(ctx, query, a...)
}

func (d *db) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	if err := fn(q{tx, d.t}); err != nil {
		return err
	}
	return translate(tx.Commit())
}

func (d *db) Ping(ctx context.Context) error {
	var one int
	return translate(d.r.QueryRowContext(ctx, "SELECT 1").Scan(&one))
}

func (d *db) Close() {
	d.r.Close()
	d.w.Close()
}
