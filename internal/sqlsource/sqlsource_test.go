package sqlsource_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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

// epochSuite: a change time kept as Unix milliseconds (common in Java
// systems) is a cursor too, compared as a number by the database; a row
// whose change time is NULL or text fails the fetch naming the row and
// the value, rather than read on with a cursor that cannot move.
func epochSuite(t *testing.T, driver, goDriver, dsn string) {
	db, err := sql.Open(goDriver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE java_licences (id integer PRIMARY KEY, name varchar(100) NOT NULL, gmt_modified bigint, note varchar(40))`)
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	for i := 1; i <= 5; i++ {
		mustExec(fmt.Sprintf("INSERT INTO java_licences VALUES (%d, 'licence %d', %d, '2026-03-01 09:00:0%d')", i, i, base.Add(time.Duration(i/2)*time.Second).UnixMilli(), i))
	}
	t.Setenv("EPOCH_DSN", dsn)
	open := func(ts string) connectors.Source {
		t.Helper()
		src, err := sqlsource.Kind{}.Open(context.Background(), json.RawMessage(fmt.Sprintf(
			`{"driver": %q, "dsn_env": "EPOCH_DSN", "query": "SELECT id, name, gmt_modified, note FROM java_licences", "timestamp": %q, "key": "id"}`, driver, ts)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.(interface{ Close() error }).Close() })
		return src
	}
	read := func(cursor string) ([]string, string) {
		t.Helper()
		src := open("gmt_modified")
		var got []string
		for i := 0; i < 20; i++ {
			b, err := src.Fetch(context.Background(), cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(b.Records); n > 0 && fmt.Sprint(b.Latest.UnixMilli()) != fmt.Sprint(b.Records[n-1].Fields["gmt_modified"]) {
				t.Fatalf("latest %v, last record %v", b.Latest, b.Records[n-1].Fields)
			}
			for _, r := range b.Records {
				got = append(got, fmt.Sprint(r.Fields["id"]))
			}
			cursor = b.Cursor
			if !b.More {
				return got, cursor
			}
		}
		t.Fatal("never ended")
		return nil, ""
	}
	got, cursor := read("")
	if fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Fatalf("first read: %v", got)
	}
	if got, _ := read(cursor); len(got) != 0 {
		t.Fatalf("idle read: %v (cursor %s)", got, cursor)
	}
	mustExec(fmt.Sprintf("UPDATE java_licences SET name = 'renamed', gmt_modified = %d WHERE id = 1", base.Add(time.Minute).UnixMilli()))
	if got, _ := read(cursor); fmt.Sprint(got) != "[1]" {
		t.Fatalf("incremental read: %v", got)
	}
	// A text column is compared as text by the database: refused, naming the row.
	_, err = open("note").Fetch(context.Background(), "", 10)
	if err == nil || !strings.Contains(err.Error(), "record 1") || !strings.Contains(err.Error(), `"2026-03-01 09:00:01"`) {
		t.Fatalf("text change time: %v", err)
	}
	mustExec("UPDATE java_licences SET gmt_modified = NULL WHERE id = 4")
	_, err = open("gmt_modified").Fetch(context.Background(), "", 10)
	var ce *connectors.CursorError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "gmt_modified = NULL") || fmt.Sprint(ce.Record.Fields["id"]) != "4" {
		t.Fatalf("NULL change time: %v", err)
	}
}

func TestPostgresEpochSource(t *testing.T) {
	epochSuite(t, "postgres", "pgx", testenv.PostgresURL(t))
}

func TestMySQLEpochSource(t *testing.T) {
	epochSuite(t, "mysql", "mysql", testenv.MySQLDSN(t))
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
