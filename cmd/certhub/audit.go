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
	Export     AuditExportCmd     `cmd:"" help:"Write an auditor's bundle (entries, checkpoints, verifier key) that verifies offline."`
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

// bundleLine is one line of an export bundle.
type bundleLine struct {
	Kind       string          `json:"kind"` // key, checkpoint, entry
	Key        string          `json:"key,omitempty"`
	Origin     string          `json:"origin,omitempty"`
	Checkpoint string          `json:"checkpoint,omitempty"`
	At         time.Time       `json:"at,omitzero"` // when the checkpoint was signed (not part of what is signed)
	Seq        int64           `json:"seq,omitempty"`
	Body       json.RawMessage `json:"body,omitempty"`
	Hash       string          `json:"hash,omitempty"`
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
	_ = enc.Encode(bundleLine{Kind: "key", Key: a.ledgerKey.VerifierKey, Origin: a.ledger.Origin})
	cps, err := a.store.ListCheckpoints(ctx)
	if err != nil {
		return err
	}
	for _, cp := range cps {
		if c.To == 0 || cp.Size <= c.To {
			_ = enc.Encode(bundleLine{Kind: "checkpoint", Checkpoint: string(cp.Note), At: cp.At})
		}
	}
	n := 0
	err = a.store.ScanAudit(ctx, 1, c.To, func(r exchange.LedgerRecord) error {
		n++
		return enc.Encode(bundleLine{Kind: "entry", Seq: r.Seq, Body: r.Body, Hash: r.Hash})
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

// verifyBundle checks an exported bundle with no store.
func verifyBundle(path, trusted string) (*exchange.VerifyReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var key, origin string
	var cps []*exchange.Checkpoint
	var records []exchange.LedgerRecord
	for sc.Scan() {
		var l bundleLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		switch l.Kind {
		case "key":
			key, origin = l.Key, l.Origin
		case "checkpoint":
			cps = append(cps, &exchange.Checkpoint{Note: []byte(l.Checkpoint), At: l.At})
		case "entry":
			records = append(records, exchange.LedgerRecord{Seq: l.Seq, Body: l.Body, Hash: l.Hash})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if trusted != "" {
		key = trusted
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %w", err)
	}
	return exchange.VerifyChain(context.Background(), origin, v, cps, func(fn func(exchange.LedgerRecord) error) error {
		for _, r := range records {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}, 1)
}
