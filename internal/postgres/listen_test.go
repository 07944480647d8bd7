package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/testenv"
)

// TestListenStatus: a state change written to the outbox is notified, by
// its transaction, to a hub listening; an issuance is not. A dropped
// listening connection drops what was kept and listens again.
func TestListenStatus(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app := testenv.RandomName("listen_")
	s, err := postgres.Open(ctx, testenv.PostgresURL(t)+"&application_name="+app)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan string, 10)
	listening := make(chan struct{}, 10)
	go postgres.ListenStatus(ctx, s, func(lin string) { got <- lin }, func() { listening <- struct{}{} }, nil)
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("not listening")
	}
	insert := func(id, kind, lineage string) {
		t.Helper()
		if _, err := s.DB().Exec(ctx, `INSERT INTO events (id, kind, certificate_id, lineage, type_code, authority, version, at)
			VALUES ($1, $2, $3, $4, 'T', 'A', 1, now())`, id, kind, lineage+".001", lineage); err != nil {
			t.Fatal(err)
		}
	}
	insert("evt_1", "issued", "lin-issued")
	insert("evt_2", "revoked", "lin-revoked")
	select {
	case lin := <-got:
		if lin != "lin-revoked" {
			t.Fatalf("notified %q, want lin-revoked (an issuance is not a state change)", lin)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification of the revocation")
	}
	// The listening connection dropped (the server ended it): what was
	// kept is dropped, and it listens again.
	if _, err := s.DB().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query = 'LISTEN certhub_status' AND application_name = $1 AND pid <> pg_backend_pid()`, app); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the reset of the loss, then the one of listening again
		select {
		case <-listening:
		case <-time.After(15 * time.Second):
			t.Fatalf("no reset %d after the connection was dropped", i+1)
		}
	}
	insert("evt_3", "suspended", "lin-suspended")
	select {
	case lin := <-got:
		if lin != "lin-suspended" {
			t.Fatalf("notified %q after reconnecting, want lin-suspended", lin)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification after listening again")
	}
	// The outbox's changes read back for the catch-up.
	changes, err := s.StatusChangesAfter(ctx, 0, 10)
	if err != nil || len(changes) != 2 || changes[0].Lineage != "lin-revoked" || changes[1].Lineage != "lin-suspended" {
		t.Fatalf("status changes: %+v %v", changes, err)
	}
	if last, err := s.LastEventSeq(ctx); err != nil || last != changes[1].Seq {
		t.Fatalf("last seq %d %v, want %d", last, err, changes[1].Seq)
	}
}
