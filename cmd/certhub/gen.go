package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/demo"
)

// GenCmd fills a store with N certificates through the issuance path
// (validated, sealed, stored, indexed, recorded in the ledger), for
// benchmarks and load tests.
type GenCmd struct {
	StoreConfig
	Count         int    `default:"1000" help:"How many certificates to issue (cycles of 20: 6 property, 2 marriage — one per spouse —, 4 birth, 3 business licences and 3 food permits of the same companies)."`
	Start         int    `default:"0" help:"Index of the first certificate in the seed's sequence: a run with --start N after one with --count N goes on with the same population (a staged fill)."`
	Concurrency   int    `default:"16" help:"Issuances (or batches) in flight at once."`
	Seed          uint64 `default:"1" help:"Random seed; the same seed makes the same holders and certificates."`
	HoldersFile   string `help:"Write a sample of the people holding certificates 0 to start+count (their ids, one per line; they hold property and marriage certificates), spread evenly over the whole population, for load generators."`
	OrgsFile      string `name:"orgs-file" help:"Write a sample of the companies (USCCs, one per line; each holds a business licence and a food business permit), spread evenly like --holders-file."`
	HoldersSample int    `name:"holders-sample" default:"100000" help:"How many holders --holders-file and --orgs-file list (at most all of them)."`
	Batch         int    `default:"0" help:"Issue through the bulk path, N requests a batch (one batch object each, as connectors do); 0 issues one at a time."`
	Rate          int    `default:"0" help:"Issue at most N certificates a second (0: as fast as it goes), for load at a steady pace."`
}

// The sequence is made of cycles of 20 certificates: 6 property
// certificates (不动产权证书), 2 marriages (结婚证, one certificate per
// spouse), 4 birth certificates (出生医学证明), 3 business licences
// (营业执照) and 3 food business permits (食品经营许可证) of the same 3
// companies. Each cycle brings 4 adults (who marry each other and own
// property), 4 newborn children and 3 companies: 11 holders for 20
// certificates (5.5 million at 10 million). Every holder's id is distinct
// up to 10 million people (about 25 million certificates).
const (
	genCycle          = 20
	adultsPerCycle    = 4
	peoplePerCycle    = 8 // the adults, then the children
	companiesPerCycle = 3
	// ownerWindow: property owners and mothers are adults of the last
	// cycles, so that every adult holds about as many certificates
	// whatever the store's size (the lookup's answer does not grow).
	ownerWindow = 100
)

// Run issues the certificates and reports the rate.
func (c *GenCmd) Run() error {
	ctx := context.Background()
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := demo.Catalog(ctx, a.certs); err != nil {
		return err
	}
	end := int64(c.Start) + int64(c.Count)
	cycles := int((end + genCycle - 1) / genCycle)
	if err := writeSample(c.HoldersFile, cycles*adultsPerCycle, c.HoldersSample, func(j int) string {
		return personAt(c.Seed, j/adultsPerCycle*peoplePerCycle+j%adultsPerCycle).ID
	}); err != nil {
		return err
	}
	if err := writeSample(c.OrgsFile, cycles*companiesPerCycle, c.HoldersSample, func(k int) string { return orgAt(c.Seed, k).USCC }); err != nil {
		return err
	}
	next := atomic.Int64{}
	next.Store(int64(c.Start))
	var done atomic.Int64
	start := time.Now()
	step := max(c.Batch, 1)
	// pace waits until the n-th certificate of this run is due at the rate asked.
	pace := func(n int64) {
		if c.Rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(n) * time.Second / time.Duration(c.Rate))))
		}
	}
	today := a.certs.Today()
	var wg sync.WaitGroup
	errc := make(chan error, c.Concurrency)
	for w := 0; w < c.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				first := next.Add(int64(step)) - int64(step)
				if first >= end {
					return
				}
				pace(first - int64(c.Start))
				reqs := make([]*certificates.IssueRequest, 0, step)
				for i := first; i < min(first+int64(step), end); i++ {
					reqs = append(reqs, genRequest(c.Seed, today, i))
				}
				var issued []*certificates.Certificate
				if c.Batch == 0 {
					out, err := a.certs.Issue(ctx, certificates.Scope{}, reqs[0], nil)
					if err != nil {
						errc <- fmt.Errorf("certificate %d: %w", first, err)
						return
					}
					issued = append(issued, out.Certificate)
				} else {
					res, err := a.certs.IssueBatch(ctx, certificates.Scope{}, reqs)
					if err == nil {
						for k, r := range res {
							if r.Err != nil {
								err = fmt.Errorf("certificate %d: %w", first+int64(k), r.Err)
								break
							}
							issued = append(issued, r.Certificate)
						}
					}
					if err != nil {
						errc <- fmt.Errorf("batch from %d: %w", first, err)
						return
					}
				}
				// As an issuance through the API does: an entry per
				// certificate, filed under its holder (what the holder
				// sees of the ledger), all of a batch in one group commit.
				entries := make([]exchange.AuditEntry, len(issued))
				for k, ct := range issued {
					entries[k] = exchange.AuditEntry{Actor: "console:gen", ActorName: "certhub gen", Action: "issue",
						Certificates: []string{ct.ID}, Holder: ct.HolderIndex}
				}
				if err := a.ledger.RecordAll(ctx, entries); err != nil {
					errc <- fmt.Errorf("ledger, from %d: %w", first, err)
					return
				}
				if n := done.Add(int64(len(reqs))); n/10000 != (n-int64(len(reqs)))/10000 {
					el := time.Since(start).Seconds()
					fmt.Fprintf(os.Stderr, "gen: %d/%d (%.0f/s)\n", n, c.Count, float64(n)/el)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("issued %d certificates in %s: %.0f/s\n", done.Load(), el.Round(time.Millisecond), float64(done.Load())/el.Seconds())
	return nil
}

