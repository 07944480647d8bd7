package main_test

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/testenv"
)

// TestStatusAcrossReplicas: two hub replicas on one PostgreSQL + S3, each
// keeping the statuses verification reads in memory. A document verified
// on the second (so kept there) and then suspended, reinstated and revoked
// on the first is answered with its new status by the second within a
// second each time (the first's notification; the outbox read every
// quarter second if it were missed). An API token, kept in memory for a
// second by each replica that saw it, is refused by the replica that
// revoked it at once and by the other within a second.
func TestStatusAcrossReplicas(t *testing.T) {
	t.Parallel()
	s3 := testenv.S3Server(t)
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=" + testenv.PostgresURL(t), "CERTHUB_S3_ENDPOINT=" + s3.Endpoint,
		"CERTHUB_S3_ACCESS_KEY=" + s3.AccessKey, "CERTHUB_S3_SECRET_KEY=" + s3.SecretKey, "CERTHUB_S3_BUCKET=" + testenv.RandomName("fresh-"),
		"CERTHUB_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))}
	a := start(t, env, "--data", t.TempDir())
	b := start(t, env, "--data", t.TempDir())
	issuer, _ := setup(t, a)
	c := a.must(201, "POST", "/api/v1/certificates", issuer, permit("JY1330100088"))
	id, doc := c["id"].(string), c["document"].(string)
	verify := func() (string, bool) {
		v := b.must(200, "POST", "/api/v1/verify", "", map[string]string{"document": doc})
		st, _ := v["status"].(string)
		return st, v["valid"] == true
	}
	for range 3 { // kept on the second replica
		if st, ok := verify(); st != "valid" || !ok {
			t.Fatalf("the second replica: %s %v", st, ok)
		}
	}
	for _, step := range []struct{ action, want string }{{"suspend", "suspended"}, {"reinstate", "valid"}, {"revoke", "revoked"}} {
		a.must(200, "POST", "/api/v1/certificates/"+id+"/"+step.action, issuer, map[string]string{"reason": "检查"})
		// The bound is on staleness, not on how fast an answer comes: a
		// verification asked a second after the change must know it,
		// however long it then takes on a loaded machine.
		done := time.Now()
		for {
			late := time.Since(done) > time.Second
			st, _ := verify()
			if st == step.want {
				break
			}
			if late {
				t.Fatalf("after %s on the first replica the second still answers %s a second later", step.action, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	b.must(200, "GET", "/api/v1/certificates/"+id, issuer, nil) // kept on the second replica
	var tokenID string
	for _, tok := range a.must(200, "GET", "/api/v1/tokens", admin, nil)["tokens"].([]any) {
		if m := tok.(map[string]any); m["role"] == "issuer" {
			tokenID = m["id"].(string)
		}
	}
	a.must(204, "DELETE", "/api/v1/tokens/"+tokenID, admin, nil)
	revoked := time.Now()
	if got := a.do("GET", "/api/v1/certificates/"+id, issuer, nil); got.status != 401 {
		t.Fatalf("the revoking replica answers a revoked token %d: %s", got.status, got.body)
	}
	for {
		late := time.Since(revoked) > time.Second
		got := b.do("GET", "/api/v1/certificates/"+id, issuer, nil)
		if got.status == 401 {
			break
		}
		if late {
			t.Fatalf("the second replica still answers a revoked token %d a second later", got.status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
