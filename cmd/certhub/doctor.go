package main

import (
	"context"
	"fmt"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
)

// DoctorCmd groups the consistency checks of documents and objects.
// Without a subcommand it runs documents, as it did before orphans existed.
type DoctorCmd struct {
	Documents DoctorDocumentsCmd `cmd:"" default:"withargs" help:"Check that every certificate's document reads back; repair rows pointing at the wrong bytes (the default)."`
	Orphans   DoctorOrphansCmd   `cmd:"" help:"Delete objects no row references that are older than --min-age (--dry-run to only list them)."`
}

// DoctorDocumentsCmd checks that every certificate version's document
// reads back from where its row says, and repairs the rows that point at
// the wrong bytes (revisions of bulk-issued certificates written before
// issue 10 was fixed kept their batch member's offset and length).
type DoctorDocumentsCmd struct {
	StoreConfig
	DryRun bool `name:"dry-run" help:"Report what is broken and what would be repaired; change nothing."`
}

// ledgerChunk bounds the certificate ids one ledger entry names.
const ledgerChunk = 500

// Run checks, repairs unless --dry-run, and prints every finding and a
// summary. It fails (exit 1) when a document still does not read back
// afterwards: one no repair can find, or any in a dry run.
func (c *DoctorDocumentsCmd) Run() error {
	return asConsole(&c.StoreConfig, func(ctx context.Context, a *app, by *exchange.Principal) error {
		var fixed []string
		record := func() error {
			if len(fixed) == 0 {
				return nil
			}
			err := a.ledger.Record(ctx, exchange.AuditEntry{Actor: by.Actor(), ActorName: by.Name, Action: "document_relocate",
				Certificates: fixed})
			if err != nil {
				return fmt.Errorf("repaired %d rows but could not record them in the audit ledger: %w", len(fixed), err)
			}
			fixed = nil
			return nil
		}
		sum, err := a.certs.CheckDocuments(ctx, !c.DryRun, func(f certificates.DocumentFinding) error {
			switch {
			case f.Fixed:
				fmt.Printf("repaired      %s: %s; now %s\n", f.Ref.ID, f.Problem, location(*f.Fix))
				fixed = append(fixed, f.Ref.ID)
				if len(fixed) == ledgerChunk {
					return record()
				}
			case f.Fix != nil:
				fmt.Printf("repairable    %s: %s; would be %s\n", f.Ref.ID, f.Problem, location(*f.Fix))
			default:
				fmt.Printf("UNREPAIRABLE  %s: %s at %s; its document is not in that object\n", f.Ref.ID, f.Problem, location(f.Ref))
			}
			return nil
		})
		if rerr := record(); err == nil {
			err = rerr
		}
		if err != nil {
			return err
		}
		fmt.Printf("checked %d certificate versions: %d broken, %d repaired, %d unrepairable", sum.Checked, sum.Broken, sum.Fixed, sum.Unrepairable)
		if c.DryRun {
			fmt.Print(" (dry run: nothing changed)")
		}
		fmt.Println()
		if left := sum.Broken - sum.Fixed; left > 0 {
			return fmt.Errorf("%d certificate documents do not read back", left)
		}
		return nil
	})
}

func location(r certificates.DocumentRef) string {
	if r.Length == 0 {
		return r.Key + " (whole object)"
	}
	return fmt.Sprintf("%s bytes %d+%d", r.Key, r.Offset, r.Length)
}
