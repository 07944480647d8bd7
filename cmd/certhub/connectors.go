package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/certhub/certhub/connectors"
	"github.com/certhub/certhub/internal/filesource"
	"github.com/certhub/certhub/internal/httpsource"
	"github.com/certhub/certhub/internal/sqlsource"
)

// kinds are the connector source kinds this build knows. loc is the hub's
// civil time zone: change times a source writes without a zone are in it.
func kinds(loc *time.Location) connectors.Kinds {
	return connectors.Kinds{"http": httpsource.Kind{Location: loc}, "sql": sqlsource.Kind{Location: loc}, "file": filesource.Kind{}}
}

func (a *app) engine() *connectors.Engine {
	host, _ := os.Hostname()
	return &connectors.Engine{Store: a.store, Certs: a.certs, Kinds: kinds(a.certs.Location), Now: time.Now, Log: a.log, Ledger: a.ledger,
		Owner: fmt.Sprintf("%s-%d", host, os.Getpid())}
}

// ConnectorsCmd groups connector commands.
type ConnectorsCmd struct {
	Apply      ConnApplyCmd      `cmd:"" help:"Create or update a connector from a YAML or JSON definition (validated against its type first)."`
	List       ConnListCmd       `cmd:"" help:"List connectors."`
	Show       ConnShowCmd       `cmd:"" help:"Show a connector's definition and state."`
	Run        ConnRunCmd        `cmd:"" help:"Run a connector now, showing progress."`
	Pause      ConnPauseCmd      `cmd:"" help:"Pause a connector's scheduled runs."`
	Resume     ConnResumeCmd     `cmd:"" help:"Resume a connector's scheduled runs."`
	History    ConnHistoryCmd    `cmd:"" help:"A connector's runs and pushed batches, newest first."`
	Quarantine ConnQuarantineCmd `cmd:"" help:"Records a connector could not accept."`
	Reconcile  ConnReconcileCmd  `cmd:"" help:"Scan the whole source and report records it no longer has (changes nothing)."`
}

// ConnReconcileCmd reports vanished records.
type ConnReconcileCmd struct {
	StoreConfig
	Name string `arg:""`
}

// Run scans and prints the report.
func (c *ConnReconcileCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error {
		rep, err := e.Reconcile(ctx, c.Name)
		if err != nil {
			return err
		}
		fmt.Printf("%s: scanned %d source records; %d brought in earlier are gone from the source\n", c.Name, rep.Scanned, len(rep.Vanished))
		for _, v := range rep.Vanished {
			fmt.Printf("  %s\t%s\n", v.SourceKey, v.CertificateID)
		}
		return nil
	})
}

// withEngine opens the store and runs f with the connector engine.
func withEngine(c *StoreConfig, f func(ctx context.Context, e *connectors.Engine) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	return f(ctx, a.engine())
}

// ConnApplyCmd applies a definition file.
type ConnApplyCmd struct {
	StoreConfig
	File string `short:"f" required:"" help:"Definition file (YAML or JSON); - for standard input."`
}

// Run validates and saves the definition.
func (c *ConnApplyCmd) Run() error {
	raw, err := readFileOrStdin(c.File)
	if err != nil {
		return err
	}
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error {
		d, created, err := e.Apply(ctx, raw)
		if err != nil {
			return err
		}
		verb := "updated"
		if created {
			verb = "created"
		}
		fmt.Printf("connector %s %s (%s → %s)\n", d.Name, verb, d.Kind, d.Type)
		return nil
	})
}

func readFileOrStdin(path string) ([]byte, error) {
	if path == "-" {
		return readAll(os.Stdin)
	}
	return os.ReadFile(path)
}

// ConnListCmd lists connectors.
type ConnListCmd struct{ StoreConfig }

