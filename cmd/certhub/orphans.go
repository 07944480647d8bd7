package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
)

// minOrphanAge is the least --orphan-min-age / --min-age accepted: an
// object younger than the longest transaction between its write and its
// row's commit would be taken for an orphan (certificates.OrphanSweep).
const minOrphanAge = time.Hour

// parseOrphanAge reads a minimum age flag.
func parseOrphanAge(flag, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < minOrphanAge {
		return 0, fmt.Errorf("--%s: %q is not a duration of at least %s (younger objects may still be waiting for their row)", flag, v, minOrphanAge)
	}
	return d, nil
}

// orphanSweep wires a sweep over the hub's document store.
func (a *app) orphanSweep(minAge time.Duration) (*certificates.OrphanSweep, error) {
	lister, ok := a.docs.(certificates.ObjectLister)
	if !ok {
		return nil, fmt.Errorf("the document store %T cannot list its objects", a.docs)
	}
	host, _ := os.Hostname()
	return &certificates.OrphanSweep{Store: a.store, Objects: lister, Documents: a.docs, MinAge: minAge, Now: time.Now,
		Owner: fmt.Sprintf("%s-%d", host, os.Getpid()), Log: a.log}, nil
}

// recordSweep appends a sweep run to the audit ledger: the ledger says
// what the hub did to its stores, and one entry per run says it without
// naming every object (the log names them).
func recordSweep(ctx context.Context, l *exchange.Ledger, actor, name string, rep *certificates.SweepReport) error {
	return l.Record(ctx, exchange.AuditEntry{Actor: actor, ActorName: name, Action: "orphan_sweep",
		Outcome: fmt.Sprintf("deleted %d objects (%d bytes) of %d listed; %d written back", rep.Orphans, rep.Bytes, rep.Listed, rep.Restored)})
}

// orphanMetrics counts what the sweeps of this process deleted.
type orphanMetrics struct{ objects, bytes prometheus.Counter }

func newOrphanMetrics(reg prometheus.Registerer) *orphanMetrics {
	m := &orphanMetrics{
		objects: prometheus.NewCounter(prometheus.CounterOpts{Name: "certhub_orphan_objects_deleted_total",
			Help: "Objects the orphan sweep deleted: no row referenced them and they were older than --orphan-min-age."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "certhub_orphan_bytes_deleted_total",
			Help: "Bytes of the objects the orphan sweep deleted."}),
	}
	reg.MustRegister(m.objects, m.bytes)
	return m
}

// runOrphanSweeps tries a minute after start (so a replica restarted more
// often than every still sweeps), then every hour (or every, if shorter),
// while ctx lasts; it sweeps when no sweep of any replica finished within
// every. Replicas take turns through the sweep's lease, and together sweep
// about once per every.
func runOrphanSweeps(ctx context.Context, a *app, every, minAge time.Duration, m *orphanMetrics) {
	w, err := a.orphanSweep(minAge)
	if err != nil {
		a.log.Error("orphan sweep is off", "err", err)
		return
	}
	w.Every = every
	w.OnOrphan = func(o certificates.ObjectInfo, _ time.Duration) {
		m.objects.Inc()
		m.bytes.Add(float64(o.Size))
	}
	timer := time.NewTimer(min(time.Minute, every))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		started := time.Now()
		rep, ok, err := w.Run(ctx)
		switch {
		case err != nil:
			a.log.Error("orphan sweep", "err", err)
		case !ok:
			a.log.Debug("orphan sweep: not due, or another replica sweeps")
		default:
			a.log.Info("orphan sweep", "listed", rep.Listed, "deleted", rep.Orphans, "bytes", rep.Bytes,
				"young", rep.Young, "written_back", rep.Restored, "took", time.Since(started).Round(time.Millisecond).String())
		}
		if rep != nil && ok { // also a run cut short: what it deleted stays deleted
			if err := recordSweep(ctx, a.ledger, "system:orphan-sweep", w.Owner, rep); err != nil {
				a.log.Error("orphan sweep: audit ledger", "err", err)
			}
		}
		timer.Reset(min(every, time.Hour))
	}
}

// DoctorOrphansCmd sweeps orphan objects on demand.
type DoctorOrphansCmd struct {
	StoreConfig
	DryRun bool   `name:"dry-run" help:"List the orphans that would be deleted; delete nothing."`
	MinAge string `name:"min-age" default:"24h" help:"Only objects older than this are orphans (at least 1h: a younger object may still be waiting for its row)."`
}

// Run sweeps once under the same lease as the hubs' background sweep,
// printing every orphan, and records the run in the audit ledger.
func (c *DoctorOrphansCmd) Run() error {
	minAge, err := parseOrphanAge("min-age", c.MinAge)
	if err != nil {
		return err
	}
	return asConsole(&c.StoreConfig, func(ctx context.Context, a *app, by *exchange.Principal) error {
		w, err := a.orphanSweep(minAge)
		if err != nil {
			return err
		}
		w.DryRun = c.DryRun
		verb := "deleted     "
		if c.DryRun {
			verb = "would delete"
		}
		w.OnOrphan = func(o certificates.ObjectInfo, age time.Duration) {
			fmt.Printf("%s %s (%d bytes, %s old)\n", verb, o.Key, o.Size, age.Round(time.Second))
		}
		rep, ok, err := w.Run(ctx)
		if err == nil && !ok {
			return fmt.Errorf("another process is sweeping orphans now (it holds the lease); try again later")
		}
		if rep != nil && ok && !c.DryRun {
			if lerr := recordSweep(ctx, a.ledger, by.Actor(), by.Name, rep); err == nil {
				err = lerr
			}
		}
		if err != nil {
			return err
		}
		fmt.Printf("listed %d objects: %d orphans (%d bytes), %d unreferenced but younger than %s, %d written back",
			rep.Listed, rep.Orphans, rep.Bytes, rep.Young, minAge, rep.Restored)
		if c.DryRun {
			fmt.Print(" (dry run: nothing deleted)")
		}
		fmt.Println()
		return nil
	})
}
