package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/signing"
)

// IDCmd groups identifier tools.
type IDCmd struct {
	Validate IDValidateCmd `cmd:"" help:"Say what kind of identifier each value is and whether it is valid."`
}

// IDValidateCmd validates identifiers.
type IDValidateCmd struct {
	Values []string `arg:"" name:"value" help:"Citizen ID numbers, USCCs, type codes or certificate identifiers."`
}

// Run prints one line per value; it fails unless all are valid.
func (c *IDValidateCmd) Run() error {
	bad := 0
	for _, v := range c.Values {
		kind, err := certificates.Classify(v)
		if err != nil {
			bad++
			reason := err.Error()
			var e *errs.Error
			if errors.As(err, &e) {
				reason = e.Message
			}
			fmt.Printf("%s\t%s\tinvalid: %s\n", v, kind, reason)
			continue
		}
		fmt.Printf("%s\t%s\tvalid\n", v, kind)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d values are invalid", bad, len(c.Values))
	}
	return nil
}

// KeysCmd groups seal key commands.
type KeysCmd struct {
	Rotate      KeysRotateCmd      `cmd:"" help:"Make a new seal key current for an authority; older keys keep verifying."`
	List        KeysListCmd        `cmd:"" help:"List seal keys."`
	Add         KeysAddCmd         `cmd:"" help:"Give an authority a key of another algorithm beside its active ones (one active key per algorithm)."`
	DocumentKey KeysDocumentKeyCmd `cmd:"" name:"document-key" help:"Make an authority's active key of an algorithm the one that seals its JWS documents."`
	CSR         KeysCSRCmd         `cmd:"" name:"csr" help:"Print a PEM certificate signing request for a seal key, for an external CA."`
	ImportCert  KeysImportCertCmd  `cmd:"" name:"import-cert" help:"Attach a certificate from an external CA to a seal key (it must certify the key and be valid now)."`
	Compromise  KeysCompromiseCmd  `cmd:"" help:"Mark a seal key compromised from an instant: documents it sealed from then on no longer verify."`
}

// KeysCompromiseCmd marks a seal key compromised (docs/operations.md).
type KeysCompromiseCmd struct {
	StoreConfig
	KID    string `arg:"" help:"The seal key's kid (one that begins with - goes after --)."`
	From   string `required:"" help:"RFC 3339 instant from which the key is taken to be exposed: now or earlier, never later."`
	Reason string `help:"Why (kept with the key, up to 500 characters)."`
}

// Run marks the key.
func (c *KeysCompromiseCmd) Run() error {
	from, err := time.Parse(time.RFC3339, c.From)
	if err != nil {
		return errs.Field("from", "%q is not an RFC 3339 time", c.From)
	}
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	k, err := a.keys.Compromise(ctx, c.KID, from, c.Reason)
	if err != nil {
		return err
	}
	fmt.Printf("seal key %s of %s is compromised from %s: documents it sealed from then on fail with key_compromised\n",
		k.KID, k.Authority, k.CompromisedFrom.UTC().Format(time.RFC3339))
	return nil
}

// KeysCSRCmd prints a CSR for a seal key; the private key never leaves
// the signing package.
type KeysCSRCmd struct {
	StoreConfig
	KID string `arg:"" name:"kid" help:"The seal key's kid (certhub keys list; one that begins with - goes after --)."`
}

// Run prints the CSR.
func (c *KeysCSRCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	csr, err := a.keys.CSR(ctx, c.KID)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(csr)
	return err
}

// KeysImportCertCmd attaches an external CA's certificate to a seal key.
type KeysImportCertCmd struct {
	StoreConfig
	KID   string `arg:"" name:"kid" help:"The seal key's kid (one that begins with - goes after --)."`
	File  string `arg:"" name:"file" type:"existingfile" help:"The certificate, PEM or DER."`
	Chain string `type:"existingfile" help:"PEM (or DER) file of the intermediates and root, issuer first, published after the certificate in x5c."`
}

