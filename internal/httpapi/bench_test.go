package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
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
	h := newHub(b)
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
