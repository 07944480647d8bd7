// Package sqlsource is the "sql" connector kind: a department's database,
// PostgreSQL (pgx) or MySQL/MariaDB (go-sql-driver/mysql), read with the
// department's own SELECT in a read-only transaction. Rows are read in
// (change timestamp, key) order after the cursor's (timestamp, key), so rows
// sharing a timestamp across a batch boundary are neither skipped nor read
// twice, and a run that finds nothing new costs one indexed query.
package sqlsource

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/errs"
)

// Settings of a sql connector.
type Settings struct {
	Driver    string `json:"driver"`    // postgres or mysql
	DSNEnv    string `json:"dsn_env"`   // environment variable with the DSN
	DSNFile   string `json:"dsn_file"`  // or a file with it
	Query     string `json:"query"`     // SELECT …, used as a subquery
	Timestamp string `json:"timestamp"` // column with the change time: a timestamp, or Unix seconds or milliseconds
	Key       string `json:"key"`       // column with a unique key
}

var column = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func parse(raw json.RawMessage) (*Settings, []errs.FieldError) {
	var s Settings
	if problems := connectors.DecodeSettings(raw, &s); problems != nil {
		return nil, problems
	}
	var l errs.List
	switch s.Driver {
	case "postgres", "mysql":
	default:
		l.Add("driver", "must be postgres or mysql")
	}
	if s.DSNEnv == "" && s.DSNFile == "" {
		l.Add("dsn_env", "the connection string comes from dsn_env or dsn_file (never stored in certhub)")
	}
	q := strings.TrimSpace(s.Query)
	if !strings.HasPrefix(strings.ToUpper(q), "SELECT") || strings.Contains(q, ";") {
		l.Add("query", "must be one SELECT statement without a semicolon")
	}
	if !column.MatchString(s.Timestamp) {
		l.Add("timestamp", "must name the column with the change time")
	}
	if !column.MatchString(s.Key) {
		l.Add("key", "must name a unique key column")
	}
	return &s, l
}

// Kind is the sql connector kind.
type Kind struct {
	// Location is the zone of change times in columns without one
	// (PostgreSQL timestamp, MySQL DATETIME): the hub's civil time zone.
	// It only places them in time for the lag; the cursor compares them in
	// the source database as they are. nil means UTC.
	Location *time.Location
}

// Validate implements connectors.Kind.
func (Kind) Validate(raw json.RawMessage) []errs.FieldError {
	_, p := parse(raw)
	return p
}

// Open implements connectors.Kind.
func (k Kind) Open(ctx context.Context, raw json.RawMessage) (connectors.Source, error) {
	s, problems := parse(raw)
	if len(problems) > 0 {
		return nil, errs.E(errs.Invalid, "sql source: %s: %s", problems[0].Field, problems[0].Reason)
	}
	var dsn string
	if s.DSNEnv != "" {
		if dsn = os.Getenv(s.DSNEnv); dsn == "" {
			return nil, fmt.Errorf("environment variable %s is not set", s.DSNEnv)
		}
	} else {
		b, err := os.ReadFile(s.DSNFile)
		if err != nil {
			return nil, fmt.Errorf("dsn file: %w", err)
		}
		dsn = strings.TrimSpace(string(b))
	}
	driver := "pgx"
	if s.Driver == "mysql" {
		driver = "mysql"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open source database: %w", err)
	}
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("source database: %w", err)
	}
	loc := k.Location
	if loc == nil {
		loc = time.UTC
	}
	return &source{s: s, db: db, loc: loc}, nil
}

type source struct {
	s   *Settings
	db  *sql.DB
	loc *time.Location
	// total counts the rows after the cursor the run began at (one query,
	// on the first fetch), so a run can show an ETA.
	total int64
}

func (src *source) Close() error { return src.db.Close() }

// cursor is the (change time, key) of the last row read. The change time
// is TS for timestamp columns, N for columns of Unix seconds or
// milliseconds (compared as numbers by the database).
type cursor struct {
	TS  string      `json:"ts,omitempty"`  // RFC 3339 with nanoseconds, UTC
	N   json.Number `json:"n,omitempty"`   // epoch number, as the column holds it
	Key any         `json:"key,omitempty"` // string or number, as the column gives it
}

// after is the cursor's change time as a query parameter, nil at the start.
func (c cursor) after() (any, error) {
	switch {
	case c.TS != "":
		t, err := time.Parse(time.RFC3339Nano, c.TS)
		if err != nil {
			return nil, fmt.Errorf("cursor time %q: %w", c.TS, err)
		}
		return t, nil
	case c.N != "":
		if i, err := c.N.Int64(); err == nil {
			return i, nil
		}
		f, err := c.N.Float64()
		if err != nil {
			return nil, fmt.Errorf("cursor number %q: %w", c.N, err)
		}
		return f, nil
	}
	return nil, nil
}

