package postgres_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/storetest"
	"github.com/certhub/certhub/internal/testenv"
)

// withReplica opens a store on the primary with its reads that may be a
// moment behind sent to the hot standby.
func withReplica(t *testing.T, primary, replica string, maxLag time.Duration) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), primary)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := postgres.UseReplica(context.Background(), s, replica, maxLag, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformanceThroughReplica runs the store conformance with a real hot
// standby (.ci/services) taking the lookups and reports; the primary's
// sessions commit with remote_apply, so what a test wrote is there to read.
func TestConformanceThroughReplica(t *testing.T) {
	t.Parallel()
	storetest.RunTests(t, func(t *testing.T) *sqlstore.Store {
		p, r := testenv.PostgresReplicaURLs(t)
		s := withReplica(t, p, r, 2*time.Second)
		if st, _, ok := s.ReplicaStatus(); !ok || st != "ok" {
			t.Fatalf("replica status %q", st)
		}
		return s
	})
}

// TestReplicaFreshness: with the standby's replay paused, a lookup marked
// as allowed to be a moment behind reads the standby — it does not see a
// revocation the primary committed — only while the standby is within its
// allowed lag; past it, lookups read the primary. Verification's read
// never goes to the standby: the revocation is seen at once. When replay
// resumes the standby is used again. A replica that is down, or not a
// standby, is never used and the store keeps working on the primary.
//
// Not parallel: pausing the standby's replay holds up, for a few seconds,
// every session anywhere that commits with remote_apply.
func TestReplicaFreshness(t *testing.T) {
	ctx := context.Background()
	p, r := testenv.PostgresReplicaURLs(t)
	s := withReplica(t, p, r, time.Second)
	cert := storetest.SeedCertificate(t, s)

	// A session of its own on the primary commits locally: it does not
	// wait for a standby that is paused.
	local, err := pgx.Connect(ctx, strings.Replace(p, "synchronous_commit=remote_apply", "synchronous_commit=local", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close(ctx)
	standby, err := pgx.Connect(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close(ctx)
	if _, err := standby.Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if _, err := standby.Exec(context.Background(), `SELECT pg_wal_replay_resume()`); err != nil {
				t.Error(err)
			}
		}
	}
	defer resume()
	if _, err := local.Exec(ctx, `UPDATE certificates SET state = 'revoked', state_reason = 'test' WHERE id = $1`, cert.ID); err != nil {
		t.Fatal(err)
	}
	lookup := func() certificates.State {
		t.Helper()
		got, _, err := s.FindCertificates(certificates.WithStaleReads(ctx), certificates.Query{HolderIndex: cert.HolderIndex, Status: "", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got {
			if c.ID == cert.ID {
				return c.State
			}
		}
		return "absent"
	}
	// Within the allowed lag: the lookup is the standby's, a moment behind.
	if st := lookup(); st != certificates.StateValid {
		t.Fatalf("a lookup within the lag reads %s, want the standby's valid", st)
	}
	// What decides a verification reads the primary: revoked, at once.
	if c, err := s.GetCertificate(ctx, cert.ID); err != nil || c.State != certificates.StateRevoked {
		t.Fatalf("verification's read: %v %v", c, err)
	}
	// Past the allowed lag the standby is set aside.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, detail, _ := s.ReplicaStatus()
		if st == "lagging" {
			if got := lookup(); got != certificates.StateRevoked {
				t.Fatalf("a lookup with the standby %s (%s) reads %s, want the primary's revoked", st, detail, got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the paused standby is still %q", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resume()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st, _, _ := s.ReplicaStatus(); st == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby is not used again after its replay resumed")
		}
	}
	if st := lookup(); st != certificates.StateRevoked {
		t.Fatalf("the caught-up standby reads %s", st)
	}

	// A replica that is down, and one that is not a standby.
	dead := *mustURL(t, r)
	dead.Host = "127.0.0.1:" + closedPort(t)
	for name, u := range map[string]string{"unreachable": dead.String(), "promoted": strings.Replace(p, "synchronous_commit=remote_apply", "synchronous_commit=local", 1)} {
		s2 := withReplica(t, p, u, time.Second)
		if st, _, _ := s2.ReplicaStatus(); st != name {
			t.Errorf("replica %s: status %q", name, st)
		}
		if _, _, err := s2.FindCertificates(certificates.WithStaleReads(ctx), certificates.Query{HolderIndex: cert.HolderIndex, Limit: 10}); err != nil {
			t.Errorf("replica %s: a lookup fails instead of reading the primary: %v", name, err)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}