// writeSample writes n of total holders (id(j) for j evenly spaced over
// 0..total-1) to path, one a line; nothing when path is "".
func writeSample(path string, total, n int, id func(int) string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	n = min(n, total)
	for s := 0; s < n; s++ {
		fmt.Fprintln(w, id(int(int64(s)*int64(total)/int64(n))))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// genRequest is the i-th certificate of a seed's sequence. It depends on
// i alone, not on which worker makes it or in what order.
func genRequest(seed uint64, today certificates.Date, i int64) *certificates.IssueRequest {
	cyc, slot := int(i/genCycle), int(i%genCycle)
	r := rand.New(rand.NewPCG(seed^0x67656e, uint64(i)))
	g := demo.NewGeneratorAt(seed+uint64(i)*1000003, today, int(i))
	// adult is one of the adults of the last cycles (or of this one).
	adult := func() demo.Person {
		c := cyc - r.IntN(min(cyc, ownerWindow-1)+1)
		return personAt(seed, c*peoplePerCycle+r.IntN(adultsPerCycle))
	}
	switch {
	case slot < 6:
		return g.Property(adult())
	case slot < 10:
		// Two marriages a cycle, of the cycle's adults 0+1 and 2+3; both
		// spouses' certificates come from one generator, made alike for
		// either of them.
		m := (slot - 6) / 2
		mg := demo.NewGeneratorAt(seed^uint64(cyc*2+m)*0x9e37, today, cyc*2+m)
		a, b := personAt(seed, cyc*peoplePerCycle+2*m), personAt(seed, cyc*peoplePerCycle+2*m+1)
		return mg.Marriage(a, b)[(slot-6)%2]
	case slot < 14:
		return g.Birth(personAt(seed, cyc*peoplePerCycle+adultsPerCycle+slot-10), adult())
	case slot < 17:
		return g.Business(orgAt(seed, cyc*companiesPerCycle+slot-14))
	default:
		return g.FoodPermit(orgAt(seed, cyc*companiesPerCycle+slot-17), false)
	}
}

// personAt returns the n-th person of a seed's population: the holders
// file lists the same people. The id's birth date and sequence number
// come from n, so ids are distinct for n below 10 million.
func personAt(seed uint64, n int) demo.Person {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	p := demo.NewPerson(r, n)
	born := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n/500%20000)
	seq := n % 500 * 2
	if !p.Female {
		seq++ // odd for men
	}
	first17 := p.ID[:6] + born.Format("20060102") + fmt.Sprintf("%03d", seq)
	p.ID = first17 + string(certificates.CitizenIDCheck(first17))
	return p
}

// orgAt returns the k-th company of a seed's population, its USCC
// distinct for k below 100 million.
func orgAt(seed uint64, k int) demo.Org {
	o := demo.NewOrg(rand.New(rand.NewPCG(seed^0x6f7267, uint64(k))), k)
	first17 := o.USCC[:8] + fmt.Sprintf("M%c%07d", "ABCDEFGHJK"[k/10000000%10], k%10000000)
	o.USCC = first17 + string(certificates.USCCCheck(first17))
	return o
}