func (src *source) ph(n int) string {
	if src.s.Driver == "postgres" {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// after is the WHERE clause that keeps the rows after the cursor's
// (timestamp, key), and its arguments; none for a first read. It must be
// an index range, not a filter: "ts > a OR (ts = a AND key > k)" is
// correct but no database turns it into one, so PostgreSQL walked the
// (ts, key) index from its start and dropped every row already read, and
// each batch of a long backfill cost more than the one before (290 ms at
// 900,000 rows). PostgreSQL compares row values in index order, so
// "(ts, key) > (a, k)" starts the scan at the cursor even when the whole
// stock shares one timestamp. MySQL and MariaDB do not use an index for a
// row comparison, so there "ts >= a" bounds the range and the rest filters
// only the rows at the cursor's instant.
func (src *source) after(at, key any) (string, []any) {
	if at == nil {
		return "", nil
	}
	ts, k := src.s.Timestamp, src.s.Key
	if src.s.Driver == "postgres" {
		return fmt.Sprintf(" WHERE (%s, %s) > (%s, %s)", ts, k, src.ph(1), src.ph(2)), []any{at, key}
	}
	return fmt.Sprintf(" WHERE %s >= %s AND (%s > %s OR %s > %s)", ts, src.ph(1), ts, src.ph(2), k, src.ph(3)), []any{at, at, key}
}

// Fetch implements connectors.Source.
func (src *source) Fetch(ctx context.Context, cur string, limit int) (*connectors.Batch, error) {
	var c cursor
	if cur != "" {
		dec := json.NewDecoder(strings.NewReader(cur))
		dec.UseNumber()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("cursor %q: %w", cur, err)
		}
		if n, ok := c.Key.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				c.Key = i
			}
		}
	}
	ts, key := src.s.Timestamp, src.s.Key
	after, err := c.after()
	if err != nil {
		return nil, err
	}
	where, args := src.after(after, c.Key)
	q := "SELECT * FROM (" + src.s.Query + ") src" + where + fmt.Sprintf(" ORDER BY %s, %s LIMIT %d", ts, key, limit)
	tx, err := src.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if src.total == 0 {
		count := "SELECT count(*) FROM (" + src.s.Query + ") src" + where
		if err := tx.QueryRowContext(ctx, count, args...).Scan(&src.total); err != nil {
			return nil, fmt.Errorf("count: %w", err)
		}
		if src.total == 0 {
			src.total = -1 // nothing to read: no ETA to give
		}
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if indexOf(cols, ts) < 0 || indexOf(cols, key) < 0 {
		return nil, fmt.Errorf("the query's result has no column %s or %s", ts, key)
	}
	zoneless := false
	if types, err := rows.ColumnTypes(); err == nil {
		switch strings.ToUpper(types[indexOf(cols, ts)].DatabaseTypeName()) {
		case "TIMESTAMP", "DATETIME": // PostgreSQL's timestamp without time zone, MySQL's DATETIME
			zoneless = true
		}
	}
	b := &connectors.Batch{Total: src.total, Cursor: cur}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		fields := map[string]any{}
		for i, name := range cols {
			fields[name] = plain(vals[i])
		}
		raw, _ := json.Marshal(fields)
		rec := connectors.Record{Fields: fields, Raw: raw}
		next, at, err := src.changeTime(vals[indexOf(cols, ts)], zoneless)
		if err != nil {
			v := fields[ts]
			if v == nil {
				v = null{}
			}
			return nil, &connectors.CursorError{Where: "the query's result", Index: len(b.Records) + 1, Record: rec, Field: ts, Value: v, Reason: err.Error()}
		}
		next.Key = fields[key]
		c, b.Latest = next, at
		b.Records = append(b.Records, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(b.Records) > 0 {
		cj, _ := json.Marshal(c)
		b.Cursor = string(cj)
	}
	b.More = len(b.Records) == limit
	return b, nil
}

// changeTime reads a row's change time: the cursor it gives and when it
// was. Timestamps are compared as the database holds them; a column of
// Unix seconds or milliseconds is compared as a number. Text is refused:
// the database would compare it as text, not as times.
func (src *source) changeTime(v any, zoneless bool) (cursor, time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		at := t
		if zoneless {
			// The driver labels a zoneless value UTC; it is the
			// department's wall clock.
			at = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), src.loc)
		}
		return cursor{TS: t.UTC().Format(time.RFC3339Nano)}, at, nil
	case int64, int32, float64:
		n := json.Number(fmt.Sprint(t))
		at, err := connectors.ChangeTime(n, src.loc)
		return cursor{N: n}, at, err
	case []byte, string: // a driver's text form of a number (MySQL's text protocol, NUMERIC)
		if s := fmt.Sprintf("%s", t); isDigits(s) {
			n := json.Number(s)
			at, err := connectors.ChangeTime(n, src.loc)
			return cursor{N: n}, at, err
		}
	case nil:
		return cursor{}, time.Time{}, fmt.Errorf("is NULL; every row needs a change time")
	}
	return cursor{}, time.Time{}, fmt.Errorf("is not a timestamp or a number of Unix seconds or milliseconds " +
		"(make the column a timestamp, or CAST it in the query; MySQL DSNs need parseTime=true)")
}

// null shows a NULL column in messages.
type null struct{}

func (null) String() string { return "NULL" }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func indexOf(cols []string, name string) int {
	for i, c := range cols {
		if c == name {
			return i
		}
	}
	return -1
}

// plain turns driver values into what the mapping reads.
func plain(v any) any {
	switch t := v.(type) {
	case []byte:
		return string(t)
	case time.Time:
		if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
			return t.Format("2006-01-02")
		}
		return t.UTC().Format(time.RFC3339Nano)
	case int64:
		return json.Number(fmt.Sprint(t))
	case float64:
		return json.Number(fmt.Sprint(t))
	}
	return v
}
