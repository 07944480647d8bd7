package main_test

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/testenv"
)

// TestReadReplica: a hub on a PostgreSQL primary with a real hot standby
// as its read replica (CERTHUB_DATABASE_READ_URL). /readyz reports the
// replica; a department's lookup is answered through it; a revocation is
// answered revoked at once by verification and by the next lookup. With
// the replica unreachable the hub stays ready, says so, and answers from
// the primary.
func TestReadReplica(t *testing.T) {
	t.Parallel()
	primary, replica := testenv.PostgresReplicaURLs(t)
	data := t.TempDir()
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=" + primary, "CERTHUB_S3_ENDPOINT=", "CERTHUB_DATABASE_READ_URL=" + replica}
	p := start(t, env, "--data", data)
	if r := p.must(200, "GET", "/readyz", "", nil); r["read_replica"] != "ok" || r["database"] != "ok" {
		t.Fatalf("readyz with a replica: %v", r)
	}
	issuer, consumer := setup(t, p)
	c := p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY1330100077"))
	id := c["id"].(string)
	lookup := func() map[string]any {
		t.Helper()
		got := p.must(200, "GET", "/api/v1/certificates?holder_id="+company+"&type="+licence, consumer, nil, purpose...)
		for _, x := range got["certificates"].([]any) {
			if m := x.(map[string]any); m["id"] == id {
				return m
			}
		}
		t.Fatalf("the lookup does not find %s: %v", id, got)
		return nil
	}
	if st := lookup()["status"]; st != "valid" {
		t.Fatalf("lookup through the replica: %v", st)
	}
	p.must(200, "POST", "/api/v1/certificates/"+id+"/revoke", issuer, map[string]string{"reason": "吊销"})
	if v := p.must(200, "POST", "/api/v1/verify", "", map[string]string{"id": id}); v["valid"] != false || v["status"] != "revoked" {
		t.Fatalf("verify after the revocation: %v", v)
	}
	if st := lookup()["status"]; st != "revoked" {
		t.Fatalf("lookup after the revocation: %v", st)
	}
	p.stop()

	// The replica unreachable: ready, said so, answered by the primary.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	u, _ := url.Parse(replica)
	u.Host = closed
	env[len(env)-1] = "CERTHUB_DATABASE_READ_URL=" + u.String()
	p = start(t, env, "--data", data)
	r := p.must(200, "GET", "/readyz", "", nil)
	if rr, _ := r["read_replica"].(string); !strings.HasPrefix(rr, "unreachable: reads go to the primary") {
		t.Fatalf("readyz with the replica down: %v", r)
	}
	if st := lookup()["status"]; st != "revoked" {
		t.Fatalf("lookup with the replica down: %v", st)
	}
}
