package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/certhub/certhub/exchange"
)

// HubKeyCmd groups the hub key commands (docs/federation.md, Rotating the
// hub key).
type HubKeyCmd struct {
	Show     HubKeyShowCmd     `cmd:"" help:"Print the hub key's generations: kid, state, when published, activated, retired (JSON)."`
	Rotate   HubKeyRotateCmd   `cmd:"" help:"Publish a new hub key, inactive; it is activated once every hub can hold it (certhub serve does, or hub-key activate)."`
	Activate HubKeyActivateCmd `cmd:"" help:"Activate the published key now and retire the old one (on the root, once every hub has the new root key file)."`
}

// HubKeyShowCmd prints the generations.
type HubKeyShowCmd struct{ StoreConfig }

// Run prints them.
func (c *HubKeyShowCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	return printJSON(os.Stdout, map[string]any{"active": a.hubKey.KID(), "generations": a.hubKey.Records()})
}

// HubKeyRotateCmd publishes the next generation.
type HubKeyRotateCmd struct{ StoreConfig }

// Run publishes it and prints it.
func (c *HubKeyRotateCmd) Run() error {
	return asConsole(&c.StoreConfig, func(ctx context.Context, a *app, by *exchange.Principal) error {
		r, err := a.hubKey.Rotate(ctx, a.store, time.Now().UTC())
		if err != nil {
			return err
		}
		if err := a.ledger.Record(ctx, exchange.AuditEntry{Actor: by.Actor(), ActorName: by.Name, Action: "hub_key_rotate",
			Outcome: fmt.Sprintf("ok: generation %d (%s) published, inactive", r.Generation, r.KID)}); err != nil {
			return err
		}
		if self, err := a.federation.Self(ctx); err == nil && self.IsRoot() {
			fmt.Fprintln(os.Stderr, "this hub is the federation's root: give every hub the new root key file (certhub federation root-key), then run certhub hub-key activate")
		}
		return printJSON(os.Stdout, r)
	})
}

// HubKeyActivateCmd activates the published generation.
type HubKeyActivateCmd struct{ StoreConfig }

// Run activates it and prints it.
func (c *HubKeyActivateCmd) Run() error {
	return asConsole(&c.StoreConfig, func(ctx context.Context, a *app, by *exchange.Principal) error {
		r, err := a.hubKey.Activate(ctx, a.store, time.Now().UTC())
		if err != nil {
			return err
		}
		if err := a.ledger.Record(ctx, exchange.AuditEntry{Actor: by.Actor(), ActorName: by.Name, Action: "hub_key_activate",
			Outcome: fmt.Sprintf("ok: generation %d (%s) signs from now on", r.Generation, r.KID)}); err != nil {
			return err
		}
		return printJSON(os.Stdout, r)
	})
}
