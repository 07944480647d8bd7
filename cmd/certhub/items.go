package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/certhub/certhub/exchange"
)

// ItemsCmd groups service item commands.
type ItemsCmd struct {
	Import ItemsImportCmd `cmd:"" help:"Import service items from YAML, JSON, CSV or .xlsx (docs/service-items.md); all or nothing."`
	List   ItemsListCmd   `cmd:"" help:"List service items and their materials."`
	Report ItemsReportCmd `cmd:"" help:"Materials avoided per item and department (材料减少), and those avoidable with an agreement, as CSV."`
}

// withItems runs f with the service item resolver, at the console.
func withItems(c *StoreConfig, f func(ctx context.Context, r *exchange.Resolver, by *exchange.Principal) error) error {
	return asConsole(c, func(ctx context.Context, a *app, by *exchange.Principal) error { return f(ctx, a.items, by) })
}

// ItemsImportCmd imports a catalog file.
type ItemsImportCmd struct {
	StoreConfig
	File string `arg:"" type:"existingfile" help:"Catalog file: .yaml, .json, .csv or .xlsx."`
}

// Run validates the whole file, prints every problem, and stores it only
// if there is none.
func (c *ItemsImportCmd) Run() error {
	data, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	return withItems(&c.StoreConfig, func(ctx context.Context, r *exchange.Resolver, by *exchange.Principal) error {
		items, err := r.ImportFile(ctx, by, c.File, data)
		if err != nil {
			return err
		}
		materials, flagged := 0, 0
		for _, it := range items {
			materials += len(it.Materials)
			for _, m := range it.Materials {
				if len(m.Flags) > 0 {
					flagged++
					fmt.Printf("flagged: %s / %s: %s\n", it.Code, m.Name, strings.Join(m.Flags, ", "))
				}
			}
		}
		fmt.Printf("imported %d service items, %d materials (%d flagged)\n", len(items), materials, flagged)
		return nil
	})
}

// ItemsListCmd lists the catalog.
type ItemsListCmd struct{ StoreConfig }

// Run prints the items.
func (c *ItemsListCmd) Run() error {
	return withItems(&c.StoreConfig, func(ctx context.Context, r *exchange.Resolver, _ *exchange.Principal) error {
		items, err := r.Store.ListItems(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tNAME\tDEPARTMENT\tMATERIALS\tBY CERTIFICATE")
		for _, it := range items {
			n := 0
			for _, m := range it.Materials {
				if m.Certificate {
					n++
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", it.Code, it.Name, it.Department, len(it.Materials), n)
		}
		return tw.Flush()
	})
}

// ItemsReportCmd prints the materials-avoided report.
type ItemsReportCmd struct {
	StoreConfig
	Period string `default:"month" enum:"day,month,quarter,year" help:"day, month, quarter or year."`
	From   string `help:"First day (YYYY-MM-DD); default 1 January this year."`
	To     string `help:"Last day (YYYY-MM-DD); default today."`
}

// Run writes the CSV to standard output.
func (c *ItemsReportCmd) Run() error {
	return withItems(&c.StoreConfig, func(ctx context.Context, r *exchange.Resolver, _ *exchange.Principal) error {
		period, from, to := exchange.ReportRange(c.Period, c.From, c.To, r.Certs.Today().String())
		rows, err := r.MaterialsReport(ctx, period, from, to)
		if err != nil {
			return err
		}
		return exchange.WriteMaterialsCSV(os.Stdout, rows)
	})
}
