// Command sourcegen fills a department-style PostgreSQL table with N
// realistic food business licence rows (valid USCCs), with COPY, for the
// connector backfill benchmark (docs/benchmarks.md).
//
//	go run ./bench/sourcegen -url "$CERTHUB_TEST_DATABASE_URL" -schema dept -n 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certhub/certhub/certificates"
)

func main() {
	url := flag.String("url", "", "PostgreSQL URL")
	schema := flag.String("schema", "dept", "schema to (re)create with a licences table")
	n := flag.Int("n", 100000, "rows")
	flag.Parse()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, *url)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		"DROP SCHEMA IF EXISTS " + *schema + " CASCADE",
		"CREATE SCHEMA " + *schema,
		`CREATE TABLE ` + *schema + `.licences (lic_no text PRIMARY KEY, uscc text NOT NULL, name text NOT NULL, legal_rep text NOT NULL,
			biz_type text NOT NULL, addr text NOT NULL, issued date NOT NULL, expires date NOT NULL, state text NOT NULL, updated_at timestamptz NOT NULL)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			log.Fatal(err)
		}
	}
	start := time.Now()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i >= *n {
			return nil, nil
		}
		i++
		first := fmt.Sprintf("91330%03dMA%07d", 100+i%8, i)
		issued := base.AddDate(0, 0, i%700)
		return []any{fmt.Sprintf("JY1330102%08d", i), first + string(certificates.USCCCheck(first)), fmt.Sprintf("杭州第%d号餐饮有限公司", i),
			"王伟", fmt.Sprintf("%02d", 1+i%2), fmt.Sprintf("浙江省杭州市上城区延安路%d号", i%999+1), issued, issued.AddDate(5, 0, -1),
			"1", base.Add(time.Duration(i/3) * time.Second)}, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{*schema, "licences"}, []string{"lic_no", "uscc", "name", "legal_rep", "biz_type", "addr",
		"issued", "expires", "state", "updated_at"}, src); err != nil {
		log.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE INDEX ON "+*schema+".licences (updated_at, lic_no)"); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d rows in %s.licences in %s\n", *n, *schema, time.Since(start).Round(time.Millisecond))
}
