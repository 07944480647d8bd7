package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
)

// TypesCmd groups certificate type commands.
type TypesCmd struct {
	Template TypesTemplateCmd `cmd:"" help:"A type's licence template (电子化模板, docs/templates.md): set from a YAML or JSON file, show."`
}

// TypesTemplateCmd groups template commands.
type TypesTemplateCmd struct {
	Set  TypesTemplateSetCmd  `cmd:"" help:"Validate a template file against the type and store it; every problem is printed and nothing stored on one."`
	Show TypesTemplateShowCmd `cmd:"" help:"Print the type's template as JSON (the default layout when it has none, said on stderr)."`
}

// TypesTemplateSetCmd stores a template.
type TypesTemplateSetCmd struct {
	StoreConfig
	Code string `arg:"" help:"Certificate type code."`
	File string `arg:"" type:"existingfile" help:"Template file: .yaml/.yml, or .json."`
}

// Run parses the file (YAML unless it is .json or begins with "{"),
// validates and stores it, and records it in the audit ledger.
func (c *TypesTemplateSetCmd) Run() error {
	data, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(c.File))
	isJSON := ext == ".json" || (ext != ".yaml" && ext != ".yml" && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")))
	tp, err := certificates.ParseTemplate(data, !isJSON)
	if err != nil {
		return err
	}
	return asConsole(&c.StoreConfig, func(ctx context.Context, a *app, by *exchange.Principal) error {
		if err := a.certs.SetTypeTemplate(ctx, c.Code, tp); err != nil {
			return err
		}
		if err := a.ledger.Record(ctx, exchange.AuditEntry{Actor: by.Actor(), ActorName: by.Name, Action: "type_template", Outcome: "ok: " + c.Code}); err != nil {
			return err
		}
		fmt.Printf("template of %s stored: %s, %d fields\n", c.Code, tp.Page, len(tp.Fields))
		return nil
	})
}

// TypesTemplateShowCmd prints a template.
type TypesTemplateShowCmd struct {
	StoreConfig
	Code string `arg:"" help:"Certificate type code."`
}

// Run prints the stored template, or the default layout.
func (c *TypesTemplateShowCmd) Run() error {
	return asConsole(&c.StoreConfig, func(ctx context.Context, a *app, _ *exchange.Principal) error {
		tp, stored, err := a.certs.TypeTemplate(ctx, c.Code)
		if err != nil {
			return err
		}
		if !stored {
			fmt.Fprintf(os.Stderr, "type %s has no template of its own; this is the default layout\n", c.Code)
		}
		out, err := json.MarshalIndent(tp, "", "  ")
		if err != nil {
			return err
		}
		fmt.Println(string(out))
		return nil
	})
}