// Run checks and stores the certificate.
func (c *KeysImportCertCmd) Run() error {
	ctx := context.Background()
	cert, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	var chain []byte
	if c.Chain != "" {
		if chain, err = os.ReadFile(c.Chain); err != nil {
			return err
		}
	}
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	k, err := a.keys.ImportCertificate(ctx, c.KID, cert, chain)
	if err != nil {
		return err
	}
	fmt.Printf("seal key %s (authority %s) now has a certificate from an %s CA\n", k.KID, k.Authority, map[signing.CertSource]string{signing.CertHub: "the hub's", signing.CertExternal: "external"}[k.CertificateSource])
	return nil
}

// authorityAlgorithm is what the key commands that act on one authority's
// key of one algorithm take, and how they open the hub for it.
type authorityAlgorithm struct {
	StoreConfig
	Authority string `required:"" help:"USCC of the authority."`
	Algorithm string `required:"" help:"ES256, EdDSA or SM2."`
}

// openFor checks the algorithm, opens the hub and checks the authority.
func (c *authorityAlgorithm) openFor(ctx context.Context) (*app, signing.Algorithm, error) {
	alg, err := signing.ParseAlgorithm("algorithm", c.Algorithm)
	if err != nil {
		return nil, "", err
	}
	a, err := c.open(ctx)
	if err != nil {
		return nil, "", err
	}
	if _, err := a.certs.Authority(ctx, c.Authority); err != nil {
		a.Close()
		return nil, "", err
	}
	return a, alg, nil
}

// KeysAddCmd adds a key of another algorithm beside an authority's active
// keys; it seals documents only if the authority had no active key.
type KeysAddCmd struct{ authorityAlgorithm }

// Run adds the key.
func (c *KeysAddCmd) Run() error {
	ctx := context.Background()
	a, alg, err := c.openFor(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	k, err := a.keys.AddKey(ctx, c.Authority, alg)
	if err != nil {
		return err
	}
	fmt.Printf("authority %s holds %s key %s (seals documents: %v)\n", c.Authority, k.Algorithm, k.KID, k.Documents)
	return nil
}

// KeysDocumentKeyCmd chooses an authority's document key by algorithm: the
// authority must hold an active key of it.
type KeysDocumentKeyCmd struct{ authorityAlgorithm }

// Run sets the document key.
func (c *KeysDocumentKeyCmd) Run() error {
	ctx := context.Background()
	a, alg, err := c.openFor(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.keys.SetDocumentAlgorithm(ctx, c.Authority, alg); err != nil {
		return err
	}
	fmt.Printf("authority %s seals its documents with its %s key\n", c.Authority, alg)
	return nil
}

// KeysRotateCmd rotates an authority's key.
type KeysRotateCmd struct {
	StoreConfig
	Authority string `required:"" help:"USCC of the authority."`
	Algorithm string `help:"ES256, EdDSA or SM2; default: the document key's. Replaces the active key of that algorithm, or the document key if there is none."`
}

// Run rotates the key.
func (c *KeysRotateCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.certs.Authority(ctx, c.Authority); err != nil {
		return err
	}
	var alg signing.Algorithm
	if c.Algorithm != "" {
		if alg, err = signing.ParseAlgorithm("algorithm", c.Algorithm); err != nil {
			return err
		}
	}
	k, err := a.keys.Rotate(ctx, c.Authority, alg)
	if err != nil {
		return err
	}
	fmt.Printf("authority %s now seals with %s (%s)\n", c.Authority, k.KID, k.Algorithm)
	return nil
}

// KeysListCmd lists keys.
type KeysListCmd struct {
	StoreConfig
	Authority string `help:"Only this authority's keys."`
}

// Run prints a table of keys.
func (c *KeysListCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	keys, err := a.keys.Keys(ctx, c.Authority)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AUTHORITY\tKID\tALG\tSTATUS\tCREATED\tRETIRED\tDOCUMENTS")
	for _, k := range keys {
		retired := "-"
		if k.RetiredAt != nil {
			retired = k.RetiredAt.Format("2006-01-02 15:04:05Z")
		}
		documents := "-"
		if k.Documents {
			documents = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Authority, k.KID, k.Algorithm, k.Status, k.CreatedAt.Format("2006-01-02 15:04:05Z"), retired, documents)
	}
	return tw.Flush()
}
