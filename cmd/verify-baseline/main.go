// Command verify-baseline is the yardstick for the verify benchmark: a bare
// chi endpoint that decodes {"document": "<JWS>"} and does one jwx ES256
// verification with a fixed key, nothing else. docs/benchmarks.md reports
// the hub's POST /api/v1/verify beside it, measured in the same run.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	jwksPath := flag.String("jwks", "", "JWKS file; its first key verifies")
	flag.Parse()
	raw, err := os.ReadFile(*jwksPath)
	if err != nil {
		log.Fatal(err)
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		log.Fatal(err)
	}
	key, ok := set.Key(0)
	if !ok {
		log.Fatal("empty JWKS")
	}
	var pub any
	if err := jwk.Export(key, &pub); err != nil {
		log.Fatal(err)
	}
	r := chi.NewRouter()
	r.Post("/verify", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Document string `json:"document"`
		}
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, err := jws.Verify([]byte(b.Document), jws.WithKey(jwa.ES256(), pub))
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			_, _ = w.Write([]byte(`{"valid":false}`))
			return
		}
		_, _ = w.Write([]byte(`{"valid":true}`))
	})
	log.Printf("verify-baseline on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, r))
}
