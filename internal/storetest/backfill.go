package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/exchange/federation"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/sqlstore"
)

// testBackfillCorrects: a parent restored from an old backup holds a
// version in an old state; a page of the child's backfill marked at or
// after the parent's cursor gives it the state it carries (and its time),
// with an event of kind backfilled in the parent's outbox; a page that
// says the same changes nothing and writes no event; a page whose mark
// the cursor has passed (the parent applied events after it) leaves what
// is held as it is, on both the copy and staging paths. A backfilled
// version pushed on as an event corrects the grandparent's copy likewise.
func testBackfillCorrects(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	const auth = "11330102MB0000002A"
	const typ = auth + "002"
	ident := func(serial string, v int) certificates.Identifier {
		return certificates.Identifier{TypeCode: typ, Issuer: auth, Serial: serial, Version: v}
	}
	n := 0
	version := func(id certificates.Identifier, st certificates.State, reason, by string, at time.Time) federation.Change {
		n++
		from, _ := certificates.ParseDate("2026-01-01")
		e := exchange.Event{ID: "evt_bf_" + id.String() + string(rune('a'+n)), Kind: exchange.EventBackfilled, CertificateID: id.String(),
			Lineage: id.Lineage(), Type: typ, Authority: auth, Version: id.Version, Reason: reason, At: at, HomeHub: "330102"}
		return federation.Change{Event: e, Version: &federation.Version{ID: id.String(), HomeHub: "330102", Lineage: id.Lineage(), Type: typ,
			Authority: auth, Version: id.Version, HolderKind: certificates.Organisation, HolderIndex: "hx", HolderSealed: []byte("s"),
			HolderName: "某某公司", ValidFrom: from, State: st, StateReason: reason, SupersededBy: by, DocumentKey: "federated/330102/batches/o1",
			DocumentLength: 10, DocumentSHA256: "ab", KID: "kid-c", IssuedAt: t0, UpdatedAt: at}}
	}
	a1, a2, b1, c1 := ident("000001", 1), ident("000001", 2), ident("000002", 1), ident("000003", 1)
	// What the backup held: the first round of the backfill, all valid,
	// the cursor at its mark 10.
	t1 := t0.Add(time.Hour)
	first := []federation.Change{version(a1, certificates.StateValid, "", "", t1), version(b1, certificates.StateValid, "", "", t1),
		version(c1, certificates.StateValid, "", "", t1)}
	through, kept, err := s.ApplyBackfill(ctx, "330102", 0, first, nil, 10, 10, t1)
	must(t, err)
	if through != 10 || kept != 3 {
		t.Fatalf("first round: through %d, %d kept", through, kept)
	}
	// The child, since: a1 revised (superseded by a2), b1 revoked, c1
	// unchanged; its events of those pruned. Its second round, marked at
	// 40, pushes every version with its state now.
	t2 := t0.Add(2 * time.Hour)
	second := []federation.Change{version(a1, certificates.StateSuperseded, "", a2.String(), t2), version(a2, certificates.StateValid, "", "", t2),
		version(b1, certificates.StateRevoked, "吊销", "", t2), version(c1, certificates.StateValid, "", "", t2)}
	through, kept, err = s.ApplyBackfill(ctx, "330102", 10, second, nil, 40, 40, t2)
	must(t, err)
	if through != 40 || kept != 3 {
		t.Fatalf("second round: through %d, %d kept or corrected, want a2 kept, a1 and b1 corrected", through, kept)
	}
	want := map[string]struct {
		st     certificates.State
		reason string
		by     string
		at     time.Time
	}{a1.String(): {certificates.StateSuperseded, "", a2.String(), t2}, a2.String(): {certificates.StateValid, "", "", t2},
		b1.String(): {certificates.StateRevoked, "吊销", "", t2}, c1.String(): {certificates.StateValid, "", "", t1}}
	check := func(what string) {
		t.Helper()
		vs, err := s.FederatedVersions(ctx, "330102")
		must(t, err)
		if len(vs) != len(want) {
			t.Fatalf("%s: %d versions held", what, len(vs))
		}
		for _, v := range vs {
			w := want[v.ID]
			if v.State != w.st || v.StateReason != w.reason || v.SupersededBy != w.by || !v.UpdatedAt.Equal(w.at) || v.DocumentLength != 10 ||
				v.HolderName != "某某公司" {
				t.Errorf("%s: %s held as %s %q %q %s, want %+v", what, v.ID, v.State, v.StateReason, v.SupersededBy, v.UpdatedAt, w)
			}
		}
	}
	check("after the second round")
	backfilled := func() map[string]int {
		t.Helper()
		evs, err := s.EventsAfter(ctx, 0, 100, t0.Add(24*time.Hour))
		must(t, err)
		out := map[string]int{}
		for _, e := range evs {
			if e.Kind == exchange.EventBackfilled {
				out[e.CertificateID]++
			}
		}
		return out
	}
	if ev := backfilled(); ev[a1.String()] != 2 || ev[a2.String()] != 1 || ev[b1.String()] != 2 || ev[c1.String()] != 1 {
		t.Fatalf("backfilled events in the parent's outbox: %v", ev)
	}

	// The same page again (a retry): nothing changes, no event.
	through, kept, err = s.ApplyBackfill(ctx, "330102", 40, second, nil, 40, 40, t2.Add(time.Minute))
	must(t, err)
	if through != 40 || kept != 0 {
		t.Fatalf("the second round again: through %d, %d kept or corrected", through, kept)
	}
	// An event after the mark reinstates nothing but suspends c1; then a
	// page of the second round arrives late (a replica that lost its
	// lease), saying c1 valid: the cursor passed its mark, so c1 stays
	// suspended, and a version new to this hub is still kept.
	sus := federation.Change{Seq: 41, Event: exchange.Event{ID: "evt_sus_c1", Kind: exchange.EventSuspended, CertificateID: c1.String(),
		Lineage: c1.Lineage(), Type: typ, Authority: auth, Version: 1, Reason: "停业整顿", At: t2.Add(time.Minute), HomeHub: "330102"}}
	if through, _, err = s.ApplyPush(ctx, "330102", 40, []federation.Change{sus}, nil, t2); err != nil || through != 41 {
		t.Fatalf("the suspension: through %d, %v", through, err)
	}
	d1 := ident("000004", 1)
	late := []federation.Change{version(c1, certificates.StateValid, "", "", t2), version(d1, certificates.StateValid, "", "", t2)}
	through, kept, err = s.ApplyBackfill(ctx, "330102", 40, late, nil, 40, 0, t2.Add(2*time.Minute))
	must(t, err)
	if through != 41 || kept != 1 {
		t.Fatalf("a late page: through %d, %d kept or corrected, want d1 only", through, kept)
	}
	want[c1.String()] = struct {
		st     certificates.State
		reason string
		by     string
		at     time.Time
	}{certificates.StateSuspended, "停业整顿", "", t2.Add(time.Minute)}
	want[d1.String()] = want[a2.String()]
	check("after a late page")

	// The grandparent: a backfilled version pushed on as an event of the
	// child's outbox corrects the copy held, whose later events it
	// applied before.
	up := version(b1, certificates.StateValid, "", "", t1)
	up.Seq = 100
	if _, _, err := s.ApplyPush(ctx, "330100", 0, []federation.Change{up}, nil, t1); err != nil {
		t.Fatal(err)
	}
	// (b1 is held already, revoked, from the county's own pages above;
	// the city's event carries valid, as it held it when it pushed.)
	if v, _ := s.FederatedVersion(ctx, b1.String()); v.State != certificates.StateValid || !v.UpdatedAt.Equal(t1) {
		t.Fatalf("a backfilled event held version: %+v", v)
	}
}

