package sqlsource

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/testenv"
)

// The read after a cursor deep in a large table starts at the cursor in
// the (timestamp, key) index, as a range, instead of walking the index
// from its start and filtering out every row read before: that made each
// batch of a long backfill slower than the one before. Half of the rows
// share one instant, as a stock loaded at once does.
func TestReadAfterCursorIsAnIndexRange(t *testing.T) {
	for _, tc := range []struct{ driver, goDriver, dsn, ts string }{
		{"postgres", "pgx", testenv.PostgresURL(t), "timestamptz"},
		{"mysql", "mysql", testenv.MySQLDSN(t), "datetime(6)"},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			db, err := sql.Open(tc.goDriver, tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			exec := func(q string) {
				t.Helper()
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec(`CREATE TABLE big_licences (id integer PRIMARY KEY, name varchar(40) NOT NULL, updated_at ` + tc.ts + ` NOT NULL)`)
			exec(`CREATE INDEX big_licences_changed ON big_licences (updated_at, id)`)
			const n = 20000
			for from := 1; from <= n; from += 1000 {
				var v []string
				for i := from; i < from+1000; i++ {
					v = append(v, fmt.Sprintf("(%d, 'licence %d', '2026-01-01 00:00:%02d')", i, i, i/(n/2)))
				}
				exec(`INSERT INTO big_licences VALUES ` + strings.Join(v, ","))
			}
			if tc.driver == "postgres" {
				exec(`ANALYZE big_licences`)
			} else {
				exec(`ANALYZE TABLE big_licences`)
			}
			t.Setenv("BIG_DSN", tc.dsn)
			k, err := Kind{}.Open(context.Background(), json.RawMessage(fmt.Sprintf(
				`{"driver": %q, "dsn_env": "BIG_DSN", "query": "SELECT id, name, updated_at FROM big_licences", "timestamp": "updated_at", "key": "id"}`, tc.driver)))
			if err != nil {
				t.Fatal(err)
			}
			src := k.(*source)
			defer src.Close()
			// The cursor: row 9,000, inside the first instant's 10,000 rows.
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			where, args := src.after(at, 9000)
			q := "SELECT * FROM (" + src.s.Query + ") src" + where + " ORDER BY updated_at, id LIMIT 100"

			var ids []int
			rows, err := db.Query(q, args...)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id int
				var name string
				var ts any
				if err := rows.Scan(&id, &name, &ts); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			if len(ids) != 100 || ids[0] != 9001 || ids[99] != 9100 {
				t.Fatalf("read after (instant 0, 9000): %d rows, %v…", len(ids), ids[:min(3, len(ids))])
			}

			if tc.driver == "postgres" {
				// The scan reads the 100 rows it returns and no row before them.
				plan := explainText(t, db, "EXPLAIN (ANALYZE) "+q, args...)
				if !strings.Contains(plan, "Index Cond: (ROW(updated_at, id) > ROW(") || strings.Contains(plan, "Rows Removed by Filter") {
					t.Fatalf("not an index range from the cursor:\n%s", plan)
				}
				return
			}
			// MySQL and MariaDB: a range on the index, bounded by the instant.
			plan := explainText(t, db, "EXPLAIN "+q, args...)
			if !strings.Contains(plan, "range") || !strings.Contains(plan, "big_licences_changed") {
				t.Fatalf("not an index range:\n%s", plan)
			}
		})
	}
}

// explainText is an EXPLAIN's rows, one line each, every column joined.
func explainText(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var line []string
		for _, v := range vals {
			line = append(line, v.String)
		}
		out = append(out, strings.Join(line, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "\n")
}
