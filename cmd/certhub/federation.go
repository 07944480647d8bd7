package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/certhub/certhub/exchange/federation"
)

// FederationCmd groups the federation commands (docs/federation.md).
type FederationCmd struct {
	Init            FederationInitCmd            `cmd:"" help:"Give this hub its federation identity: its 行政区划 code, name, URL, and its parent (or --root)."`
	Describe        FederationDescribeCmd        `cmd:"" help:"Write this hub's signed description, for its parent's operator to admit (valid 7 days)."`
	RootKey         FederationRootKeyCmd         `cmd:"" name:"root-key" help:"On the root hub: write the root key file every other hub is configured with."`
	Admit           FederationAdmitCmd           `cmd:"" help:"Admit a child hub from its signed description (certhub federation describe on the child)."`
	Show            FederationShowCmd            `cmd:"" help:"Print this hub's identity, its children and the hubs it knows (JSON)."`
	Backfill        FederationBackfillCmd        `cmd:"" help:"Print where the backfill of the push to the parent stands; --restart starts it over (a parent restored from an old backup)."`
	VerifyDirectory FederationVerifyDirectoryCmd `cmd:"" name:"verify-directory" help:"Check a directory (a file, - for stdin, or a hub's URL) against the root key; exit 1 with the reason when refused."`
}

// FederationInitCmd sets the identity.
type FederationInitCmd struct {
	StoreConfig
	HubID     string `name:"hub-id" required:"" help:"This hub's 行政区划 code (330102 a county, 330100 a city, 330000 a province)."`
	Name      string `name:"name" required:"" help:"This hub's name (杭州市电子证照库)."`
	URL       string `name:"url" help:"The URL other hubs reach this hub at; default --public-url."`
	Root      bool   `name:"root" help:"This hub is the federation's root (the province, or the nation): it has no parent."`
	Parent    string `name:"parent" help:"The parent hub's 行政区划 code."`
	ParentURL string `name:"parent-url" help:"The parent hub's URL."`
	RootKey   string `name:"root-key" type:"existingfile" help:"The root key file (certhub federation root-key on the root), received out of band."`
}

// Run sets the identity and prints it.
func (c *FederationInitCmd) Run() error {
	if c.Root == (c.Parent != "") {
		return fmt.Errorf("say either --root (this hub has no parent) or --parent and --parent-url")
	}
	self := federation.Self{ID: c.HubID, Name: c.Name, URL: strings.TrimRight(c.URL, "/"), Parent: c.Parent, ParentURL: strings.TrimRight(c.ParentURL, "/")}
	if self.URL == "" {
		self.URL = strings.TrimRight(c.PublicURL, "/")
	}
	if !c.Root {
		if c.RootKey == "" {
			return fmt.Errorf("--root-key is required with --parent: the root hub's key, from certhub federation root-key on the root")
		}
		b, err := os.ReadFile(c.RootKey)
		if err != nil {
			return err
		}
		if self.Root, err = federation.ParseRootKey(b); err != nil {
			return fmt.Errorf("--root-key %s: %w", c.RootKey, err)
		}
	}
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	got, err := a.federation.Init(ctx, self)
	if err != nil {
		return err
	}
	return printJSON(os.Stdout, got)
}

// FederationDescribeCmd writes the description.
type FederationDescribeCmd struct {
	StoreConfig
	Out string `name:"out" short:"o" help:"Write to this file instead of stdout."`
}

// Run signs and writes the description.
func (c *FederationDescribeCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := a.federation.Describe(ctx, federation.AdmissionTTL)
	if err != nil {
		return err
	}
	return writeOut(c.Out, append(b, '\n'))
}

// FederationRootKeyCmd writes the root key file.
type FederationRootKeyCmd struct {
	StoreConfig
	Out string `name:"out" short:"o" help:"Write to this file instead of stdout."`
}

// Run writes the root key.
func (c *FederationRootKeyCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	self, err := a.federation.Self(ctx)
	if err != nil {
		return err
	}
	if !self.IsRoot() {
		return fmt.Errorf("hub %s is not the root (its parent is %s); its root key file came from the root, %s", self.ID, self.Parent, self.Root.HubID)
	}
	b, err := json.MarshalIndent(self.Root, "", "  ")
	if err != nil {
		return err
	}
	return writeOut(c.Out, append(b, '\n'))
}

