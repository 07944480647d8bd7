package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/hubtest"
)

// BenchmarkVerifyDocument measures the service's verify path (signature,
// payload, one point lookup of the status) without HTTP.
func BenchmarkVerifyDocument(b *testing.B) {
	h := newHub(b)
	h.seed()
	var issued struct{ Document string }
	h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued)
	doc := []byte(issued.Document)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if v, err := h.Certs.VerifyDocument(ctx, doc); err != nil || !v.Valid {
				b.Fatal(err, v)
			}
		}
	})
}

// BenchmarkVerifyHTTP measures POST /api/v1/verify through the router and a
// real loopback connection.
func BenchmarkVerifyHTTP(b *testing.B) {
	h := newHub(b, hubtest.Unlimited())
	h.Certs.Cache = certificates.NewStatusCache(1000) // as certhub serve has it
	benchVerifyHTTP(b, h)
}

// benchVerifyHTTP issues a certificate on h and posts its document to
// /api/v1/verify in parallel over loopback.
func benchVerifyHTTP(b *testing.B, h *hub) {
	h.seed()
	var issued struct{ Document string }
	h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued)
	body, _ := json.Marshal(map[string]string{"document": issued.Document})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := http.Post(h.Srv.URL+"/api/v1/verify", "application/json", bytes.NewReader(body))
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

// BenchmarkVerifyHTTPAlgorithms measures POST /api/v1/verify on an ES256
// and an SM2SM3 document of one hub, in one run, like BenchmarkVerifyHTTP:
// the authority seals one certificate with ES256, rotates to SM2 and seals
// another, so the two differ only by their seal.
func BenchmarkVerifyHTTPAlgorithms(b *testing.B) {
	h := newHub(b, hubtest.Unlimited())
	h.seed()
	docs := map[string][]byte{}
	for _, alg := range []string{"ES256", "SM2"} {
		if alg != "ES256" {
			if st := h.call("POST", "/api/v1/authorities/"+marketCode+"/keys/rotate", h.Admin, map[string]string{"algorithm": alg}, nil); st != 201 {
				b.Fatalf("rotate to %s: %d", alg, st)
			}
		}
		var issued struct{ Document string }
		if st := h.call("POST", "/api/v1/certificates", h.Admin, issueBody(), &issued); st != 201 {
			b.Fatalf("issue with %s: %d", alg, st)
		}
		docs[alg], _ = json.Marshal(map[string]string{"document": issued.Document})
	}
	for _, alg := range []string{"ES256", "SM2"} {
		body := docs[alg]
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := http.Post(h.Srv.URL+"/api/v1/verify", "application/json", bytes.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					var v struct{ Valid bool }
					err = json.NewDecoder(resp.Body).Decode(&v)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || !v.Valid {
						b.Fatal(resp.StatusCode, err, v)
					}
				}
			})
		})
	}
}