// Run prints a table.
func (c *ConnListCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error {
		names, err := e.Store.ListConnectors(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tTYPE\tSCHEDULE\tSTATE\tFAILURES")
		for _, n := range names {
			d, st, err := e.Get(ctx, n)
			if err != nil {
				return err
			}
			state := "active"
			if st.Paused {
				state = "paused"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", n, d.Kind, d.Type, or(d.Schedule.Every, "on demand"), state, st.Failures)
		}
		return tw.Flush()
	})
}

func or(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// ConnShowCmd shows one connector.
type ConnShowCmd struct {
	StoreConfig
	Name string `arg:"" help:"Connector name."`
}

// Run prints the definition and state as JSON.
func (c *ConnShowCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error {
		_, st, err := e.Get(ctx, c.Name)
		if err != nil {
			return err
		}
		out, _ := json.MarshalIndent(map[string]any{"definition": st.Definition, "paused": st.Paused, "cursor": st.Cursor,
			"failures": st.Failures, "last_error": st.LastError, "next_run_at": st.NextRunAt}, "", "  ")
		fmt.Println(string(out))
		return nil
	})
}

// ConnRunCmd runs a connector now.
type ConnRunCmd struct {
	StoreConfig
	Name string `arg:"" help:"Connector name."`
}

// Run pulls until the source has nothing more, printing progress.
func (c *ConnRunCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error {
		start := time.Now()
		run, err := e.Run(ctx, c.Name, func(r *connectors.Run, total int64) {
			el := time.Since(start).Seconds()
			rate := float64(r.Seen) / max(el, 0.001)
			eta := ""
			if total > 0 && rate > 0 {
				eta = fmt.Sprintf(", ETA %s", (time.Duration(float64(total-r.Seen)/rate) * time.Second).Round(time.Second))
			}
			fmt.Fprintf(os.Stderr, "\r%s: %d seen (%.0f/s%s): %d issued, %d revised, %d lifecycle, %d unchanged, %d quarantined   ",
				c.Name, r.Seen, rate, eta, r.Issued, r.Revised, r.Lifecycle, r.Unchanged, r.Quarantined)
		})
		fmt.Fprintln(os.Stderr)
		if run != nil {
			fmt.Printf("run %s %s in %s: %d seen, %d issued, %d revised, %d lifecycle, %d unchanged, %d quarantined\n",
				run.ID, run.Status, time.Since(start).Round(time.Millisecond), run.Seen, run.Issued, run.Revised, run.Lifecycle, run.Unchanged, run.Quarantined)
		}
		return err
	})
}

// ConnPauseCmd pauses a connector.
type ConnPauseCmd struct {
	StoreConfig
	Name string `arg:""`
}

// Run pauses.
func (c *ConnPauseCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error { return e.Store.SetPaused(ctx, c.Name, true) })
}

// ConnResumeCmd resumes a connector.
type ConnResumeCmd struct {
	StoreConfig
	Name string `arg:""`
}

// Run resumes.
func (c *ConnResumeCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error { return e.Store.SetPaused(ctx, c.Name, false) })
}

// ConnHistoryCmd lists runs.
type ConnHistoryCmd struct {
	StoreConfig
	Name string `arg:""`
}

// Run prints a table of runs. HOW says whether the hub pulled the records
// from the source (pull) or the department pushed them in (push).
func (c *ConnHistoryCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error {
		if _, _, err := e.Get(ctx, c.Name); err != nil {
			return err
		}
		runs, err := e.Store.ListRuns(ctx, c.Name, 50)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STARTED\tHOW\tSTATUS\tSEEN\tISSUED\tREVISED\tLIFECYCLE\tUNCHANGED\tQUARANTINED\tERROR")
		for _, r := range runs {
			how := "pull"
			if r.Pushed {
				how = "push"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.StartedAt.Format(time.DateTime), how, r.Status, r.Seen, r.Issued,
				r.Revised, r.Lifecycle, r.Unchanged, r.Quarantined, r.Error)
		}
		return tw.Flush()
	})
}

// ConnQuarantineCmd groups quarantine commands.
type ConnQuarantineCmd struct {
	List  ConnQListCmd  `cmd:"" help:"List open quarantined records of a connector."`
	Show  ConnQShowCmd  `cmd:"" help:"Show one quarantined record with its raw content."`
	Retry ConnQRetryCmd `cmd:"" help:"Run quarantined records through the connector's current mapping."`
}

// ConnQListCmd lists quarantine.
type ConnQListCmd struct {
	StoreConfig
	Name string `arg:""`
	All  bool   `help:"Include resolved records."`
}

// Run prints a table.
func (c *ConnQListCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error {
		list, err := e.Store.ListQuarantine(ctx, c.Name, c.All)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSOURCE KEY\tSINCE\tREASON")
		for _, q := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", q.ID, q.SourceKey, q.CreatedAt.Format(time.DateTime), q.Reason)
		}
		return tw.Flush()
	})
}

// ConnQShowCmd shows one quarantined record.
type ConnQShowCmd struct {
	StoreConfig
	ID string `arg:""`
}

// Run prints the record.
func (c *ConnQShowCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error {
		q, fields, err := e.QuarantinedRecord(ctx, c.ID)
		if err != nil {
			return err
		}
		out, _ := json.MarshalIndent(map[string]any{"id": q.ID, "connector": q.Connector, "source_key": q.SourceKey,
			"reason": q.Reason, "created_at": q.CreatedAt, "resolved_at": q.ResolvedAt, "record": fields}, "", "  ")
		fmt.Println(string(out))
		return nil
	})
}

// ConnQRetryCmd retries quarantined records.
type ConnQRetryCmd struct {
	StoreConfig
	Name string `arg:""`
	ID   string `help:"Only this record (default: every open one)."`
}

// Run retries.
func (c *ConnQRetryCmd) Run() error {
	return withEngine(&c.StoreConfig, func(ctx context.Context, e *connectors.Engine) error {
		ok, still, err := e.Retry(ctx, c.Name, c.ID)
		if err != nil {
			return err
		}
		fmt.Printf("%d accepted, %d still quarantined\n", ok, still)
		return nil
	})
}
