package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/certhub/certhub/internal/demo"
	"github.com/certhub/certhub/internal/web"
)

// DemoCmd runs the hub on a demo data set.
type DemoCmd struct {
	ServeCmd
}

const demoDefaultData = "./certhub-demo-data"

// Run seeds an empty data directory once, prints how to try the hub, and
// serves. The demo keeps its data apart from ./certhub-data unless --data
// says otherwise.
func (c *DemoCmd) Run() error {
	if c.Data == "./certhub-data" {
		c.Data = demoDefaultData
	}
	if c.AdminToken == "" {
		c.AdminToken = "demo-admin-token"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopTracing, err := c.startTracing(ctx)
	if err != nil {
		return err
	}
	defer stopTracing()
	a, err := c.open(ctx, createHub)
	if err != nil {
		return err
	}
	defer a.Close()
	// The seeded documents reference the status lists under the address
	// serve will use, when it is known before listening.
	if host, port, err := net.SplitHostPort(c.Addr); a.certs.PublicURL == "" && err == nil && host != "" && port != "0" {
		a.certs.PublicURL = "http://" + c.Addr
	}

	marker := filepath.Join(c.Data, "demo-tokens.json")
	var seeded *demo.Seeded
	seededNow := false
	b, err := os.ReadFile(marker)
	switch {
	case err == nil:
		seeded = &demo.Seeded{}
		if err := json.Unmarshal(b, seeded); err != nil {
			return fmt.Errorf("%s: %w", marker, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		existing, err := a.store.ListAuthorities(ctx)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return fmt.Errorf("%s holds a hub that is not a demo; give the demo its own --data", c.Data)
		}
		fmt.Fprintln(os.Stderr, "certhub demo: seeding the demo data set …")
		start := time.Now()
		if seeded, err = demo.Seed(ctx, a.certs, a.items, time.Now()); err != nil {
			return err
		}
		seededNow = true
		fmt.Fprintf(os.Stderr, "certhub demo: %d certificates (%d revised, %d suspended, %d revoked, %d expired) in %s\n",
			seeded.Certificates, seeded.Revised, seeded.Suspended, seeded.Revoked, seeded.Expired, time.Since(start).Round(time.Millisecond))
		b, _ := json.MarshalIndent(seeded, "", "  ")
		if err := writeSecret(marker, string(b)); err != nil {
			return err
		}
	default:
		return err
	}
	// The demo's department: a stand-in licence API (pulled by a connector)
	// and a file-drop directory with a CSV and an .xlsx, bad rows included.
	dept, err := demo.StartDepartment()
	if err != nil {
		return err
	}
	defer dept.Close()
	engine := a.engine()
	dropDir := filepath.Join(c.Data, "drop")
	if seededNow {
		if err := demo.DropSamples(dropDir); err != nil {
			return err
		}
	}
	for _, def := range []string{demo.APIConnector(dept.URL), demo.FileConnector(dropDir)} {
		if _, _, err := engine.Apply(ctx, []byte(def)); err != nil {
			return fmt.Errorf("demo connector: %w", err)
		}
	}
	c.printTour(seeded)
	var holders []web.DemoHolder
	for _, h := range seeded.Holders {
		holders = append(holders, web.DemoHolder{Kind: h.Kind, ID: h.ID, Name: h.Name})
	}
	return c.serve(ctx, a, holders)
}

func (c *DemoCmd) printTour(s *demo.Seeded) {
	base := "http://" + c.Addr
	fmt.Printf(`
certhub demo — %s   (data: %s)

Tokens (Authorization: Bearer …):
  admin                        %s
`, base, c.Data, c.AdminToken)
	for _, t := range s.Tokens {
		fmt.Printf("  %-28s %s\n", t.Role, t.Secret)
	}
	consumer := ""
	for _, t := range s.Tokens {
		if t.Role == "consumer" {
			consumer = t.Secret
		}
	}
	fmt.Printf(`
Try:
  curl -s %[1]s/.well-known/jwks.json
  curl -s -H 'Authorization: Bearer %[2]s' %[1]s/api/v1/types
  curl -s -H 'Authorization: Bearer %[3]s' -H 'X-Purpose: %[10]s' -H 'X-Case-Id: 2026-0001' \
       '%[1]s/api/v1/certificates?holder_id=%[4]s'
  curl -s -H 'Authorization: Bearer %[3]s' -H 'X-Purpose: %[10]s' -H 'X-Case-Id: 2026-0001' \
       -X POST %[1]s/api/v1/match -d '{"type":"%[11]s","holder_id":"%[4]s","fields":{"holder_name":"%[8]s"}}'
  curl -s -H 'Authorization: Bearer %[3]s' %[1]s/api/v1/agreements
  # once-only: which materials of 食品经营许可 新办 are already satisfied, then the 材料减少 report
  curl -s -H 'Authorization: Bearer %[3]s' -X POST %[1]s/api/v1/service-items/%[12]s/resolve \
       -d '{"applicant":{"id":"%[4]s"},"case_id":"2026-0001","purpose":"%[12]s"}'
  curl -s -H 'Authorization: Bearer %[2]s' '%[1]s/api/v1/reports/materials?period=month'
  curl -s -X POST %[1]s/api/v1/verify -d '{"id":"%[5]s"}'

A person to look up: %[6]s (%[7]s); a company: %[8]s (%[9]s).

Pages: %[1]s/wallet (demo sign-in as a citizen or company), %[1]s/verify (window clerk),
       %[1]s/admin/agreements and %[1]s/admin/reports (administrator).

Connectors (they run every minute; bad rows wait in quarantine):
  curl -s -H 'Authorization: Bearer %[2]s' %[1]s/api/v1/connectors
  curl -s -H 'Authorization: Bearer %[2]s' %[1]s/api/v1/connectors/demo-scjg-api/runs
  curl -s -H 'Authorization: Bearer %[2]s' %[1]s/api/v1/connectors/demo-scjg-api/quarantine
`, base, c.AdminToken, consumer, s.SampleOrg.USCC, first(s.SampleIDs), s.SamplePerson.Name, s.SamplePerson.ID, s.SampleOrg.Name, s.SampleOrg.USCC,
		s.Purpose, demo.Market+"001", demo.ItemFoodNew)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