// testBackfillRestart: the backfill starts over in a new round, marked
// with the outbox's last seq now and scanning from the start, whether it
// was done or not; the lease's read says whether it is done; a page of
// the round it ended cannot move the new one's place; and pruning records
// how far it deleted the outbox, never back.
func testBackfillRestart(t *testing.T, s *sqlstore.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	_, err := s.Backfill(ctx)
	mustCode(t, errs.NotFound, err)
	pruned, err := s.PrunedThrough(ctx)
	must(t, err)
	if pruned != 0 {
		t.Fatalf("a new store pruned through %d", pruned)
	}
	// Ten events in the outbox, an hour old.
	const auth = "11330102MB0000002A"
	const typ = auth + "002"
	var chs []federation.Change
	for i := 1; i <= 10; i++ {
		id := certificates.Identifier{TypeCode: typ, Issuer: auth, Serial: "00000" + string(rune('0'+i%10)), Version: 1}
		chs = append(chs, federation.Change{Seq: int64(i), Event: exchange.Event{ID: "evt_r" + string(rune('a'+i)), Kind: exchange.EventRevoked,
			CertificateID: id.String(), Lineage: id.Lineage(), Type: typ, Authority: auth, Version: 1, At: now.Add(-time.Hour), HomeHub: "330102"}})
	}
	_, _, err = s.ApplyPush(ctx, "330102", 0, chs, nil, now)
	must(t, err)
	evs, err := s.EventsAfter(ctx, 0, 100, now)
	must(t, err)
	last := evs[len(evs)-1].Seq

	b, err := s.StartBackfill(ctx, now)
	must(t, err)
	if b.Round != 1 || b.EventsMark != last {
		t.Fatalf("first round: %+v", b)
	}
	p, ok, err := s.LeaseAggregation(ctx, "a", now, now.Add(time.Minute))
	must(t, err)
	if !ok || p.Backfilled {
		t.Fatalf("lease during the first round: %+v %v", p, ok)
	}
	b.OwnAfter, b.CopiesAfter, b.Done = 7, "x", true
	must(t, s.MoveBackfill(ctx, "a", b))
	if p, _, _ = s.LeaseAggregation(ctx, "a", now, now.Add(time.Minute)); !p.Backfilled {
		t.Fatalf("lease after the first round: %+v", p)
	}

	// Started over: a new round, a new mark, from the start, not done.
	later := now.Add(time.Hour)
	nb, err := s.RestartBackfill(ctx, later, "the parent lost its copies")
	must(t, err)
	if nb.Round != 2 || nb.Reason != "the parent lost its copies" || nb.EventsMark != last || !nb.MarkedAt.Equal(later) ||
		nb.OwnAfter != 0 || nb.CopiesAfter != "" || nb.Done {
		t.Fatalf("second round: %+v", nb)
	}
	if got, err := s.StartBackfill(ctx, later.Add(time.Hour)); err != nil || got.Round != 2 || !got.MarkedAt.Equal(later) || got.Done {
		t.Fatalf("the second round read by StartBackfill: %+v %v", got, err)
	}
	if p, _, _ = s.LeaseAggregation(ctx, "a", now, now.Add(time.Minute)); p.Backfilled {
		t.Fatalf("lease after starting over: %+v", p)
	}
	// A page of the first round, on its way meanwhile, cannot move it.
	b.OwnAfter, b.Done = 9, false
	mustCode(t, errs.Conflict, s.MoveBackfill(ctx, "a", b))
	nb.OwnAfter = 3
	must(t, s.MoveBackfill(ctx, "a", nb))
	if got, _ := s.Backfill(ctx); got.OwnAfter != 3 || got.Round != 2 {
		t.Fatalf("the second round after a page: %+v", got)
	}
	// Started over before it was done: round three.
	if nb, err = s.RestartBackfill(ctx, later, "asked by cli"); err != nil || nb.Round != 3 || nb.OwnAfter != 0 {
		t.Fatalf("third round: %+v %v", nb, err)
	}

	// Pruning: the push's cursor at the 6th event, the webhooks' past
	// the end: the first six go, and the store says so.
	must(t, s.MoveAggregation(ctx, "a", evs[5].Seq))
	if _, ok, err := s.LeaseDispatch(ctx, "w", now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("dispatch lease: %v %v", ok, err)
	}
	must(t, s.Fanout(ctx, "w", nil, last))
	must(t, s.Prune(ctx, now))
	if pruned, err = s.PrunedThrough(ctx); err != nil || pruned != evs[5].Seq {
		t.Fatalf("pruned through %d (%v), want %d", pruned, err, evs[5].Seq)
	}
	left, err := s.EventsAfter(ctx, 0, 100, now)
	must(t, err)
	if len(left) != 4 || left[0].Seq != evs[6].Seq {
		t.Fatalf("%d events left after pruning", len(left))
	}
	// The cursor moved back (a parent restored): nothing more goes, and
	// the record does not move back.
	must(t, s.MoveAggregation(ctx, "a", evs[1].Seq))
	must(t, s.Prune(ctx, now))
	if pruned, _ = s.PrunedThrough(ctx); pruned != evs[5].Seq {
		t.Fatalf("pruned through %d after pruning nothing", pruned)
	}
}