// FederationAdmitCmd admits a child.
type FederationAdmitCmd struct {
	StoreConfig
	Child string `name:"child" required:"" type:"existingfile" help:"The child's signed description (certhub federation describe on the child)."`
}

// Run admits the child and prints it.
func (c *FederationAdmitCmd) Run() error {
	b, err := os.ReadFile(c.Child)
	if err != nil {
		return err
	}
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	child, err := a.federation.Admit(ctx, b, "cli:federation-admit")
	if err != nil {
		return err
	}
	return printJSON(os.Stdout, child)
}

// FederationShowCmd prints the status.
type FederationShowCmd struct {
	StoreConfig
}

// Run prints the status.
func (c *FederationShowCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	st, err := a.federation.Status(ctx)
	if err != nil {
		return err
	}
	return printJSON(os.Stdout, st)
}

// FederationBackfillCmd shows, or starts over, the backfill of the push
// to the parent.
type FederationBackfillCmd struct {
	StoreConfig
	Restart bool `name:"restart" help:"Start the backfill over: at the next push (by whichever replica holds the push lease; safe while replicas run) every version of the registry is pushed again with its state, and the parent corrects the copies it holds."`
}

// Run prints where the backfill stands, after starting it over if asked.
func (c *FederationBackfillCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if c.Restart {
		b, err := a.federation.RestartBackfill(ctx, "cli:federation-backfill")
		if err != nil {
			return err
		}
		return printJSON(os.Stdout, b)
	}
	st, err := a.federation.Status(ctx)
	if err != nil {
		return err
	}
	if st.Backfill == nil {
		return fmt.Errorf("no backfill has begun: it begins at the first push to the parent")
	}
	return printJSON(os.Stdout, st.Backfill)
}

// FederationVerifyDirectoryCmd checks a directory offline.
type FederationVerifyDirectoryCmd struct {
	Directory string `arg:"" help:"The directory: a file, - for stdin, or a hub's base URL (its /.well-known/certhub-directory is fetched)."`
	RootKey   string `name:"root-key" required:"" type:"existingfile" help:"The root key file."`
	Now       string `name:"now" help:"Check as of this instant (RFC 3339) instead of now."`
}

// Run verifies and prints the hubs, or the reason.
func (c *FederationVerifyDirectoryCmd) Run() error {
	rk, err := os.ReadFile(c.RootKey)
	if err != nil {
		return err
	}
	root, err := federation.ParseRootKey(rk)
	if err != nil {
		return err
	}
	now := time.Now()
	if c.Now != "" {
		if now, err = time.Parse(time.RFC3339, c.Now); err != nil {
			return fmt.Errorf("--now: %w", err)
		}
	}
	var b []byte
	switch {
	case c.Directory == "-":
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 8<<20))
	case strings.HasPrefix(c.Directory, "http://") || strings.HasPrefix(c.Directory, "https://"):
		b, err = fetchDirectory(strings.TrimRight(c.Directory, "/") + "/.well-known/certhub-directory")
	default:
		b, err = os.ReadFile(c.Directory)
	}
	if err != nil {
		return err
	}
	v, err := federation.VerifyDirectory(b, root, now, false)
	if err != nil {
		fmt.Printf("directory refused: %v\n", err)
		return fmt.Errorf("%s", federation.ReasonOf(err))
	}
	fmt.Printf("directory of hub %s (root %s), issued %s, expires %s: %d hubs\n", v.Issuer, v.Root,
		v.IssuedAt.UTC().Format(time.RFC3339), v.Expires.UTC().Format(time.RFC3339), len(v.Hubs))
	for _, e := range v.Sorted() {
		fmt.Printf("  %s %s %s parent=%s signer=%s authorities=%d types=%d\n", e.ID, e.Name, e.URL, orDash(e.Parent), e.Signer, len(e.Authorities), len(e.Types))
	}
	for _, d := range v.Dropped {
		fmt.Printf("  dropped: %s\n", d)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fetchDirectory(url string) ([]byte, error) {
	resp, err := federation.NewClient().Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 8<<20))
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeOut(path string, b []byte) error {
	if path == "" {
		_, err := os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
