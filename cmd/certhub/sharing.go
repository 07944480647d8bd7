package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/alecthomas/kong"

	"github.com/certhub/certhub/exchange"
)

// asConsole opens the store and runs f acting as an administrator at the
// console (recorded in the ledger as admin:cli-<user>).
func asConsole(c *StoreConfig, f func(ctx context.Context, a *app, by *exchange.Principal) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	name := "console"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return f(ctx, a, &exchange.Principal{Role: exchange.RoleAdmin, TokenID: "cli-" + name, Name: "certhub CLI (" + name + ")"})
}

// withRegistry runs f with the consumer registry, at the console.
func withRegistry(c *StoreConfig, f func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error) error {
	return asConsole(c, func(ctx context.Context, a *app, by *exchange.Principal) error { return f(ctx, a.registry, by) })
}

// ConsumersCmd groups consumer commands.
type ConsumersCmd struct {
	Add    ConsumerAddCmd    `cmd:"" help:"Register a department system."`
	List   ConsumerListCmd   `cmd:"" help:"List consumers."`
	Key    ConsumerKeyCmd    `cmd:"" help:"Create an API key for a consumer (the secret is printed once)."`
	JWKS   ConsumerJWKSCmd   `cmd:"" name:"jwks" help:"Register a consumer's public keys (JWKS file) for private_key_jwt."`
	Revoke ConsumerRevokeCmd `cmd:"" help:"Revoke a consumer and all its keys at once."`
}

// ConsumerAddCmd registers a consumer.
type ConsumerAddCmd struct {
	StoreConfig
	Name    string   `required:"" help:"The system's name, e.g. 一网通办受理平台."`
	USCC    string   `name:"uscc" required:"" help:"The organisation's unified social credit code."`
	Contact string   `help:"Who to call about it."`
	Scope   []string `help:"Scopes (certificates:read, match, events); default all."`
	JWKS    string   `name:"jwks" type:"existingfile" help:"JWKS file of its public keys (private_key_jwt)."`
}

// Run registers the consumer and prints its id.
func (c *ConsumerAddCmd) Run() error {
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error {
		con := &exchange.Consumer{Name: c.Name, USCC: c.USCC, Contact: c.Contact, Scopes: c.Scope}
		if c.JWKS != "" {
			b, err := os.ReadFile(c.JWKS)
			if err != nil {
				return err
			}
			con.JWKS = b
		}
		if err := reg.CreateConsumer(ctx, by, con); err != nil {
			return err
		}
		fmt.Println(con.ID)
		return nil
	})
}

// ConsumerListCmd lists consumers.
type ConsumerListCmd struct{ StoreConfig }

// Run prints the table.
func (c *ConsumerListCmd) Run() error {
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, _ *exchange.Principal) error {
		cs, err := reg.Store.ListConsumers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tUSCC\tSTATUS\tSCOPES\tJWKS")
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", c.ID, c.Name, c.USCC, c.Status, strings.Join(c.Scopes, " "), len(c.JWKS) > 0)
		}
		return tw.Flush()
	})
}

// ConsumerKeyCmd creates an API key.
type ConsumerKeyCmd struct {
	StoreConfig
	ID   string `arg:"" help:"Consumer id."`
	Name string `help:"A label for the key."`
}

// Run prints the secret once.
func (c *ConsumerKeyCmd) Run() error {
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error {
		t, secret, err := reg.CreateKey(ctx, by, c.ID, c.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "key %s for %s; the secret is shown once:\n", t.ID, c.ID)
		fmt.Println(secret)
		return nil
	})
}

// ConsumerJWKSCmd registers public keys.
type ConsumerJWKSCmd struct {
	StoreConfig
	ID   string `arg:"" help:"Consumer id."`
	File string `arg:"" type:"existingfile" help:"JWKS file (public keys, each with kid and alg)."`
}

// Run replaces the consumer's JWKS.
func (c *ConsumerJWKSCmd) Run() error {
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error {
		b, err := os.ReadFile(c.File)
		if err != nil {
			return err
		}
		return reg.SetJWKS(ctx, by, c.ID, b)
	})
}

// ConsumerRevokeCmd revokes a consumer.
type ConsumerRevokeCmd struct {
	StoreConfig
	ID string `arg:"" help:"Consumer id."`
}

// Run revokes it and its keys.
func (c *ConsumerRevokeCmd) Run() error {
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error {
		return reg.RevokeConsumer(ctx, by, c.ID)
	})
}

// PurposesCmd groups purpose catalog commands.
type PurposesCmd struct {
	Add  PurposeAddCmd  `cmd:"" help:"Add a purpose code (legal basis or service item)."`
	List PurposeListCmd `cmd:"" help:"List the purpose catalog."`
}

// PurposeAddCmd adds a code.
type PurposeAddCmd struct {
	StoreConfig
	Code  string `arg:"" help:"The code departments send in X-Purpose."`
	Name  string `required:"" help:"What it is, e.g. 食品经营许可 新办."`
	Kind  string `default:"service_item" enum:"service_item,legal_basis" help:"service_item or legal_basis."`
	Basis string `help:"The legal basis text."`
}

// Run adds the code.
func (c *PurposeAddCmd) Run() error {
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error {
		return reg.CreatePurpose(ctx, by, &exchange.Purpose{Code: c.Code, Name: c.Name, Kind: c.Kind, Basis: c.Basis})
	})
}

// PurposeListCmd lists codes.
type PurposeListCmd struct{ StoreConfig }

