package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/certhub/certhub/signing"
)

// SealsCmd groups the GB/T 38540 electronic seal tools.
type SealsCmd struct {
	Verify SealsVerifyCmd `cmd:"" help:"Check a GB/T 38540-2020 electronic signature (DER SES_Signature) over its data, offline; exit 1 when invalid."`
	CA     SealsCACmd     `cmd:"" name:"ca" help:"The hub's seal CA, which certifies the seal keys."`
}

// SealsCACmd groups the seal CA commands.
type SealsCACmd struct {
	Init SealsCAInitCmd `cmd:"" help:"Create the hub's seal CA (an SM2 root and a P-256 root) and certify the keys that have no certificate; serve does this at first start."`
}

// SealsCAInitCmd creates the seal CA explicitly, before the first start.
type SealsCAInitCmd struct {
	StoreConfig
}

// Run creates the CA; it refuses, saying so, when the hub has one.
func (c *SealsCAInitCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	roots, err := a.keys.CARoots(ctx)
	if err != nil {
		return err
	}
	if len(roots) > 0 {
		return fmt.Errorf("this hub already has a seal CA (created %s); ca init makes one only where there is none. "+
			"Its roots are at /.well-known/certhub-seal-ca.pem", roots[0].CreatedAt.Format(time.RFC3339))
	}
	_, certified, err := a.keys.EnsureCA(ctx)
	if err != nil {
		return err
	}
	pem, err := a.keys.TrustedRootsPEM(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created the seal CA; %d existing keys certified. Its roots (also at /.well-known/certhub-seal-ca.pem):\n", certified)
	_, err = os.Stdout.Write(pem)
	return err
}

// SealsVerifyCmd checks one SES_Signature. It needs no store and no
// network: the signature carries the seal, the seal maker's certificate and
// the signer's certificate. Whether those certificates are trusted is for
// the operator to judge from the subjects it prints.
type SealsVerifyCmd struct {
	File string `arg:"" type:"existingfile" help:"The DER SES_Signature (in an OFD: Doc_0/Signs/Sign_0/SignedValue.dat)."`
	Data string `arg:"" type:"existingfile" help:"The signed data (in an OFD: the Signature.xml that the signature's propertyInfo names)."`
	JSON bool   `help:"Print the report as JSON."`
}

// maxSESSize bounds the signature file: a seal picture is at most 1 MiB.
const maxSESSize = 4 << 20

// Run verifies and prints the report.
func (c *SealsVerifyCmd) Run() error {
	f, err := os.Open(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	der, err := io.ReadAll(io.LimitReader(f, maxSESSize+1))
	if err != nil {
		return err
	}
	if len(der) > maxSESSize {
		return fmt.Errorf("%s: over %d bytes, not an electronic signature", c.File, maxSESSize)
	}
	data, err := os.ReadFile(c.Data)
	if err != nil {
		return err
	}
	rep, _ := signing.VerifySES(der, data, time.Now())
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printSESReport(os.Stdout, rep)
	}
	if !rep.Valid {
		failed := 0
		for _, ch := range rep.Checks {
			if !ch.OK {
				failed++
			}
		}
		return fmt.Errorf("the electronic signature is NOT valid: %d of %d checks failed", failed, len(rep.Checks))
	}
	return nil
}

func printSESReport(out io.Writer, r *signing.SESReport) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	verdict := "valid"
	if !r.Valid {
		verdict = "NOT VALID"
	}
	fmt.Fprintf(w, "electronic signature (GB/T 38540 SES_Signature)\t%s\n", verdict)
	if r.ESID != "" {
		fmt.Fprintf(w, "seal\t%s %q, valid %s – %s\n", r.ESID, r.SealName, sealStamp(r.SealStart), sealStamp(r.SealEnd))
		fmt.Fprintf(w, "seal maker\t%s\n", r.Maker)
		fmt.Fprintf(w, "signer\t%s\n", r.Signer)
		fmt.Fprintf(w, "signed at\t%s\n", sealStamp(r.SignedAt))
		fmt.Fprintf(w, "propertyInfo\t%s\n", r.PropertyInfo)
		fmt.Fprintf(w, "dataHash (SM3)\t%s\n", hex.EncodeToString(r.DataHash))
	}
	fmt.Fprintln(w, "checks:")
	for _, ch := range r.Checks {
		mark := "ok"
		if !ch.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", mark, ch.Name, ch.Reason)
	}
	w.Flush()
}

func sealStamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
