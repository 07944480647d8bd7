// Command ledgergen appends N realistic audit entries to a hub's ledger
// through the real, group-committed append path (64 writers at once), then
// signs a checkpoint, for the ledger verification benchmark
// (docs/benchmarks.md). It reads the store settings like certhub does.
//
//	go run ./bench/ledgergen -data /tmp/ledger -n 1000000   # SQLite
//	go run ./bench/ledgergen -db "$URL" -data /tmp/ledger -n 1000000
//
// With -months M the entries are dated evenly over the M months before the
// current one (UTC), their partitions made as a hub running then would, so
// that `certhub audit archive --before <this month>` has M closed months
// to archive.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/signing"
)

func main() {
	data := flag.String("data", "./ledger-bench", "data directory (master key; SQLite file unless -db)")
	db := flag.String("db", "", "PostgreSQL URL")
	n := flag.Int("n", 100000, "entries")
	name := flag.String("name", "certhub/ledger", "ledger name (certhub's --ledger-name)")
	months := flag.Int("months", 0, "date the entries over this many months before the current one (0: now)")
	flag.Parse()
	ctx := context.Background()
	if err := os.MkdirAll(*data, 0o700); err != nil {
		log.Fatal(err)
	}
	master, err := signing.GenerateMasterKey()
	if err != nil {
		log.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(*data, "master-key")); err == nil {
		master, err = signing.ParseMasterKey(string(b))
		if err != nil {
			log.Fatal(err)
		}
	} else if err := os.WriteFile(filepath.Join(*data, "master-key"), []byte(master.String()+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	var store *sqlstore.Store
	if *db != "" {
		store, err = postgres.Open(ctx, *db)
	} else {
		store, err = sqlite.Open(ctx, filepath.Join(*data, "certhub.db"))
	}
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	key, err := signing.NewLedgerKey(master, *name)
	if err != nil {
		log.Fatal(err)
	}
	l := &exchange.Ledger{Store: store, Key: exchange.Keys{Signer: key.Signer, Verifier: key.Verifier}, Origin: *name, Now: time.Now}
	// With -months, entry i is dated at first + i*step.
	now := time.Now().UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -*months, 0)
	step := time.Duration(0)
	if *months > 0 {
		step = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Sub(first) / time.Duration(*n+1)
		for m := 0; m < *months; m++ {
			if err := store.EnsureAuditPartitions(ctx, first.AddDate(0, m, 0)); err != nil {
				log.Fatal(err)
			}
		}
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(*n) {
					return
				}
				e := exchange.AuditEntry{Actor: "consumer:tok_bench", ActorName: "一网通办受理平台", Action: "lookup",
					Certificates: []string{fmt.Sprintf("1.2.156.3005.2.11330100MB0000001R002.11330100MB0000001R.%06d.001.X", i)},
					Holder:       fmt.Sprintf("%064x", i), Purpose: "食品经营许可新办", CaseID: fmt.Sprintf("2026-%07d", i)}
				if *months > 0 {
					e.At = first.Add(time.Duration(i) * step)
				}
				if err := l.Record(ctx, e); err != nil {
					log.Fatal(err)
				}
				if i%100000 == 0 {
					fmt.Fprintf(os.Stderr, "%d appended (%.0f/s)\n", i, float64(i)/time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if _, err := l.Checkpoint(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("appended %d entries in %s (%.0f/s) and signed a checkpoint\n", *n, el.Round(time.Millisecond), float64(*n)/el.Seconds())
}