// Run prints the catalog.
func (c *PurposeListCmd) Run() error {
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, _ *exchange.Principal) error {
		ps, err := reg.Store.ListPurposes(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tKIND\tNAME\tBASIS")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Code, p.Kind, p.Name, p.Basis)
		}
		return tw.Flush()
	})
}

// AgreementsCmd groups agreement commands.
type AgreementsCmd struct {
	Request  AgreementRequestCmd `cmd:"" help:"File an agreement request for a consumer."`
	List     AgreementListCmd    `cmd:"" help:"List agreements and their state."`
	Approve  AgreementDecideCmd  `cmd:"" help:"Approve a requested agreement."`
	Reject   AgreementDecideCmd  `cmd:"" help:"Reject a requested agreement (--reason required)."`
	Withdraw AgreementDecideCmd  `cmd:"" help:"Withdraw an agreement at once, for good (--reason required)."`
	Suspend  AgreementDecideCmd  `cmd:"" help:"Suspend an approved agreement (consumer under investigation) until resumed (--reason required)."`
	Resume   AgreementDecideCmd  `cmd:"" help:"Resume a suspended agreement (--reason required)."`
	Show     AgreementShowCmd    `cmd:"" help:"Show one agreement."`
}

// AgreementRequestCmd files a request.
type AgreementRequestCmd struct {
	StoreConfig
	Consumer string   `required:"" help:"Consumer id."`
	Grant    []string `required:"" sep:"none" help:"TYPE=field,field[,+document] — repeat per certificate type; holder_name grants the holder's name."`
	Purpose  []string `required:"" help:"Purpose codes it may claim (repeat)."`
	From     string   `required:"" help:"First valid day, YYYY-MM-DD."`
	Until    string   `required:"" help:"Last valid day, YYYY-MM-DD."`
	Rate     *int     `help:"Calls per minute (default 600)."`
	Reason   string   `help:"Why (e.g. the 共享责任清单 entry)."`
}

// Run files the request and prints its id.
func (c *AgreementRequestCmd) Run() error {
	req := &exchange.AgreementRequest{Consumer: c.Consumer, Purposes: c.Purpose, ValidFrom: c.From, ValidUntil: c.Until, RatePerMinute: c.Rate, Reason: c.Reason}
	for _, g := range c.Grant {
		typ, fields, ok := strings.Cut(g, "=")
		if !ok {
			return fmt.Errorf("--grant %q: want TYPE=field,field[,+document]", g)
		}
		gr := exchange.Grant{Type: typ}
		for _, f := range strings.Split(fields, ",") {
			switch f = strings.TrimSpace(f); f {
			case "":
			case "+document":
				gr.Document = true
			default:
				gr.Fields = append(gr.Fields, f)
			}
		}
		req.Grants = append(req.Grants, gr)
	}
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error {
		a, err := reg.RequestAgreement(ctx, by, req)
		if err != nil {
			return err
		}
		fmt.Println(a.ID)
		return nil
	})
}

// AgreementListCmd lists agreements.
type AgreementListCmd struct {
	StoreConfig
	Consumer string `help:"Only this consumer's."`
}

// Run prints the table.
func (c *AgreementListCmd) Run() error {
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error {
		as, err := reg.Agreements(ctx, by, c.Consumer)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCONSUMER\tSTATE\tTYPES\tPURPOSES\tVALID\tRATE/MIN")
		for _, a := range as {
			var types []string
			for _, g := range a.Grants {
				types = append(types, g.Type)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s..%s\t%d\n", a.ID, a.Consumer, a.State, strings.Join(types, " "), strings.Join(a.Purposes, " "),
				a.ValidFrom, a.ValidUntil, a.RatePerMinute)
		}
		return tw.Flush()
	})
}

// AgreementShowCmd prints one agreement.
type AgreementShowCmd struct {
	StoreConfig
	ID string `arg:""`
}

// Run prints it as YAML-like text.
func (c *AgreementShowCmd) Run() error {
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error {
		a, err := reg.Agreement(ctx, by, c.ID)
		if err != nil {
			return err
		}
		fmt.Printf("id: %s\nconsumer: %s\nstate: %s\nvalid: %s .. %s\nrate_per_minute: %d\npurposes: %s\n", a.ID, a.Consumer, a.State,
			a.ValidFrom, a.ValidUntil, a.RatePerMinute, strings.Join(a.Purposes, ", "))
		for _, g := range a.Grants {
			fmt.Printf("grant %s: %s (document: %v)\n", g.Type, strings.Join(g.Fields, ", "), g.Document)
		}
		fmt.Printf("requested_by: %s\ndecided_by: %s\nreason: %s\n", a.RequestedBy, a.DecidedBy, a.Reason)
		return nil
	})
}

// AgreementDecideCmd approves, rejects, suspends, resumes or withdraws;
// the decision is the command's name. A running serve sees the decision
// within exchange.AgreementTTL (its agreement cache).
type AgreementDecideCmd struct {
	StoreConfig
	ID     string `arg:""`
	Reason string `help:"Why (required for every decision but approve)."`
}

// Run applies the decision named by the command.
func (c *AgreementDecideCmd) Run(kctx *kong.Context) error {
	words := strings.Fields(kctx.Command())
	if len(words) < 2 {
		return fmt.Errorf("unexpected command %q", kctx.Command())
	}
	decision := words[1]
	return withRegistry(&c.StoreConfig, func(ctx context.Context, reg *exchange.Registry, by *exchange.Principal) error {
		a, err := reg.Decide(ctx, by, c.ID, decision, c.Reason)
		if err != nil {
			return err
		}
		fmt.Printf("%s is now %s\n", a.ID, a.State)
		return nil
	})
}
