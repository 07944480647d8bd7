package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/demo"
)

// GenCmd fills a store with N certificates through the issuance path
// (validated, sealed, stored, indexed), for benchmarks and load tests.
type GenCmd struct {
	StoreConfig
	Count       int    `default:"1000" help:"How many certificates to issue."`
	Concurrency int    `default:"16" help:"Issuances in flight at once."`
	Seed        uint64 `default:"1" help:"Random seed; the same seed makes the same holders."`
	HoldersFile string `help:"Write the holder ids used (one per line, person ids first) to this file, for load generators."`
	Batch       int    `default:"0" help:"Issue through the bulk path, N requests a batch (one batch object each, as connectors do); 0 issues one at a time."`
	Rate        int    `default:"0" help:"Issue at most N certificates a second (0: as fast as it goes), for load at a steady pace."`
}

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
	// Each worker owns a generator; holders are drawn from a pool so that a
	// holder has several certificates, as in life.
	people := c.Count/3 + 1
	var hf *os.File
	if c.HoldersFile != "" {
		if hf, err = os.Create(c.HoldersFile); err != nil {
			return err
		}
		defer hf.Close()
		for i := 0; i < min(people, 100000); i++ {
			fmt.Fprintln(hf, personAt(c.Seed, i).ID)
		}
	}
	var next, done atomic.Int64
	start := time.Now()
	step := max(c.Batch, 1)
	// pace waits until the i-th certificate is due at the rate asked.
	pace := func(i int64) {
		if c.Rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(c.Rate))))
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, c.Concurrency)
	for w := 0; w < c.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			g := demo.NewGenerator(c.Seed+uint64(w)*1000003, a.certs.Today())
			for {
				first := next.Add(int64(step)) - int64(step)
				if first >= int64(c.Count) {
					return
				}
				pace(first)
				reqs := make([]*certificates.IssueRequest, 0, step)
				for i := first; i < min(first+int64(step), int64(c.Count)); i++ {
					reqs = append(reqs, genRequest(g, c.Seed, i, people))
				}
				if c.Batch == 0 {
					if _, err := a.certs.Issue(ctx, certificates.Scope{}, reqs[0], nil); err != nil {
						errc <- fmt.Errorf("certificate %d: %w", first, err)
						return
					}
				} else {
					res, err := a.certs.IssueBatch(ctx, certificates.Scope{}, reqs)
					if err == nil {
						for k, r := range res {
							if r.Err != nil {
								err = fmt.Errorf("certificate %d: %w", first+int64(k), r.Err)
								break
							}
						}
					}
					if err != nil {
						errc <- fmt.Errorf("batch from %d: %w", first, err)
						return
					}
				}
				if n := done.Add(int64(len(reqs))); n/10000 != (n-int64(len(reqs)))/10000 {
					el := time.Since(start).Seconds()
					fmt.Fprintf(os.Stderr, "gen: %d/%d (%.0f/s)\n", n, c.Count, float64(n)/el)
				}
			}
		}(w)
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

// genRequest is the i-th certificate of a seed's run: person i%people is
// the same person for every worker (the generator is seeded by index).
func genRequest(g *demo.Generator, seed uint64, i int64, people int) *certificates.IssueRequest {
	p := personAt(seed, int(i)%people)
	switch i % 4 {
	case 0, 1:
		return g.Property(p)
	case 2:
		return g.Birth(personAt(seed+1, int(i)), p)
	default:
		o := demo.NewOrg(rand.New(rand.NewPCG(seed, uint64(i))), int(i))
		return g.FoodPermit(o, false)
	}
}

// personAt returns the i-th person of a seed's population: the holder
// file lists the same people.
func personAt(seed uint64, i int) demo.Person {
	r := rand.New(rand.NewPCG(seed, uint64(i)))
	return demo.NewPerson(r, i)
}
