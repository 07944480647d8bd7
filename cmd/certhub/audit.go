package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/certhub/certhub/exchange"
)

// AuditCmd groups the audit ledger commands.
type AuditCmd struct {
	Verify     AuditVerifyCmd     `cmd:"" help:"Check the whole ledger (or a range, or an exported bundle) against its signed checkpoints; exit 1 at the first bad entry."`
	Checkpoint AuditCheckpointCmd `cmd:"" help:"Sign a checkpoint of the ledger as it is now."`
	Export     AuditExportCmd     `cmd:"" help:"Write an auditor's bundle (entries, checkpoints, verifier key) that verifies offline; archived months are read back from the object store."`
	Archive    AuditArchiveCmd    `cmd:"" help:"Move closed months of the ledger to the object store as signed bundles, then out of the database."`
}

// AuditVerifyCmd verifies the ledger.
type AuditVerifyCmd struct {
	StoreConfig
	From   int64  `help:"First entry to report on (earlier ones are hashed, not reported)." default:"1"`
	To     int64  `help:"Last entry to check (0: to the end)."`
	Bundle string `help:"Verify an exported bundle instead of the store (offline)."`
	Key    string `help:"With --bundle: the verifier key to trust (from /.well-known/ledger-key); default the one in the bundle."`
}

// Run verifies and prints the report.
func (c *AuditVerifyCmd) Run() error {
	start := time.Now()
	var rep *exchange.VerifyReport
	var err error
	if c.Bundle != "" {
		rep, err = verifyBundle(c.Bundle, c.Key)
	} else {
		ctx := context.Background()
		var a *app
		if a, err = c.open(ctx); err != nil {
			return err
		}
		defer a.Close()
		rep, err = a.ledger.Verify(ctx, c.From, c.To)
	}
	if err != nil {
		return err
	}
	el := time.Since(start)
	if !rep.OK {
		if rep.BadCheckpoint > 0 {
			fmt.Printf("ledger NOT intact: %s\n", rep.Problem)
		} else {
			fmt.Printf("ledger NOT intact: first bad entry %d: %s\n", rep.FirstBad, rep.Problem)
		}
		return fmt.Errorf("the audit ledger fails verification")
	}
	fmt.Printf("ledger intact: %d entries checked against %d signed checkpoints in %s (%.0f entries/s)\n",
		rep.Checked, rep.Checkpoints, el.Round(time.Millisecond), float64(rep.Checked)/max(el.Seconds(), 1e-9))
	return nil
}

// AuditCheckpointCmd signs a checkpoint.
type AuditCheckpointCmd struct{ StoreConfig }

// Run signs and prints it.
func (c *AuditCheckpointCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	cp, err := a.ledger.Checkpoint(ctx)
	if err != nil {
		return err
	}
	fmt.Print(string(cp.Note))
	return nil
}

// AuditExportCmd writes an auditor's bundle.
type AuditExportCmd struct {
	StoreConfig
	From int64  `default:"1" help:"First entry (the bundle starts at 1 anyway, so the chain can be recomputed; entries before From are included but not the auditor's subject)."`
	To   int64  `help:"Last entry (0: to the end)."`
	Out  string `short:"o" required:"" help:"File to write (JSON Lines)."`
}

// Run writes the bundle.
func (c *AuditExportCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	f, err := os.Create(c.Out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	_ = enc.Encode(exchange.BundleLine{Kind: "key", Key: a.ledgerKey.VerifierKey, Origin: a.ledger.Origin})
	cps, err := a.store.ListCheckpoints(ctx)
	if err != nil {
		return err
	}
	for _, cp := range cps {
		if c.To == 0 || cp.Size <= c.To {
			_ = enc.Encode(exchange.BundleLine{Kind: "checkpoint", Checkpoint: string(cp.Note), At: cp.At})
		}
	}
	// Archived months are read back from the object store, so the bundle
	// still starts at entry 1 and verifies offline.
	n := 0
	err = a.ledger.ScanAll(ctx, c.To, func(r exchange.LedgerRecord) error {
		n++
		return enc.Encode(exchange.BundleLine{Kind: "entry", Seq: r.Seq, Body: r.Body, Hash: r.Hash})
	})
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Printf("wrote %d entries and %d checkpoints to %s\n", n, len(cps), c.Out)
	return nil
}

// verifyBundle checks an exported bundle or an archived month with no
// store.
func verifyBundle(path, trusted string) (*exchange.VerifyReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := exchange.ReadBundle(f)
	if err != nil {
		return nil, err
	}
	key := b.Key
	if trusted != "" {
		key = trusted
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	return b.Verify(context.Background(), v)
}

// AuditArchiveCmd archives closed months of the ledger.
type AuditArchiveCmd struct {
	StoreConfig
	Before string `required:"" placeholder:"YYYY-MM" help:"Archive every month before this one (UTC months; at most the current month)."`
}

// Run archives, then records the run in the ledger.
func (c *AuditArchiveCmd) Run() error {
	before, err := exchange.ParseArchiveMonth("--before", c.Before, time.Now())
	if err != nil {
		return err
	}
	return asConsole(&c.StoreConfig, func(ctx context.Context, a *app, by *exchange.Principal) error {
		start := time.Now()
		rep, err := a.ledger.Archive(ctx, before)
		if rep != nil {
			for _, m := range rep.Finished {
				fmt.Printf("finished %s (archived by an earlier run)\n", m)
			}
			for _, m := range rep.Archived {
				fmt.Printf("archived %s: entries %d-%d to %s (sha256 %s)\n", m.Month, m.FirstSeq, m.LastSeq, m.Key, m.SHA256)
			}
		}
		if err != nil {
			return err
		}
		fmt.Printf("%d months archived, %d entries removed from the database in %s\n", len(rep.Archived), rep.Removed, time.Since(start).Round(time.Millisecond))
		outcome := fmt.Sprintf("ok: archived months before %s: %d new, %d entries removed", c.Before, len(rep.Archived), rep.Removed)
		if n := len(rep.Archived); n > 0 {
			outcome += fmt.Sprintf(" (%s to %s, entries %d-%d)", rep.Archived[0].Month, rep.Archived[n-1].Month, rep.Archived[0].FirstSeq, rep.Archived[n-1].LastSeq)
		}
		return a.ledger.Record(ctx, exchange.AuditEntry{Actor: by.Actor(), ActorName: by.Name, Action: "audit_archive", Outcome: outcome})
	})
}
