package sqlsource_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/sqlsource"
	"github.com/certhub/certhub/internal/testenv"
)

// suite runs the same checks against a PostgreSQL and a MariaDB source.
func suite(t *testing.T, driver, goDriver, dsn string) {
	db, err := sql.Open(goDriver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts := "timestamp"
	if driver == "mysql" {
		ts = "datetime(6)"
	}
	ph := func(n int) string {
		if driver == "postgres" {
			return fmt.Sprintf("$%d", n)
		}
		return "?"
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE licences (id integer PRIMARY KEY, name varchar(100) NOT NULL, issued date NOT NULL, status char(1) NOT NULL, updated_at ` + ts + ` NOT NULL)`)
	// 10 rows, four sharing each instant, so instants straddle batches of 3.
	for i := 1; i <= 10; i++ {
		mustExec(fmt.Sprintf("INSERT INTO licences VALUES (%s, %s, %s, %s, %s)", ph(1), ph(2), ph(3), ph(4), ph(5)),
			i, fmt.Sprint("licence ", i), "2024-03-01", "1", fmt.Sprintf("2026-01-01 00:00:%02d", i/4))
	}
	t.Setenv("SOURCE_DSN", dsn)
	settings := fmt.Sprintf(`{"driver": %q, "dsn_env": "SOURCE_DSN", "query": "SELECT id, name, issued, status, updated_at FROM licences", "timestamp": "updated_at", "key": "id"}`, driver)
	src, err := sqlsource.Kind{}.Open(context.Background(), json.RawMessage(settings))
	if err != nil {
		t.Fatal(err)
	}
	defer src.(interface{ Close() error }).Close()
	fresh := func() connectors.Source {
		t.Helper()
		s, err := sqlsource.Kind{}.Open(context.Background(), json.RawMessage(settings))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.(interface{ Close() error }).Close() })
		return s
	}
	read := func(cursor string) ([]string, string) {
		t.Helper()
		var got []string
		src := fresh() // a run opens its source anew
		for i := 0; i < 20; i++ {
			b, err := src.Fetch(context.Background(), cursor, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range b.Records {
				got = append(got, fmt.Sprint(r.Fields["id"], ":", r.Fields["name"], ":", r.Fields["issued"]))
			}
			cursor = b.Cursor
			if !b.More {
				return got, cursor
			}
		}
		t.Fatal("never ended")
		return nil, ""
	}
	if b, err := src.Fetch(context.Background(), "", 3); err != nil || b.Total != 10 || b.Latest.IsZero() {
		t.Fatalf("first batch: total %d, latest %v, %v; want the 10 rows left and a change time", b.Total, b.Latest, err)
	}
	got, cursor := read("")
	if len(got) != 10 || got[0] != "1:licence 1:2024-03-01" || got[9] != "10:licence 10:2024-03-01" {
		t.Fatalf("first read: %v", got)
	}
	// Nothing new: nothing read.
	if got, _ := read(cursor); len(got) != 0 {
		t.Fatalf("idle read: %v", got)
	}
	// Two updates, one of them at an instant already passed by the cursor
	// for another key, and a new row.
	mustExec(fmt.Sprintf("UPDATE licences SET name = 'renamed', updated_at = %s WHERE id = 3", ph(1)), "2026-01-01 00:00:05")
	mustExec(fmt.Sprintf("INSERT INTO licences VALUES (11, 'new', '2024-04-01', '1', %s)", ph(1)), "2026-01-01 00:00:05")
	got, _ = read(cursor)
	if fmt.Sprint(got) != "[3:renamed:2024-03-01 11:new:2024-04-01]" {
		t.Fatalf("incremental read: %v", got)
	}
}

func TestPostgresSource(t *testing.T) {
	suite(t, "postgres", "pgx", testenv.PostgresURL(t))
}

func TestMySQLSource(t *testing.T) {
	suite(t, "mysql", "mysql", testenv.MySQLDSN(t))
}

func TestSettingsValidation(t *testing.T) {
	problems := sqlsource.Kind{}.Validate(json.RawMessage(`{"driver": "oracle", "query": "DELETE FROM x; DROP TABLE y", "timestamp": "a b", "key": ""}`))
	got := map[string]bool{}
	for _, p := range problems {
		got[p.Field] = true
	}
	for _, want := range []string{"driver", "dsn_env", "query", "timestamp", "key"} {
		if !got[want] {
			t.Errorf("no problem at %s: %v", want, problems)
		}
	}
}
