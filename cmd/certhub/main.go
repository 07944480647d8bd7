// Command certhub runs the electronic licence hub and its tools.
//
// Configuration is read here and only here: every setting is a flag and a
// CERTHUB_* environment variable (see `certhub serve --help` and
// docs/operations.md).
package main

import (
	"fmt"
	"os"
	"strconv"
	_ "time/tzdata" // civil dates are in Asia/Shanghai by default, on any host

	"github.com/alecthomas/kong"

	"github.com/certhub/certhub/internal/httpapi"
)

// CLI is the command tree.
type CLI struct {
	Serve      ServeCmd      `cmd:"" help:"Run the hub (embedded SQLite + local directory by default; PostgreSQL and S3 when configured)."`
	Migrate    MigrateCmd    `cmd:"" help:"Apply database migrations and exit."`
	Init       InitCmd       `cmd:"" help:"Create a new hub: the data directory, master key, admin token and the store's tables (refused where a hub exists)."`
	Demo       DemoCmd       `cmd:"" help:"Run the hub with a realistic demo data set and print URLs and tokens to try."`
	ID         IDCmd         `cmd:"" name:"id" help:"Identifier tools."`
	Keys       KeysCmd       `cmd:"" help:"Seal key management."`
	Gen        GenCmd        `cmd:"" help:"Fill a store with N realistic certificates of 5 types (property, marriage, birth, business licence, food permit; 11 holders per 20 certificates), each recorded in the audit ledger as an issuance is (benchmarks, load tests)."`
	Connectors ConnectorsCmd `cmd:"" help:"Connectors: pull certificates from departments' systems."`
	Audit      AuditCmd      `cmd:"" help:"The tamper-evident audit ledger: verify, checkpoint, export."`
	Consumers  ConsumersCmd  `cmd:"" help:"Department systems that read certificates, and their keys."`
	Purposes   PurposesCmd   `cmd:"" help:"The purpose catalog (codes for X-Purpose)."`
	Agreements AgreementsCmd `cmd:"" help:"Sharing agreements (共享责任清单): request, approve, reject, suspend, resume, withdraw, list."`
	Items      ItemsCmd      `cmd:"" help:"Service items (政务服务事项) and their materials: import, list, materials-avoided report."`
	Doctor     DoctorCmd     `cmd:"" help:"Check that every certificate's document reads back and repair rows pointing at the wrong bytes (--dry-run to only report); doctor orphans deletes objects no row references."`
	Seals      SealsCmd      `cmd:"" help:"GB/T 38540 electronic seals (电子印章): verify an SES_Signature offline."`
	Types      TypesCmd      `cmd:"" help:"Certificate types: their licence templates (电子化模板)."`
	Federation FederationCmd `cmd:"" help:"Federation with other hubs (county, city, province): identity, admission, the signed directory."`
	HubKey     HubKeyCmd     `cmd:"" name:"hub-key" help:"The hub's own signing key (tokens, webhooks, lists, federation): show, rotate in two phases."`
	Version    VersionCmd    `cmd:"" help:"Print this binary's version, source revision and Go toolchain."`
	VerifyQR   VerifyQRCmd   `cmd:"" name:"verify-qr" help:"Check a compact signed QR (CH1:…) offline against a cached trust list and status lists; exit 1 with the reason when not valid."`
}

func main() {
	var cli CLI
	parser := kong.Must(&cli, options()...)
	ctx, err := parser.Parse(os.Args[1:])
	parser.FatalIfErrorf(err)
	if err := ctx.Run(); err != nil {
		// Every problem of a refused input, one a line.
		fmt.Fprintln(os.Stderr, "certhub:", describe(err))
		os.Exit(1)
	}
}

// options are the command line's: its name, and the defaults computed on
// the machine it runs on.
func options() []kong.Option {
	return []kong.Option{
		kong.Name("certhub"),
		kong.Description("certhub — electronic licence library and data-sharing exchange (电子证照库与数据共享交换)."),
		kong.UsageOnError(),
		kong.Vars{"max_active": strconv.Itoa(httpapi.DefaultMaxActive())},
	}
}
