package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/hubtest"
)

// BenchmarkStatusListRebuild measures what a lifecycle change costs the
// hub: GET /status/tsl/1 of a full-size list (131,072 entries) with 1 %
// (1,311) revoked, each request past the freshness window and in a new
// signing window, so every one reads the store, encodes and signs; on
// SQLite and on PostgreSQL.
func BenchmarkStatusListRebuild(b *testing.B) {
	for _, db := range []struct {
		name string
		opts []hubtest.Option
	}{{"sqlite", nil}, {"postgres", []hubtest.Option{hubtest.OnPostgres()}}} {
		b.Run(db.name, func(b *testing.B) {
			h := newHub(b, db.opts...)
			h.seed()
			ctx := context.Background()
			var reqs []*certificates.IssueRequest
			for i := 0; i < 1311; i++ {
				var r certificates.IssueRequest
				raw, _ := json.Marshal(issueBody())
				if err := json.Unmarshal(raw, &r); err != nil {
					b.Fatal(err)
				}
				reqs = append(reqs, &r)
			}
			res, err := h.Certs.IssueBatch(ctx, certificates.Scope{}, reqs)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
				if _, err := h.Certs.Lifecycle(ctx, certificates.Scope{}, r.Certificate.ID, certificates.Revoke, "吊销"); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				h.Clock.Advance(5 * time.Minute)
				resp, err := http.Get(h.Srv.URL + "/status/tsl/1")
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatal(resp.StatusCode)
				}
			}
		})
	}
}
