package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
)

// testAgreementSuspension: a suspended agreement is stored and read back as
// suspended (the status constraint allows it on both databases), resumed
// from suspended only, and withdrawn from suspended.
func testAgreementSuspension(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	SeedCatalog(t, s)
	must(t, s.CreateConsumer(ctx, &exchange.Consumer{ID: "csm_1", Name: "受理平台", USCC: authCode, Scopes: []string{exchange.ScopeRead},
		Status: exchange.ConsumerActive, CreatedAt: t0}))
	from, _ := certificates.ParseDate("2026-01-01")
	until, _ := certificates.ParseDate("2026-12-31")
	a := &exchange.Agreement{ID: "agr_1", Consumer: "csm_1", Grants: []exchange.Grant{{Type: typeCode, Fields: []string{"address"}}},
		Purposes: []string{"SX-1"}, ValidFrom: from, ValidUntil: until, RatePerMinute: 60, Status: exchange.AgreementApproved,
		RequestedBy: "admin:bootstrap", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateAgreement(ctx, a))
	step := func(from, to, reason string, at time.Time) {
		t.Helper()
		a.Status, a.Reason, a.DecidedBy, a.DecidedAt, a.UpdatedAt = to, reason, "issuer:tok_1", &at, at
		must(t, s.DecideAgreement(ctx, a, from))
		got, err := s.Agreement(ctx, "agr_1")
		must(t, err)
		if got.Status != to || got.Reason != reason || !got.DecidedAt.Equal(at) {
			t.Fatalf("after %s → %s: %+v", from, to, got)
		}
	}
	step(exchange.AgreementApproved, exchange.AgreementSuspended, "立案调查", t0.Add(time.Hour))
	a.Status = exchange.AgreementApproved
	mustCode(t, errs.Conflict, s.DecideAgreement(ctx, a, exchange.AgreementApproved)) // it is suspended now
	step(exchange.AgreementSuspended, exchange.AgreementApproved, "调查结束", t0.Add(2*time.Hour))
	step(exchange.AgreementApproved, exchange.AgreementSuspended, "再次立案", t0.Add(3*time.Hour))
	step(exchange.AgreementSuspended, exchange.AgreementWithdrawn, "协议终止", t0.Add(4*time.Hour))
	if as, _ := s.ListAgreements(ctx, "csm_1"); len(as) != 1 || as[0].Status != exchange.AgreementWithdrawn {
		t.Fatalf("agreements = %+v", as)
	}
}

// testResolutionsByConsumer: a case is an item, a consumer and its case
// id, so two offices numbering their cases alike are two cases; a retry
// keeps the better count (more avoided, or as many avoided and fewer
// avoidable with an agreement) and never adds to it.
func testResolutionsByConsumer(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	rec := func(consumer string, avoided, avoidable int) {
		t.Helper()
		must(t, s.RecordResolution(ctx, &exchange.Resolution{Item: "SX-1", CaseID: "2026-0001", Department: "某局", Consumer: consumer,
			Day: "2026-03-01", Required: 4, Avoided: avoided, Avoidable: avoidable, At: t0}))
	}
	rec("csm_a", 0, 2) // no agreement yet: nothing avoided, two avoidable
	rec("csm_b", 1, 0) // another office, same case number
	rec("csm_a", 0, 1) // a retry that is no better in avoided, but knows of fewer avoidable
	rec("csm_a", 0, 2) // a worse one does not undo it
	rec("csm_b", 2, 0) // a better one replaces
	rec("csm_b", 1, 1) // a worse one does not
	rs, err := s.Resolutions(stale(ctx), "2026-03-01", "2026-03-01")
	must(t, err)
	got := map[string][2]int{}
	for _, r := range rs {
		got[r.Consumer] = [2]int{r.Avoided, r.Avoidable}
	}
	if len(rs) != 2 || got["csm_a"] != [2]int{0, 1} || got["csm_b"] != [2]int{2, 0} {
		t.Fatalf("resolutions = %+v", rs)
	}
}

// testCaseWithLedger: a resolve's case record goes in the transaction of
// its ledger entries (exchange.Ledger.RecordWithCase on a CaseLedger).
// Resolves at once, two of each case, among plain appends: every entry is
// chained once, in one chain that verifies, and every case is recorded
// once, at its best. A resolve with no entries records its case alone.
func testCaseWithLedger(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	l := newLedger(t, s)
	entry := func(n int) exchange.AuditEntry {
		return exchange.AuditEntry{Actor: "consumer:csm_1", ActorName: "受理平台", Action: "resolve", Certificates: []string{fmt.Sprintf("cert-%d", n)},
			Purpose: "SX-1", CaseID: fmt.Sprintf("case-%02d", n)}
	}
	var wg sync.WaitGroup
	errc := make(chan error, 60)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i >= 40 { // a lookup's entry, no case
				errc <- l.RecordAll(ctx, []exchange.AuditEntry{entry(i)})
				return
			}
			errc <- l.RecordWithCase(ctx, []exchange.AuditEntry{entry(i), entry(i)}, s, &exchange.Resolution{Item: "SX-1",
				CaseID: fmt.Sprintf("case-%02d", i/2), Department: "某局", Consumer: "csm_1", Day: "2026-03-04", Required: 2,
				Avoided: (i + i/2) % 2, At: t0})
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		must(t, err)
	}
	// No entries (nothing the consumer may see): the case alone.
	must(t, l.RecordWithCase(ctx, nil, s, &exchange.Resolution{Item: "SX-1", CaseID: "case-none", Department: "某局", Consumer: "csm_1",
		Day: "2026-03-04", Required: 2, At: t0}))
	if size, _, err := s.AuditHead(ctx); err != nil || size != 100 {
		t.Fatalf("ledger size %d (%v), want 100: 40 resolves of 2 entries and 20 lookups", size, err)
	}
	rep, err := l.Verify(ctx, 0, 0)
	must(t, err)
	if !rep.OK || rep.Checked != 100 {
		t.Fatalf("ledger does not verify: %+v", rep)
	}
	rs, err := s.Resolutions(stale(ctx), "2026-03-04", "2026-03-04")
	must(t, err)
	if len(rs) != 21 {
		t.Fatalf("%d cases recorded, want 21", len(rs))
	}
	for _, r := range rs {
		if r.CaseID != "case-none" && r.Avoided != 1 {
			t.Fatalf("case %s kept avoided %d, want its best, 1", r.CaseID, r.Avoided)
		}
	}
}
