package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

// Querier runs statements, inside or outside a transaction. Exec and Scan
// return *errs.Error for no rows (errs.NotFound) and unique violations
// (errs.Conflict).
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
}

// Stmt is one statement of a batch.
type Stmt struct {
	SQL  string
	Args []any
}

// Batcher is a Querier that can send many statements in one round trip
// (pgx's pipeline). Adapters whose database is in process need not.
type Batcher interface {
	ExecBatch(ctx context.Context, stmts []Stmt) error
}

// FreshPlan, as a query's first argument, asks the adapter to plan that
// execution with its parameters rather than reuse a cached generic plan.
// PostgreSQL settles on a generic plan after a few executions of a
// prepared statement; for a table that grows from empty during a run
// (certificate origins in a backfill), the plan chosen while it was small
// went on scanning it whole as it grew.
var FreshPlan = freshPlan{}

type freshPlan struct{}

// Copier is a Querier that can stream rows into a table (PostgreSQL's
// COPY): no statement per row and no planning.
type Copier interface {
	CopyInto(ctx context.Context, table string, columns []string, rows [][]any) error
}

// ArrayParams is a Querier whose database takes a Go slice as one array
// parameter (PostgreSQL: unnest($2::text[])). Others get IN lists.
type ArrayParams interface{ ArrayParams() }

// LateralJoins is a Querier whose database runs a subquery per row of the
// tables before it (PostgreSQL's CROSS JOIN LATERAL), so a LIMIT can apply
// per row. SQLite has no LATERAL.
type LateralJoins interface{ LateralJoins() }

// HashedTextIndexes is a Querier whose database indexes a long text key
// by a 64-bit hash of it (PostgreSQL's hashtextextended; migrations 0032
// and 0033: the ledger's and the certificates' holder indexes). A query
// names the hash to use that index, and the key itself to keep only exact
// matches (keyEquals).
type HashedTextIndexes interface{ HashedTextIndexes() }

// keyEquals is the condition that column, a long text key, equals param:
// where q's database indexes such keys by a 64-bit hash of them
// (HashedTextIndexes) it names the hash, for the index, and the key, so
// that keys sharing a hash do not match each other.
func keyEquals(q Querier, column, param string) string {
	if _, ok := q.(HashedTextIndexes); ok {
		return "hashtextextended(" + column + ", 0) = hashtextextended(" + param + ", 0) AND " + column + " = " + param
	}
	return column + " = " + param
}

// Row is one result row.
type Row interface{ Scan(dest ...any) error }

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// DB is a connection pool.
type DB interface {
	Querier
	// InTx runs fn in a read-write transaction and commits if fn returns
	// nil; otherwise it rolls back and returns fn's error.
	InTx(ctx context.Context, fn func(q Querier) error) error
	Ping(ctx context.Context) error
	Close()
}

// Store implements the domain stores over a DB.
type Store struct {
	db DB
	// replica takes the reads that may be a moment behind (replica.go).
	replica Replica

	// Group-committed writers (see UseShare, AppendAudit), started on
	// first use and stopped by Close.
	views *groupCommit[viewReq, *exchange.Share]
	audit *groupCommit[ledgerReq, struct{}]
	// resolutions are the service-item resolves' case records.
	resolutions *groupCommit[*exchange.Resolution, struct{}]
	quit        chan struct{}
	closeOnce   sync.Once
	// observer is told of each of those writers' batches (ObserveBatches).
	observer atomic.Pointer[BatchObserver]

	// copies is whether any copy of another hub's certificate is kept
	// here (copies.go).
	copies copiesKept

	// fannedOut counts the deliveries this process added since it last
	// analyzed the deliveries table (see Fanout).
	fannedOut atomic.Int64
}

// New returns a store over db.
func New(db DB) *Store {
	s := &Store{db: db, quit: make(chan struct{})}
	s.views = &groupCommit[viewReq, *exchange.Share]{db: db, max: 256, apply: applyViews, observe: s.observed(QueueShareViews)}
	s.audit = &groupCommit[ledgerReq, struct{}]{db: db, max: 512, apply: applyAudit, observe: s.observed(QueueLedger)}
	b, pipelines := db.(Batcher)
	s.resolutions = &groupCommit[*exchange.Resolution, struct{}]{db: db, max: 256, apply: applyResolutions, direct: pipelines,
		observe: s.observed(QueueResolutions)}
	if pipelines {
		p := &pipelinedLedger{db: db, batch: b, depth: 1, max: 512, observe: s.audit.observe}
		s.audit.run = p.run
	}
	return s
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close stops the share-view writer and closes the pool.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		close(s.quit)
		if s.replica != nil {
			s.replica.Close()
		}
		s.db.Close()
	})
}

// DB returns the pool, for adapters' own tools (bulk loaders, tests).
func (s *Store) DB() DB { return s.db }

// Time is how timestamps cross the adapter boundary: the value is a UTC
// time.Time; adapters whose database has no timestamp type store it as
// fixed-width RFC 3339 text (which sorts like the time). Scan accepts both.
type Time struct{ T *time.Time }

// TimeLayout is the fixed-width text form of a timestamp.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Scan reads a timestamp column.
func (t Time) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*t.T = v.UTC()
	case string:
		p, err := time.Parse(TimeLayout, v)
		if err != nil {
			if p, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return fmt.Errorf("timestamp %q: %w", v, err)
			}
		}
		*t.T = p.UTC()
	case []byte:
		return t.Scan(string(v))
	case nil:
		*t.T = time.Time{}
	default:
		return fmt.Errorf("cannot scan %T into a timestamp", src)
	}
	return nil
}

// NullTime reads a nullable timestamp into a *time.Time.
type NullTime struct{ T **time.Time }

// Scan reads a nullable timestamp column.
func (n NullTime) Scan(src any) error {
	if src == nil {
		*n.T = nil
		return nil
	}
	var v time.Time
	if err := (Time{&v}).Scan(src); err != nil {
		return err
	}
	*n.T = &v
	return nil
}

// notFound turns errs.NotFound from a scan into a message naming the thing.
func notFound(err error, format string, args ...any) error {
	if errs.Is(err, errs.NotFound) {
		return errs.E(errs.NotFound, format, args...)
	}
	return err
}

// conflict turns errs.Conflict from an insert into a message naming the thing.
func conflict(err error, format string, args ...any) error {
	if errs.Is(err, errs.Conflict) {
		return errs.E(errs.Conflict, format, args...)
	}
	return err
}
